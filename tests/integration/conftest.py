"""Integration tests: real ansible-playbook runs of the built and installed collection against the SSM sandbox."""
import base64
import json
import os
import subprocess
import sys
import tempfile
from urllib.parse import quote, quote_plus

import pytest

from tests.harness import sandbox_fixtures

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)
API_KEY = 'it-api-key-5b1f0c'
USERNAME = 'ops@example.com'
PASSWORD = 'it-login-password-77'


def collections_path():
    """The collection as users get it: built and installed (`make build`), else built here once."""
    path = os.environ.get('ANSIBLE_COLLECTIONS_PATH', '').split(os.pathsep)[0]
    if path and os.path.isdir(os.path.join(path, 'ansible_collections', 'squirrel', 'ssm')):
        return path
    path = tempfile.mkdtemp(prefix='squirrel-ssm-')
    subprocess.check_call([os.path.join(BIN, 'ansible-galaxy'), 'collection', 'build', '--output-path', path, ROOT],
                          stdout=subprocess.DEVNULL)
    tarball = [f for f in os.listdir(path) if f.endswith('.tar.gz')][0]
    subprocess.check_call([os.path.join(BIN, 'ansible-galaxy'), 'collection', 'install', '-p', path,
                           os.path.join(path, tarball)], stdout=subprocess.DEVNULL)
    return path


# Values that must never reach any output, wherever a test passes them.
SECRET_KEYS = {'ssm_api_key', 'ssm_password', 'password', 'token', 'auth', 'clientsecret', 'secretaccesskey',
               'privatekey', 'AWS_SECRET_ACCESS_KEY', 'SSM_API_KEY', 'SSM_PASSWORD'}
ALWAYS_SECRET = {API_KEY, PASSWORD, 'legacy-secret-value'}


def own_writes(sandbox):
    """The writes a run made to the registries it manages: without the short-lived registry that makes SSM
    load its registries again (tests/conformance proves that one)."""
    return [w for w in sandbox.writes() if 'squirrel-ssm-reload-' not in w['path']]


def secrets_in(value, found=None):
    """Every secret value in task arguments, play vars or an environment."""
    found = set() if found is None else found
    if isinstance(value, dict):
        for key, inner in value.items():
            if key in SECRET_KEYS and isinstance(inner, str) and len(inner) >= 6:
                found.add(inner)
            else:
                secrets_in(inner, found)
    elif isinstance(value, (list, tuple)):
        for inner in value:
            secrets_in(inner, found)
    return found


def _base64_forms(secret):
    """The secret as it shows inside any base64 text (a Basic header holds base64 of login:secret): its
    encoding at each of the three byte alignments, without the characters the neighbours share."""
    raw = secret.encode('utf-8')
    forms = set()
    for shift in range(3):
        encoded = base64.b64encode(b'\0' * shift + raw).decode('ascii').rstrip('=')
        start = 4 if shift else 0
        end = len(encoded) - (len(encoded) % 4 or 4) if (shift + len(raw)) % 3 else len(encoded)
        middle = encoded[start:end]
        if len(middle) >= 8:
            forms.add(middle)
    return forms


def secret_forms(secret):
    """Every spelling in which a secret value could leak: as is, stripped, escaped (repr, JSON),
    URL-encoded and base64-encoded."""
    forms = {secret, secret.replace('\n', '\\n'), repr(secret)[1:-1], json.dumps(secret)[1:-1],
             json.dumps(secret, ensure_ascii=False)[1:-1], quote(secret, safe=''), quote_plus(secret),
             quote(secret)}
    if len(secret.strip()) >= 6:
        forms.add(secret.strip())
    forms.update(_base64_forms(secret))
    return set(form for form in forms if form)


def assert_no_secret(text, secrets):
    leaked = [s for s in secrets if any(form in text for form in secret_forms(s))]
    assert not leaked, 'secret values leaked into the output (as is, escaped, URL-encoded or base64)'


