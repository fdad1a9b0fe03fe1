"""The conformance suite: the same scenarios, with the same assertions, against the SSM sandbox (both of its
flavours and its v0.1 mode) and against every real SSM it is given.

Real servers come from SSM_SOURCE (source tarballs or SSM checkouts, separated by ':'), built and started by
tests/realssm, or from a running SSM given by SSM_CONFORMANCE_URL with SSM_CONFORMANCE_API_KEY (or _USERNAME and
_PASSWORD). A running SSM is changed by the suite: give it a staging server, never production. CONFORMANCE_TARGETS
(comma-separated ids: sandbox, real-v0.5.2, running...) keeps only those targets.

Rules for a scenario, so that it also works on a running SSM (tests/conformance/running.py):
- Scenarios on one server never run at once: each xdist worker starts its own sandbox or real server, and every
  test of a running SSM goes to one worker (the scheduler below), which locks that server for its run.
- What only some targets can do is asked for, never assumed: `target.requires('database')` (insert_row: rows no
  client can write), `'log'` (registering(): SSM's own word on reloads), `'restart'`, `'login'` (a username and
  password were given) skips the scenario with a one-line reason; `target.has(...)` to do only part of it.
  Call `target.insert_row(row)` and `target.restart()`, never `target.server.*`.
- The server may already hold rows the scenario did not write: a running SSM is cleared before each scenario only as
  far as its API allows (`target.holds_data` is True there). Assert on the rows the scenario wrote, or compare with
  what the server held when the scenario began; never count every row; a custom name may already exist.
- Never read the database to check a result: read SSM's API (`target.rows()`), as every target can.
"""
import os
import time

import pytest

from tests.harness import Client, writes
from tests.integration.conftest import Ansible, collections_path
from tests.sandbox.ssm_sandbox import Sandbox

SANDBOX_USER, SANDBOX_PASSWORD, SANDBOX_KEY = 'admin@example.com', 'conformance-password-5', 'conformance-key-5c1e'
HOW_TO_RUN = ('real SSM skipped: set SSM_SOURCE=../shared/ssm-server/ssm-v0.5.2.tar.gz (tarballs or SSM git checkouts, '
              "':'-separated), or SSM_CONFORMANCE_URL and SSM_CONFORMANCE_API_KEY for a running staging SSM")
RESULTS = {}
SKIPPED = {}
STARTED = time.time()
# What a target may be unable to do (a running SSM given by URL: none but `login`, when a username is given).
CAPABILITIES = frozenset(['database', 'log', 'restart', 'login'])


class Target:
    """One SSM the scenarios run against, seen the same way whatever it is: its address and credentials,
    the requests it served, its stored rows (read through its own API, as any client would) and the
    registrations it logged."""

    def __init__(self, label, server, kind, version, api_key, username, password):
        self.label, self.server, self.kind, self.version = label, server, kind, version
        self.url = server.url
        self.api_key, self.username, self.password = api_key, username, password
        self._client = None
        self.capabilities = frozenset(getattr(server, 'capabilities', CAPABILITIES))

    # -- what this target can do -------------------------------------------------------------------------------
    @property
    def holds_data(self):
        """True when the server may hold rows the suite did not write (a running SSM: only cleared as far as its API
        allows); a started server or sandbox is back to its fresh rows before each scenario."""
        return self.kind == 'running'

    def has(self, capability):
        assert capability in CAPABILITIES, capability
        return capability in self.capabilities

    def requires(self, *capabilities):
        """Skip the scenario, with a one-line reason, on a target that cannot do one of `capabilities`."""
        for capability in capabilities:
            if not self.has(capability):
                from tests.conformance.running import MISSING
                pytest.skip(MISSING[capability])

    def insert_row(self, row):
        """A raw row straight into SSM's database (for rows no client can write)."""
        self.requires('database')
        return self.server.insert_row(row)

    def restart(self, check=True):
        self.requires('restart')
        return self.server.restart(check=check)

    @property
    def connection(self):
        """What a user of this SSM gives: the API key, or on v0.1 (which refuses keys) a login."""
        if self.version == '0.1' or not self.api_key:
            return dict(ssm_url=self.url, ssm_username=self.username, ssm_password=self.password)
        return dict(ssm_url=self.url, ssm_api_key=self.api_key)

    def requests(self):
        return self.server.requests()

    def writes_since(self, mark):
        return writes(self.requests()[mark:])

    def registering(self):
        """SSM's own word on reloading: the N of each `Registering N registries` it logged; None for a running
        SSM given by URL, whose log is out of reach."""
        return self.server.registering()

    def reset(self):
        self.server.reset()
        self._client = None

    # -- SSM's own API, as a hand-made or older client uses it ---------------------------------------
    @property
    def client(self):
        if self._client is None:
            # A real server is read on its own port, past the proxy, so that only the plays are in the proxy's log.
            self._client = Client(self.server.server_url if self.kind == 'real' else self.url + '/api', self.version,
                                  self.api_key, self.username, self.password)
        return self._client

    def api(self, method, name=None, body=None):
        return self.client.call(method, name, body)

    def rows(self):
        return dict((row['name'], row) for row in self.client.rows())


