"""RealSSM: the real Squirrel Servers Manager server, built from a source given at test time, with CongoDB,
Redis and an nginx proxy like SSM's own, all on 127.0.0.1 and free ports."""
import atexit
import json
import os
import re
import secrets
import shutil
import tempfile
import threading
import time
import uuid

import requests as http

from tests.harness import Client

from . import procs
from .build import HERE, Source, build, congodb

REGISTRY_ROUTES = ('/container-registries', '/containers/registries')
WRITE_METHODS = ('POST', 'PUT', 'PATCH', 'DELETE')
DEFAULT_ROWS = 10
_LIVE = set()
_LIVE_LOCK = threading.Lock()


class RealSSMError(RuntimeError):
    pass


class ServerDidNotStart(RealSSMError):
    pass


def sources_from_env():
    """The sources named by SSM_SOURCE (os.pathsep-separated tarballs / checkouts); [] when unset."""
    value = os.environ.get('SSM_SOURCE', '').strip()
    return [part for part in value.split(os.pathsep) if part.strip()] if value else []


@atexit.register
def _stop_all():
    with _LIVE_LOCK:
        live = list(_LIVE)
    for ssm in live:
        try:
            ssm.stop()
        except Exception:  # pylint: disable=broad-except
            pass


# The proxy answers this path itself: requests() asks it to know that the log holds every answered request.
SETTLED = '/__settled'
NGINX_CONF = """daemon off;
master_process off;
worker_processes 1;
pid {w}/nginx.pid;
error_log {w}/nginx-error.log warn;
events {{ worker_connections 256; }}
http {{
  client_body_temp_path {w}/nginx-tmp/body;
  proxy_temp_path {w}/nginx-tmp/proxy;
  fastcgi_temp_path {w}/nginx-tmp/fastcgi;
  uwsgi_temp_path {w}/nginx-tmp/uwsgi;
  scgi_temp_path {w}/nginx-tmp/scgi;
  log_format realssm escape=json '$request_method\\t$request_uri\\t$status';
  access_log {w}/access.log realssm;
  server {{
    listen 127.0.0.1:{proxy};
    location /api/ {{
      proxy_pass http://127.0.0.1:{server}/;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header Host $host;
    }}
  }}
}}
"""