class Run:
    def __init__(self, rc, output, results):
        self.rc = rc
        self.output = output
        self.results = results

    def __getitem__(self, index):
        assert self.results, 'the play collected no results:\n' + self.output[-3000:]
        return self.results[index]


class Ansible:
    def __init__(self, sandbox, tmp_path, collections):
        self.sandbox = sandbox
        self.tmp_path = tmp_path
        self.collections = collections
        self.runs = 0

    def env(self, extra=None):
        env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=self.collections, ANSIBLE_NOCOLOR='1',
                   ANSIBLE_LOCALHOST_WARNING='0', ANSIBLE_INVENTORY_UNPARSED_WARNING='0',
                   ANSIBLE_DEPRECATION_WARNINGS='1', ANSIBLE_PIPELINING='1', PATH=BIN + os.pathsep + os.environ.get('PATH', ''))
        for key in list(env):
            if key.startswith('SSM_'):
                del env[key]
        env.update(extra or {})
        return env

    def play(self, *tasks, connection='default', check=False, diff=True, verbosity=4, env=None, play_vars=None,
             play_extra=None, secrets=()):
        """Run tasks in one playbook; each task's registered result is returned in order. Failing tasks
        do not stop the play: their result says failed. Every play runs at -vvvv --diff and is audited:
        no secret value it was given may appear anywhere in its output."""
        self.runs += 1
        out = self.tmp_path / ('results-%d.json' % self.runs)
        play = dict(hosts='localhost', gather_facts=False, tasks=[])
        if connection == 'default':
            connection = dict(ssm_url=self.sandbox.url, ssm_api_key=API_KEY)
        if connection:
            play['module_defaults'] = {'group/squirrel.ssm.ssm': connection}
        if play_vars:
            play['vars'] = play_vars
        play.update(play_extra or {})
        for index, task in enumerate(tasks):
            task = dict(task)
            task.setdefault('name', 'task %d' % index)
            task['register'] = 'r%d' % index
            task['ignore_errors'] = True
            play['tasks'].append(task)
        collected = '{' + ', '.join("'r%d': r%d" % (i, i) for i in range(len(tasks))) + '}'
        play['tasks'].append({'name': 'collect', 'check_mode': False, 'ansible.builtin.copy': {
            'content': '{{ %s | to_json }}' % collected, 'dest': str(out)}})
        playbook = self.tmp_path / ('play-%d.yml' % self.runs)
        playbook.write_text(json.dumps([play]))
        command = [os.path.join(BIN, 'ansible-playbook'), str(playbook)]
        if check:
            command.append('--check')
        if diff:
            command.append('--diff')
        if verbosity:
            command.append('-' + 'v' * verbosity)
        proc = subprocess.run(command, env=self.env(env), capture_output=True, text=True, check=False)
        output = proc.stdout + proc.stderr
        assert_no_secret(output, ALWAYS_SECRET | set(secrets) | secrets_in([tasks, connection, play_vars, env]))
        results = []
        if out.exists():
            data = json.loads(out.read_text())
            results = [data['r%d' % i] for i in range(len(tasks))]
        return Run(proc.returncode, output, results)

    def adhoc(self, module, args, env=None, secrets=()):
        command = [os.path.join(BIN, 'ansible'), 'localhost', '-m', module, '-a', args]
        proc = subprocess.run(command, env=self.env(env), capture_output=True, text=True, check=False)
        assert_no_secret(proc.stdout + proc.stderr, ALWAYS_SECRET | set(secrets) | secrets_in([args, env]))
        return Run(proc.returncode, proc.stdout + proc.stderr, [])


@pytest.fixture(scope='session')
def collections():
    return collections_path()


sandbox_server, sandbox = sandbox_fixtures('sandbox', api_key=API_KEY, username=USERNAME, password=PASSWORD,
                                           legacy_rows=True)


@pytest.fixture
def ansible(sandbox, tmp_path, collections):
    return Ansible(sandbox, tmp_path, collections)
