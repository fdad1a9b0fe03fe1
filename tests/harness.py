"""What the test suites share to reach an SSM: the SSM sandbox started for a test module or session and reset for
each test (tests/contract, tests/integration, tests/examples), SSM's registry API called with credentials as a client
does (tests/conformance's targets, the running SSM and the real-server launcher), the writes among the requests a
server served, private TLS certificates and small local HTTP servers."""
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from tests.sandbox.ssm_sandbox import Sandbox

WRITE_METHODS = ('POST', 'PUT', 'PATCH', 'DELETE')


def sandbox_fixtures(name, scope='session', **options):
    """Two fixtures: `<name>_server`, a Sandbox(**options) started once for `scope`, and `<name>`, that sandbox
    reset for each test. Assign both to module names: `sb_server, sb = sandbox_fixtures('sb', ...)`."""
    def started():
        with Sandbox(**options) as server:
            yield server

    def fresh(request):
        server = request.getfixturevalue(name + '_server')
        server.reset()
        return server

    return pytest.fixture(scope=scope, name=name + '_server')(started), pytest.fixture(name=name)(fresh)


class SSMRefused(RuntimeError):
    """SSM refused the login, or to list its registries."""


class Client:
    """SSM's registry API as a client uses it, under `api` (SSM's URL + '/api', or its server's own port): with the
    API key as a Bearer token, or with a login where no key is given and on v0.1 (which refuses keys). Logs in at the
    first call; `version` may be set later (None: v0.5 paths)."""

    def __init__(self, api, version=None, api_key=None, username=None, password=None):
        self.api, self.version = api.rstrip('/'), version
        self.api_key, self.username, self.password = api_key, username, password
        self._session = None

    @property
    def session(self):
        if self._session is None:
            session = requests.Session()
            if self.api_key and self.version != '0.1':
                session.headers['Authorization'] = 'Bearer ' + self.api_key
            else:
                answer = session.post(self.api + '/users/login', timeout=30,
                                      json=dict(username=self.username, password=self.password))
                if answer.status_code not in (200, 201):
                    raise SSMRefused('%s refused the login (%s)' % (self.api, answer.status_code))
            self._session = session
        return self._session

    def call(self, method, name=None, body=None):
        base = self.api + ('/containers/registries' if self.version == '0.1' else '/container-registries')
        url = base + ('' if name is None else '/' + requests.utils.quote(name, safe=''))
        return self.session.request(method, url, json=body, timeout=30)

    def rows(self):
        """Every stored row, in SSM's order."""
        answer = self.call('GET')
        if answer.status_code != 200:
            raise SSMRefused('%s answered %s to GET of its registries' % (self.api, answer.status_code))
        return answer.json()['data']['registries']


def writes(served):
    """The writes among requests served ({method, path, status}), as (method, registry name, status); logins left
    out."""
    return [(r['method'], r['path'].rstrip('/').rsplit('/', 1)[-1], r['status'])
            for r in served if r['method'] in WRITE_METHODS and '/users/' not in r['path']]


def private_ca(tmp_path, name='server'):
    """A private CA and a certificate for 127.0.0.1 and localhost it signed, in tmp_path: (<name>.pem, its chain;
    <name>.key, its key; <name>-ca.pem, the CA), as paths."""
    trustme = pytest.importorskip('trustme')
    ca = trustme.CA()
    cert = ca.issue_cert('127.0.0.1', 'localhost')
    paths = tuple(str(tmp_path / (name + suffix)) for suffix in ('.pem', '.key', '-ca.pem'))
    cert.cert_chain_pems[0].write_to_path(paths[0])
    cert.private_key_pem.write_to_path(paths[1])
    ca.cert_pem.write_to_path(paths[2])
    return paths


def tls_sandbox(tmp_path, **options):
    """A Sandbox(**options), not started, that serves HTTPS with a certificate of a private CA: (it, the CA's file)."""
    cert, key, ca = private_ca(tmp_path)
    return Sandbox(tls_cert=cert, tls_key=key, **options), ca


def serve(handle, tls=None):
    """A local HTTP/1.1 server on a free port that calls handle(handler, body) for every request; `tls`: an
    ssl.SSLContext. Returns (server, url); stop with server.shutdown() and server.server_close()."""
    class Handler(BaseHTTPRequestHandler):
        protocol_version = 'HTTP/1.1'

        def log_message(self, *args):
            pass

        def _handle(self):
            handle(self, self.rfile.read(int(self.headers.get('Content-Length') or 0)))

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

    server = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
    server.daemon_threads = True
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, '%s://127.0.0.1:%d' % ('https' if tls else 'http', server.server_address[1])