def _sandbox_target(label, **options):
    def start():
        server = Sandbox(api_key=SANDBOX_KEY, username=SANDBOX_USER, password=SANDBOX_PASSWORD, **options).start()
        return server, Target(label, server, 'sandbox', options.get('version', '0.5'), SANDBOX_KEY, SANDBOX_USER,
                              SANDBOX_PASSWORD)
    return start


def _real_target(source):
    def start():
        from tests.realssm import RealSSM
        server = RealSSM(source).start()
        return server, Target(server.label, server, 'real', server.version, server.api_key, server.username,
                              server.password)
    return start


def _running_target():
    def start():
        from tests.conformance.running import RunningSSM
        env = os.environ
        server = RunningSSM(env['SSM_CONFORMANCE_URL'], env.get('SSM_CONFORMANCE_API_KEY'),
                            env.get('SSM_CONFORMANCE_USERNAME'), env.get('SSM_CONFORMANCE_PASSWORD')).start()
        return server, Target('running', server, 'running', server.version, server.api_key, server.username,
                              server.password)
    return start


def _params():
    params = [pytest.param(_sandbox_target('sandbox'), id='sandbox', marks=pytest.mark.xdist_group('sandbox')),
              pytest.param(_sandbox_target('sandbox-fixed', flavour='fixed'), id='sandbox-fixed',
                           marks=pytest.mark.xdist_group('sandbox')),
              pytest.param(_sandbox_target('sandbox-v0.1', version='0.1'), id='sandbox-v0.1',
                           marks=pytest.mark.xdist_group('sandbox'))]
    sources = [s for s in os.environ.get('SSM_SOURCE', '').split(os.pathsep) if s]
    for source in sources:
        label = os.path.basename(source.rstrip('/')).replace('.tar.gz', '').replace('ssm-', '')
        params.append(pytest.param(_real_target(source), id='real-' + label, marks=pytest.mark.xdist_group(label)))
    if os.environ.get('SSM_CONFORMANCE_URL'):
        params.append(pytest.param(_running_target(), id='running', marks=pytest.mark.xdist_group('running')))
    elif not sources:
        params.append(pytest.param(None, id='real', marks=pytest.mark.skip(reason=HOW_TO_RUN)))
    only = [t.strip() for t in os.environ.get('CONFORMANCE_TARGETS', '').split(',') if t.strip()]
    return [param for param in params if not only or param.id in only]


PARAMS = _params()
TARGET_IDS = [param.id for param in PARAMS]


