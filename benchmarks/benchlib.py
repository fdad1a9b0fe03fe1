"""What the two benchmarks of `make bench` share (bench.py, one SSM; fleet.py, a fleet of them): the registries they
converge, the private copy of the installed collection they run, the environment of their ansible-playbook runs, the
check of what a server stores, the machine they ran on and the writer of their tables into docs/performance.md."""
import datetime
import os
import platform
import shutil
import statistics
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(sys.executable)
PLAYBOOKS = os.path.join(ROOT, 'benchmarks', 'playbooks')
DOC = os.path.join(ROOT, 'docs', 'performance.md')

PEM = '-----BEGIN ' + 'PRIVATE KEY-----\nMIIBVgIBADANBgkqhkiG9w0BAQEFAASCAUAwggE8\n-----END ' + 'PRIVATE KEY-----\n'
# The ten built-in providers with credentials SSM should store (placeholders); the order they are used in.
BUILTINS = [
    ('ghcr', {'username': 'octocat', 'token': 'bench-ghcr-token'}),
    ('gitlab', {'url': 'https://registry.gitlab.com', 'authurl': 'https://gitlab.com', 'token': 'bench-gl-token'}),
    ('quay', {'namespace': 'myorg', 'account': 'ssm', 'token': 'bench-quay-token'}),
    ('ecr', {'accesskeyid': 'AKIAIOSFODNN7EXAMPLE', 'secretaccesskey': 'bench-aws-secret', 'region': 'eu-west-1'}),
    ('hub', {'login': 'johndoe', 'password': 'bench-hub-token'}),
    ('acr', {'clientid': '5f1c9e1e-0000-4000-8000-000000000001', 'clientsecret': 'bench-acr-secret'}),
    ('gcr', {'clientemail': 'ssm@project.iam.gserviceaccount.com', 'privatekey': PEM}),
    ('lscr', {'username': 'octocat', 'token': 'bench-lscr-token'}),
    ('gitea', {'url': 'https://gitea.example.com', 'login': 'deploy', 'password': 'bench-gitea-password'}),
    ('forgejo', {'url': 'https://forgejo.example.com', 'login': 'deploy', 'password': 'bench-forgejo-password'}),
]


class Failure(Exception):
    """A run failed or left a wrong state: the numbers would mean nothing, the benchmark stops."""


def builtin_count(n):
    return min(len(BUILTINS), (n + 1) // 2)


def registries(n):
    """N registries: built-ins first (at most the ten, about half of a small set), the rest custom."""
    builtins = builtin_count(n)
    items = [dict(provider=p, name=p, credentials=dict(c)) for p, c in BUILTINS[:builtins]]
    for i in range(n - builtins):
        name = 'bench-%03d' % (i + 1)
        items.append(dict(provider='custom', name=name, credentials={
            'url': 'https://%s.registry.example.com' % name, 'login': 'robot-%03d' % (i + 1),
            'password': 'bench-secret-%03d' % (i + 1)}))
    return items


def wrong_state(rows, items):
    """(names of `items` not stored with their credentials, names stored that are neither built-in nor wanted)."""
    wrong = [i['name'] for i in items if i['name'] not in rows or rows[i['name']].get('auth') != i['credentials']
             or not rows[i['name']].get('authSet')]
    expected = set(p for p, dummy in BUILTINS) | set(i['name'] for i in items)
    return wrong, sorted(set(rows) - expected)


SNAPSHOT = []  # the private copy of the installed collection, once taken


def installed_collections():
    return os.environ.get('ANSIBLE_COLLECTIONS_PATH', '').split(os.pathsep)[0] or \
        os.path.join(ROOT, 'build', 'collections')


def snapshot(tmp):
    """Copy the collection `make build` installed, so a rebuild by someone else mid-benchmark cannot pull it away."""
    source = os.path.join(installed_collections(), 'ansible_collections', 'squirrel', 'ssm')
    if not os.path.isdir(source):
        raise Failure('no installed collection at %s: run `make bench` (it builds and installs it first)' % source)
    target = os.path.join(tmp, 'collections')
    shutil.copytree(source, os.path.join(target, 'ansible_collections', 'squirrel', 'ssm'))
    SNAPSHOT[:] = [target]


def collections_path():
    return SNAPSHOT[0] if SNAPSHOT else installed_collections()


def env():
    result = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collections_path(), ANSIBLE_NOCOLOR='1',
                  ANSIBLE_LOCALHOST_WARNING='0', ANSIBLE_INVENTORY_UNPARSED_WARNING='0',
                  PATH=BIN + os.pathsep + os.environ.get('PATH', ''))
    for key in list(result):
        if key.startswith('SSM_'):
            del result[key]
    return result


def note_load(loads):
    """The 1-minute load average after a run: how busy the machine was meanwhile."""
    if hasattr(os, 'getloadavg'):
        loads.append(os.getloadavg()[0])


def machine(loads):
    try:
        from ansible.release import __version__ as ansible_version
    except ImportError:
        ansible_version = 'unknown'
    cpu = platform.processor() or platform.machine()
    try:
        with open('/proc/cpuinfo', encoding='utf-8') as fh:
            for line in fh:
                if line.startswith('model name'):
                    cpu = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    nproc = len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count()
    return dict(date=datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC'),
                load=[min(loads), statistics.median(loads), max(loads)] if loads else None, nproc=nproc, cpu=cpu,
                python=platform.python_version(), ansible=ansible_version,
                os='%s %s' % (platform.system(), platform.release()))


def write_doc(table, start, end):
    if os.path.exists(DOC):
        with open(DOC, encoding='utf-8') as fh:
            text = fh.read()
    else:
        text = '# Performance\n\n%s\n%s\n' % (start, end)
    if start not in text or end not in text:
        text = text.rstrip('\n') + '\n\n%s\n%s\n' % (start, end)
    head, rest = text.split(start, 1)
    tail = rest.split(end, 1)[1]
    with open(DOC, 'w', encoding='utf-8') as fh:
        fh.write('%s%s\n%s\n%s%s' % (head, start, table, end, tail))
