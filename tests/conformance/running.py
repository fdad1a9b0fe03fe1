"""A running SSM given by its URL (a staging server to check before an upgrade), seen like the others: the
requests it serves are recorded by a small proxy of ours in front of it, and what it stored before the suite
is put back when the suite ends."""
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests


class RunningSSM:
    label = 'running'

    def __init__(self, url, api_key=None, username=None, password=None):
        self.upstream = url.rstrip('/')
        self.api_key, self.username, self.password = api_key, username, password
        self.session = requests.Session()
        self._requests, self._lock = [], threading.Lock()
        self._server = self.url = self.version = self._saved = None

    def start(self):
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = 'HTTP/1.1'

            def log_message(self, *args):
                pass

            def _forward(self):
                body = self.rfile.read(int(self.headers.get('Content-Length') or 0))
                headers = dict((k, v) for k, v in self.headers.items() if k.lower() not in ('host', 'content-length'))
                answer = requests.request(self.command, proxy.upstream + self.path, data=body or None,
                                          headers=headers, timeout=60, allow_redirects=False, verify=False)
                with proxy._lock:
                    proxy._requests.append({'method': self.command, 'path': self.path.split('?')[0],
                                            'status': answer.status_code})
                self.send_response(answer.status_code)
                for key, value in answer.headers.items():
                    if key.lower() not in ('content-length', 'transfer-encoding', 'connection', 'content-encoding'):
                        self.send_header(key, value)
                self.send_header('Content-Length', str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _forward

        self._server = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.url = 'http://127.0.0.1:%d' % self._server.server_address[1]
        self._login()
        self.version = '0.5' if self.session.get(self.upstream + '/api/container-registries',
                                                 timeout=30).status_code != 404 else '0.1'
        self._saved = self._rows()
        return self

    def _login(self):
        if self.api_key:
            self.session.headers['Authorization'] = 'Bearer ' + self.api_key
        else:
            self.session.post(self.upstream + '/api/users/login', timeout=30,
                              json=dict(username=self.username, password=self.password)).raise_for_status()

    def _base(self):
        return self.upstream + ('/api/containers/registries' if self.version == '0.1' else '/api/container-registries')

    def _call(self, method, name=None, body=None):
        url = self._base() + ('' if name is None else '/' + requests.utils.quote(name, safe=''))
        return self.session.request(method, url, json=body, timeout=30)

    def _rows(self):
        return dict((row['name'], row) for row in self._call('GET').json()['data']['registries'])

    def requests(self):
        with self._lock:
            return list(self._requests)

    def registering(self):
        return None  # SSM's log is not reachable through its API

    def reset(self):
        """The state the suite starts every scenario from: no custom registry, no credentials."""
        for name, row in self._rows().items():
            if row.get('provider') == 'custom':
                self._call('DELETE', name)
            elif row.get('authSet') or row.get('auth'):
                self._call('POST', name, {'auth': {}})
                self._call('PATCH', name)

    def stop(self):
        """Put back what SSM stored before the suite, secrets included, and make it load them."""
        self.reset()
        for name, row in self._saved.items():
            if row.get('provider') == 'custom':
                self._call('PUT', name, {'auth': row.get('auth') or {}, 'authScheme': row.get('authScheme') or []})
            elif row.get('auth'):
                self._call('POST', name, {'auth': row['auth']})
                if not row.get('authSet'):
                    self._call('PATCH', name)
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