def group_of(nodeid):
    """'running' for a test of the running SSM (`test_x[running]`, `test_y[README.md:83-running]`), else None.
    pytest-xdist 3.8 marks a group by appending `@group` to the node id, which pytest 9.2 ignores: under
    `--dist loadgroup` every test went to any worker, and a running SSM got two scenarios at once. The other
    targets spread freely: each worker starts its own sandbox or real server."""
    if not nodeid.endswith(']'):
        return None
    params = nodeid[nodeid.rfind('[') + 1:-1]
    if params == 'running' or params.endswith('-running') or params.startswith('running-'):
        return 'running'
    return None


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    if config.getvalue('dist') != 'loadgroup':
        return None
    from xdist.scheduler import LoadGroupScheduling

    class ByTarget(LoadGroupScheduling):
        def _split_scope(self, nodeid):
            return group_of(nodeid) or super(ByTarget, self)._split_scope(nodeid)

    return ByTarget(config, log)


@pytest.fixture(scope='session', params=PARAMS)
def target_server(request):
    server, target = request.param()
    yield target
    server.stop()


@pytest.fixture
def target(target_server):
    target_server.reset()
    return target_server


@pytest.fixture(scope='session')
def collections():
    return collections_path()


class Scenario(Ansible):
    """ansible-playbook against one target, with its connection; counts what each play sent to SSM."""

    def __init__(self, target, tmp_path, collections):
        super(Scenario, self).__init__(target, tmp_path, collections)
        self.target = target

    def play(self, *tasks, **kwargs):
        kwargs.setdefault('connection', self.target.connection)
        mark = len(self.target.requests())
        run = super(Scenario, self).play(*tasks, **kwargs)
        run.requests = self.target.requests()[mark:]
        run.writes = self.target.writes_since(mark)
        return run


@pytest.fixture
def scenario(target, tmp_path, collections):
    return Scenario(target, tmp_path, collections)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Tag each report with (scenario, server), which reaches the controller under pytest-xdist too."""
    outcome = yield
    report = outcome.get_result()
    callspec = getattr(item, 'callspec', None)
    # upgrade_pair: test_upgrade.py's scenarios, on a server of their own (its column: the version it ends on)
    if callspec is None or not set(callspec.params) & {'target_server', 'upgrade_pair'}:
        return
    label = next((p for p in sorted(TARGET_IDS, key=len, reverse=True) if p in callspec.id), callspec.id)
    report.user_properties.append(('conformance', (item.name.split('[')[0], label)))


def pytest_runtest_logreport(report):
    for key, value in report.user_properties:
        if key == 'conformance' and (report.when == 'call' or report.outcome != 'passed'):
            RESULTS[tuple(value)] = report.outcome
            if report.skipped and isinstance(report.longrepr, tuple):
                SKIPPED[tuple(value)] = report.longrepr[2].replace('Skipped: ', '')


def pytest_terminal_summary(terminalreporter):
    if not RESULTS:
        return
    scenarios = sorted(set(scenario for scenario, server in RESULTS))
    servers = sorted(set(server for scenario, server in RESULTS))
    mark = {'passed': 'pass', 'failed': 'FAIL', 'skipped': 'skip'}
    lines = ['| scenario | ' + ' | '.join(servers) + ' |', '|---' * (len(servers) + 1) + '|']
    for name in scenarios:
        lines.append('| %s | %s |' % (name, ' | '.join(mark.get(RESULTS.get((name, t)), '') for t in servers)))
    table = '\n'.join(lines)
    terminalreporter.write_sep('-', 'conformance: scenario x server')
    terminalreporter.write_line(table)
    path = os.environ.get('CONFORMANCE_TABLE')
    if path:
        with open(path, 'a') as handle:
            handle.write(table + '\n')
    if 'running' in servers:
        from tests.conformance.running import staging_report
        text = staging_report(RESULTS, SKIPPED, STARTED)
        terminalreporter.write_sep('-', 'staging check: paste this into the ticket')
        terminalreporter.write_line(text)