class RealSSM:  # pylint: disable=too-many-instance-attributes
    """One real SSM server. `start()` builds (cached), starts everything and creates the first admin."""

    def __init__(self, source, workdir=None):
        self.source = source if isinstance(source, Source) else Source(source)
        self.label = self.source.label
        self.workdir = workdir
        self._own_workdir = workdir is None
        self.instance = None
        self.url = self.server_url = self.api_key = self.username = self.password = self.version = None
        self.info = None
        self.timings = {}
        self.ports = {}
        self._procs = {}
        self._access_offset = 0
        self._log_offset = 0
        self._snapshot = None
        self._collection = None
        self._session = None
        self._mongo = None
        self._env = None
        self.upgraded_from = None

    # ---------------------------------------------------------------- life cycle
    def start(self):
        started = time.monotonic()
        self.info = build(self.source)
        self.timings['build'] = round(time.monotonic() - started, 1)
        self.version = self.info['flavour']
        congo_dir = congodb()
        procs.reap_leftovers()
        self.instance = f'{os.getpid()}-{uuid.uuid4().hex[:8]}'
        if self.workdir is None:
            self.workdir = tempfile.mkdtemp(prefix=f'realssm-{self.label}-')
        os.makedirs(self.workdir, exist_ok=True)
        with _LIVE_LOCK:
            _LIVE.add(self)
        for attempt in range(3):
            try:
                self._start_services(congo_dir)
                t_server = time.monotonic()
                self._start_server()
                self._wait_ready(first=True)
                self.timings['server_ready'] = round(time.monotonic() - t_server, 1)
                self._snapshot = list(self._coll().find({}))
                self._create_admin()
                break
            except RealSSMError as e:
                # A port chosen free was taken by someone else before it was listened on: choose again.
                self._stop_processes()
                if not ('EADDRINUSE' in str(e) or 'did not listen' in str(e)) or attempt == 2:
                    self.stop()
                    raise
            except BaseException:
                self.stop()
                raise
        self.timings['start_total'] = round(time.monotonic() - started, 1)
        return self

    def _start_services(self, congo_dir):
        self._env = None  # a new attempt has new ports
        for name in ('db', 'redis', 'server', 'mcp', 'core', 'proxy', 'prometheus'):
            self.ports[name] = procs.free_port()
        w = self.workdir
        self._procs['congodb'] = procs.spawn(['node', os.path.join(congo_dir, 'congodb.mjs'), str(self.ports['db'])],
                                             self.instance, os.path.join(w, 'congodb.log'), cwd=congo_dir)
        self._procs['redis'] = procs.spawn(
            ['redis-server', '--port', str(self.ports['redis']), '--bind', '127.0.0.1', '--save', '',
             '--appendonly', 'no', '--dir', w, '--daemonize', 'no'],
            self.instance, os.path.join(w, 'redis.log'))
        os.makedirs(os.path.join(w, 'nginx-tmp'), exist_ok=True)
        conf = os.path.join(w, 'nginx.conf')
        with open(conf, 'w') as handle:
            handle.write(NGINX_CONF.format(w=w, proxy=self.ports['proxy'], server=self.ports['server']))
        open(os.path.join(w, 'access.log'), 'a').close()  # pylint: disable=consider-using-with
        self._procs['nginx'] = procs.spawn(['nginx', '-c', conf, '-p', w], self.instance,
                                           os.path.join(w, 'nginx.out'))
        self._pidfile()
        for name, port in (('congodb', 'db'), ('redis', 'redis'), ('nginx', 'proxy')):
            self._wait_port(name, self.ports[port])
        self.url = f'http://127.0.0.1:{self.ports["proxy"]}'
        self.server_url = f'http://127.0.0.1:{self.ports["server"]}'

    def _wait_port(self, name, port, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if procs.port_open(port):
                return
            if self._procs[name].poll() is not None:
                break
            time.sleep(0.05)
        raise RealSSMError(f'{name} did not listen on {port}; see {self.workdir}')

    def _pidfile(self):
        procs.write_pidfile(self.instance, {k: p.pid for k, p in self._procs.items() if p.poll() is None},
                            self.workdir)

    def _server_env(self):
        tree = self.info['tree']
        data = os.path.join(self.workdir, 'ssm-data')
        os.makedirs(data, exist_ok=True)
        env = dict(os.environ)
        env.update({
            'NODE_ENV': 'production',
            'SECRET': 'realssm-secret-' + secrets.token_hex(8),
            'SALT': secrets.token_hex(8),  # 16 characters
            'VAULT_PWD': 'realssm-vault-' + secrets.token_hex(8),
            'DB_HOST': '127.0.0.1', 'DB_PORT': str(self.ports['db']), 'DB_NAME': 'ssm',
            'REDIS_HOST': '127.0.0.1', 'REDIS_PORT': str(self.ports['redis']),
            'PROMETHEUS_HOST': f'http://127.0.0.1:{self.ports["prometheus"]}', 'PROMETHEUS_BASE_URL': '/api/v1',
            'PROMETHEUS_USERNAME': 'user', 'PROMETHEUS_PASSWORD': 'pass',
            'TELEMETRY_ENABLED': 'false',
            'SSM_DATA_PATH': data,
            'SSM_INSTALL_PATH': tree,
            'REALSSM_PORT_MAP': json.dumps({'3000': self.ports['server'], '3001': self.ports['mcp'],
                                            '3002': self.ports['core']}),
        })
        return env

    def _start_server(self):
        if self._env is None:
            self._env = self._server_env()
        argv = ['node', '-r', os.path.join(HERE, 'js', 'portmap.cjs')]
        if self.version == '0.1':
            argv.append('--unhandled-rejections=warn')
        argv.append(os.path.relpath(self.info['entry'] if 'entry' in self.info else self._entry(),
                                    os.path.join(self.info['tree'], 'server')))
        log_path = os.path.join(self.workdir, 'server.log')
        self._procs['server'] = procs.spawn(argv, self.instance, log_path,
                                            cwd=os.path.join(self.info['tree'], 'server'), env=self._env)
        self._pidfile()

    def _entry(self):
        name = 'main.js' if self.version == '0.5' else 'index.js'
        return os.path.join(self.info['tree'], 'server', 'dist', 'src', name)

    def _wait_ready(self, first=False, timeout=60):
        """Ready: /ping answers and the default registry rows exist (written just after start)."""
        deadline = time.monotonic() + timeout
        server = self._procs['server']
        pinged = False
        while time.monotonic() < deadline:
            if server.poll() is not None:
                raise ServerDidNotStart(f'SSM {self.label} exited with {server.returncode} while starting:\n'
                                        + self.log_tail())
            if not pinged:
                try:
                    pinged = http.get(self.server_url + '/ping', timeout=1).status_code < 500
                except http.RequestException:
                    pass
            if pinged:
                if not first:
                    return
                try:
                    if self._coll().count_documents({}) >= DEFAULT_ROWS:
                        time.sleep(0.2)  # the rows are written one by one
                        if self._coll().count_documents({}) >= DEFAULT_ROWS:
                            return
                except Exception:  # pylint: disable=broad-except
                    pass
            time.sleep(0.1)
        raise ServerDidNotStart(f'SSM {self.label} did not become ready in {timeout}s:\n' + self.log_tail())

    def _create_admin(self):
        self.username = 'admin@example.com'
        self.password = 'Realssm-' + secrets.token_hex(6) + '!A1'
        body = {'name': 'realssm admin', 'email': self.username, 'password': self.password}
        if self.version == '0.5':
            body['role'] = 'admin'
        answer = http.post(self.server_url + '/users', json=body, timeout=15)
        if answer.status_code not in (200, 201):
            raise RealSSMError(f'creating the first user failed: {answer.status_code} {answer.text[:500]}')
        if self.version == '0.5':
            self.api_key = (answer.json().get('data') or {}).get('apiKey')
            if not self.api_key:
                current = self._client().get(self.server_url + '/users/current', timeout=15).json()
                self.api_key = current['data']['settings']['apiKey']

    def _stop_processes(self):
        for name in ('server', 'nginx', 'redis', 'congodb'):
            proc = self._procs.pop(name, None)
            if proc is not None:
                procs.kill(proc.pid, grace=1.0 if name in ('server', 'congodb') else 3.0)
        if self._mongo is not None:
            self._mongo.close()
            self._mongo = None

    def stop(self):
        self._stop_processes()
        if self.instance:
            procs.remove_pidfile(self.instance)
        with _LIVE_LOCK:
            _LIVE.discard(self)
        if self._own_workdir and self.workdir and not os.environ.get('REALSSM_KEEP'):
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None

    def pids(self):
        """The PIDs of the running processes, by name (server, nginx, redis, congodb)."""
        return {name: proc.pid for name, proc in self._procs.items() if proc.poll() is None}

    def restart(self, check=True):
        """Restart the node server only (the database is kept). True when it is up again; when it does not come
        up: raises ServerDidNotStart (with the log tail), or returns False when check=False."""
        proc = self._procs.pop('server', None)
        if proc is not None:
            procs.kill(proc.pid, grace=0.5)
        self._session = None
        with open(os.path.join(self.workdir, 'server.log'), 'a') as handle:
            handle.write('\n[realssm] restart\n')
        self._start_server()
        try:
            self._wait_ready(timeout=45)
            # /ping can answer before start-up has finished: wait for the registries to be registered.
            self._settle()
        except ServerDidNotStart:
            if check:
                raise
            return False
        return True

    def upgrade(self, source, check=True):
        """Swap the server on the running database, as an upgrade does: stop this SSM's node process, keep
        CongoDB, Redis and the proxy with their data (the rows, the users, SSM_DATA_PATH) and the server's
        SECRET/SALT/VAULT_PWD (an upgraded container keeps its environment), then start `source` (any source;
        built and cached like start()'s) on them. Afterwards .source, .label, .version, .info describe the new
        server, .upgraded_from the old label; .api_key is the existing admin's key if the new server shows one;
        log()/registering() start at the swap (the old server's log stays in log(full=True)); requests() too.
        True when the new server is up; when it does not come up: raises ServerDidNotStart (with the log
        tail), or returns False when check=False. reset() afterwards restores the rows of the first start."""
        new = source if isinstance(source, Source) else Source(source)
        started = time.monotonic()
        info = build(new)
        old_label = self.label
        proc = self._procs.pop('server', None)
        if proc is not None:
            procs.kill(proc.pid, grace=0.5)
        self.source, self.label, self.info, self.version = new, new.label, info, info['flavour']
        self.upgraded_from = old_label
        # The secrets stay (the old JWTs and vault stay readable); only the install path is the new tree's.
        self._env = dict(self._env, SSM_INSTALL_PATH=info['tree'])
        self._session = None
        self._collection = None
        log_path = os.path.join(self.workdir, 'server.log')
        with open(log_path, 'a') as handle:
            handle.write(f'\n[realssm] upgrade {old_label} -> {self.label}\n')
        self._log_offset = os.path.getsize(log_path)
        self.clear_requests()
        self._start_server()
        try:
            self._wait_ready(timeout=60)
            self._settle(quiet=1.0, timeout=20)
        except ServerDidNotStart:
            if check:
                raise
            return False
        self.api_key = None
        if self.version == '0.5':
            try:
                current = self._client().get(self.server_url + '/users/current', timeout=15).json()
                self.api_key = ((current.get('data') or {}).get('settings') or {}).get('apiKey')
            except (http.RequestException, ValueError):
                pass
            self._session = None  # the next client uses the key when there is one
        self.timings['upgrade'] = round(time.monotonic() - started, 1)
        return True

    def settle(self, quiet=1.0, timeout=20):
        """Wait until the server's log has been quiet for `quiet` seconds: SSM logs asynchronously, and v0.1
        reloads after it has answered, so the log can lag a write by a reload or two."""
        self._settle(quiet=quiet, timeout=timeout)

    def _settle(self, quiet=0.4, timeout=10):
        """Wait until the server log has been quiet for `quiet` seconds (or `timeout`)."""
        path = os.path.join(self.workdir, 'server.log')
        deadline = time.monotonic() + timeout
        size, since = -1, time.monotonic()
        while time.monotonic() < deadline:
            server = self._procs.get('server')
            if server is None or server.poll() is not None:
                raise ServerDidNotStart(f'SSM {self.label} exited ({server and server.returncode}):\n'
                                        + self.log_tail())
            now = os.path.getsize(path)
            if now != size:
                size, since = now, time.monotonic()
            elif time.monotonic() - since >= quiet:
                return
            time.sleep(0.05)

    # ---------------------------------------------------------------- state
    def reset(self, hard=False):
        """Back to a fresh server's state, in about a second: the registry rows are restored to those the
        server wrote at its first start (same _ids and timestamps) and SSM reloads its registries from them, as
        at start-up (v0.5: PUT then DELETE of a temporary custom registry; v0.1: PATCH of a pristine built-in
        row, then the rows are restored again), on the server's own port so the proxy log does not show it.
        The users are kept (API key, cookies still valid); requests(), log() and registering() start afresh.
        hard=True (or a server that is down or fails to reload) restarts the node server instead."""
        self._restore_rows()
        server = self._procs.get('server')
        before = len(self.registering(full=True))
        if hard or server is None or server.poll() is not None or not self._reload(before):
            self._restore_rows()
            self._log_offset = os.path.getsize(os.path.join(self.workdir, 'server.log'))
            self.restart()
        self._log_offset = os.path.getsize(os.path.join(self.workdir, 'server.log'))
        self.clear_requests()
        return self

    def _restore_rows(self):
        coll = self._coll()
        coll.delete_many({})
        if self._snapshot:
            coll.insert_many([dict(doc) for doc in self._snapshot])

    def _reload(self, before):
        """Make SSM reload its registries from the database; False when that did not work. Waits until the
        log shows the reloads (the server's logger writes asynchronously)."""
        expected = before + (2 if self.version == '0.5' else 1)
        if not self._reload_requests():
            return False
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if len(self.registering(full=True)) >= expected:
                time.sleep(0.05)
                return True
            time.sleep(0.02)
        return False

    def _reload_requests(self):
        try:
            client = self._client()
            if self.version == '0.5':
                temp = 'realssm-reset-' + secrets.token_hex(4)
                put = client.put(f'{self.server_url}/container-registries/{temp}', timeout=30,
                                 json={'auth': {'url': 'https://realssm.invalid'}, 'authScheme': []})
                gone = client.delete(f'{self.server_url}/container-registries/{temp}', timeout=30)
                self._coll().delete_many({'name': temp})
                return put.status_code == 200 and gone.status_code == 200
            pristine = next((d['name'] for d in self._snapshot or []
                             if not d.get('authSet') and 'auth' not in d), None)
            if pristine is None:
                return False
            answer = client.patch(f'{self.server_url}/containers/registries/{pristine}/', timeout=30)
            self._restore_rows()
            return answer.status_code == 200
        except http.RequestException:
            return False

    def insert_row(self, row):
        """Write a raw row into the registry collection (e.g. a legacy provider such as 'hotio'). The API's GET
        reads the database, so it shows the row at once; SSM registers it at its next reload or restart."""
        row = dict(row)
        return self._coll().insert_one(row).inserted_id

    def rows(self):
        """The registry rows, as GET answers them to the admin (on the server's own port: not in requests())."""
        if self.version == '0.5':
            answer = self._client().get(self.server_url + '/container-registries', timeout=15)
        else:
            answer = self._client().get(self.server_url + '/containers/registries/', timeout=15)
        answer.raise_for_status()
        data = answer.json().get('data')
        if isinstance(data, dict) and 'registries' in data:
            data = data['registries']
        return data

    def db_rows(self):
        """The registry rows straight from the database (pymongo documents)."""
        return list(self._coll().find({}))

    def _client(self):
        if self._session is None:
            self._session = Client(self.server_url, self.version, self.api_key, self.username, self.password).session
        return self._session

    def _coll(self):
        if self._mongo is None:
            import pymongo  # pylint: disable=import-outside-toplevel
            self._mongo = pymongo.MongoClient('127.0.0.1', self.ports['db'], directConnection=True,
                                              serverSelectionTimeoutMS=5000)
        database = self._mongo['ssm']
        if self._collection is None:
            names = [n for n in database.list_collection_names() if 'registr' in n.lower()]
            if not names:
                return _Empty()
            self._collection = sorted(names, key=len)[0]
        return database[self._collection]

    # ---------------------------------------------------------------- observation
    def requests(self):
        """What the proxy saw since start or clear_requests(): [{method, path (as requested), status}]."""
        seen = []
        for line in self._settled_log().splitlines():
            parts = line.split('\t')
            if len(parts) == 3 and not parts[1].startswith(SETTLED):
                seen.append({'method': parts[0], 'path': parts[1], 'status': int(parts[2])})
        return seen

    def _settled_log(self):
        """The access log once every request answered so far is in it. nginx (one process) logs a request as it
        finishes answering it, so when a marker request sent now is logged, so is every request answered before."""
        marker = '%s?%s' % (SETTLED, uuid.uuid4().hex)
        try:
            http.get(self.url + marker, timeout=10)
        except http.RequestException:
            marker = None  # the proxy is down: nothing more will land
        deadline = time.monotonic() + 10
        while True:
            with open(os.path.join(self.workdir, 'access.log'), 'rb') as handle:
                handle.seek(self._access_offset)
                text = handle.read().decode('utf-8', 'replace')
            if marker is None or marker in text or time.monotonic() > deadline:
                return text
            time.sleep(0.005)

    def clear_requests(self):
        self._access_offset = os.path.getsize(os.path.join(self.workdir, 'access.log'))

    def writes(self):
        """The writes (POST/PUT/PATCH/DELETE) to the registry routes among requests()."""
        return [r for r in self.requests()
                if r['method'] in WRITE_METHODS and any(route in r['path'] for route in REGISTRY_ROUTES)]

    def log(self, full=False):
        """The server's log since start or the last reset() (full=True: all of it, restarts included)."""
        path = os.path.join(self.workdir, 'server.log')
        with open(path, 'rb') as handle:
            handle.seek(0 if full else self._log_offset)
            return handle.read().decode('utf-8', 'replace')

    def log_tail(self, lines=40):
        try:
            return '\n'.join(self.log(full=True).splitlines()[-lines:])
        except OSError:
            return '(no server log)'

    def registering(self, full=False):
        """How many registries each reload registered, in order (since start or the last reset()).
        v0.5: N of each `Registering N registries` line (rows with authSet: true, hub included).
        v0.1: each reload logs `Configuration registered will be processed...` then one
        `Registering "<provider>/<name>" component...` per registry: N is the count of those lines."""
        text = _strip_ansi(self.log(full=full))
        if self.version == '0.5':
            return [int(n) for n in re.findall(r'Registering (\d+) registries', text)]
        counts = []
        for line in text.splitlines():
            if 'Configuration registered will be processed' in line:
                counts.append(0)
            elif counts:
                found = re.search(r'Registering "([^"/]+)/', line)
                if found and found.group(1) != 'docker':
                    counts[-1] += 1
        return counts

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def __repr__(self):
        return f'<RealSSM {self.label} {self.url or "stopped"}>'


class _Empty:  # a collection that does not exist yet
    @staticmethod
    def count_documents(_query):
        return 0

    @staticmethod
    def find(_query):
        return []


def _strip_ansi(text):
    return re.sub(r'\x1b\[[0-9;]*m', '', text)
