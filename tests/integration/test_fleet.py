"""One declared set across a fleet of SSM servers, as docs/fleet.md describes it: an inventory whose hosts are SSM
servers (ssm_url in host_vars, keys and secrets in vault files), shared registries in group_vars, per-server ones in
host_vars, and ONE ansible-playbook run of squirrel.ssm.configure_registries (then check_registries) over eleven
sandboxes that start in different states: empty, already converged, drifted, extra custom rows, legacy rows, SSM
v0.1, a login instead of a key, an override per server, one down and one with a wrong API key."""
import json
import os
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest
import yaml
from ansible.constants import DEFAULT_VAULT_ID_MATCH
from ansible.parsing.vault import VaultLib, VaultSecret

from tests.examples.examples import ROOT, doc_blocks
from tests.integration.conftest import BIN, assert_no_secret, own_writes
from tests.sandbox.ssm_sandbox import CUSTOM_SCHEME, REGISTRY_PROVIDERS, Sandbox

VAULT_PASSWORD = 'fleet-vault-password-31'
USERNAME, PASSWORD = 'fleet@example.com', 'fleet-login-password-42'
SHARED_SECRETS = {'vault_ghcr_token': 'fleet-ghcr-token-1', 'vault_gitlab_token': 'fleet-gitlab-token-2',
                  'vault_harbor_password': 'fleet-harbor-password-3'}
SHARED = [
    {'provider': 'ghcr', 'credentials': {'username': 'octocat', 'token': '{{ vault_ghcr_token }}'}},
    {'provider': 'gitlab', 'credentials': {'token': '{{ vault_gitlab_token }}'}},
    {'provider': 'custom', 'name': 'harbor',
     'credentials': {'url': 'https://harbor.example.com', 'login': 'robot', 'password': '{{ vault_harbor_password }}'}},
    {'provider': 'hub', 'state': 'reset'},
]
OVERRIDE_SECRETS = {'vault_ghcr_token': 'fleet-override-ghcr-4', 'vault_quay_token': 'fleet-override-quay-5'}
OVERRIDE = [
    {'provider': 'ghcr', 'credentials': {'username': 'site-b', 'token': '{{ vault_ghcr_token }}'}},
    {'provider': 'quay', 'credentials': {'namespace': 'siteb', 'account': 'ssm', 'token': '{{ vault_quay_token }}'}},
    {'provider': 'custom', 'name': 'harbor', 'state': 'absent'},
]
# host -> how its sandbox starts and what its host_vars add.
SERVERS = {
    'ssm-empty': {},
    'ssm-fixed': {'sandbox': {'flavour': 'fixed'}},
    'ssm-v01': {'sandbox': {'version': '0.1'}, 'login': True},
    'ssm-login': {'login': True},
    'ssm-converged': {},
    'ssm-drifted': {},
    'ssm-extra': {},
    'ssm-legacy': {'sandbox': {'legacy_rows': True}},
    'ssm-override': {'override': True},
    'ssm-down': {'down': True},
    'ssm-badkey': {'bad_key': True},
}
FAILING = {'ssm-down', 'ssm-badkey'}


def api_key(host):
    return 'fleet-key-%s-7d' % host


def vaulted(data):
    """A whole vars file encrypted with ansible-vault, as `ansible-vault encrypt` writes it."""
    vault = VaultLib([(DEFAULT_VAULT_ID_MATCH, VaultSecret(VAULT_PASSWORD.encode()))])
    return vault.encrypt(yaml.safe_dump(data)).decode()


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


class Fleet:
    def __init__(self, tmp_path, collections):
        self.tmp_path, self.collections = tmp_path, collections
        self.sandboxes, self.down_url = {}, None
        self.secrets = set(SHARED_SECRETS.values()) | set(OVERRIDE_SECRETS.values()) | {PASSWORD, VAULT_PASSWORD,
                                                                                        'legacy-secret-value'}

    def start(self):
        def one(host):
            spec = SERVERS[host]
            return host, Sandbox(api_key=api_key(host), username=USERNAME, password=PASSWORD,
                                 **spec.get('sandbox', {})).start()
        with ThreadPoolExecutor(len(SERVERS)) as pool:
            self.sandboxes = dict(pool.map(one, SERVERS))
        down = self.sandboxes.pop('ssm-down')
        down.stop()
        self.down_url = down.url
        self.secrets.update(api_key(host) for host in SERVERS)
        return self

    def stop(self):
        for sandbox in self.sandboxes.values():
            sandbox.stop()

    def inventory(self):
        """inventory.yml, group_vars/ssm_servers/{vars,vault}.yml, host_vars/<host>/{vars,vault}.yml."""
        root = self.tmp_path / 'inventory'
        hosts = dict((host, None) for host in SERVERS)
        write(root / 'inventory.yml', yaml.safe_dump({'ssm_servers': {'hosts': hosts}}))
        write(root / 'group_vars' / 'ssm_servers' / 'vars.yml',
              yaml.safe_dump({'ssm_registries': SHARED, 'ssm_registries_purge': True}))
        write(root / 'group_vars' / 'ssm_servers' / 'vault.yml', vaulted(SHARED_SECRETS))
        for host, spec in SERVERS.items():
            url = self.down_url if spec.get('down') else self.sandboxes[host].url
            plain, secret = {'ssm_url': url}, {}
            if spec.get('login'):
                plain['ssm_username'] = USERNAME
                secret['ssm_password'] = PASSWORD
            else:
                secret['ssm_api_key'] = 'wrong-fleet-key-0' if spec.get('bad_key') else api_key(host)
            if spec.get('override'):
                plain['ssm_registries_host'] = OVERRIDE
                secret.update(OVERRIDE_SECRETS)
            write(root / 'host_vars' / host / 'vars.yml', yaml.safe_dump(plain))
            write(root / 'host_vars' / host / 'vault.yml', vaulted(secret))
        write(self.tmp_path / 'vault-password', VAULT_PASSWORD + '\n')
        self.secrets.add('wrong-fleet-key-0')
        return root / 'inventory.yml'

    def run(self, playbook, *extra):
        env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=self.collections, ANSIBLE_NOCOLOR='1',
                   PATH=BIN + os.pathsep + os.environ.get('PATH', ''))
        for key in list(env):
            if key.startswith('SSM_'):
                del env[key]
        command = [os.path.join(BIN, 'ansible-playbook'), playbook, '-i', str(self.tmp_path / 'inventory'),
                   '--vault-password-file', str(self.tmp_path / 'vault-password'), '-e', 'ssm_hosts=ssm_servers',
                   '--forks', str(len(SERVERS))] + list(extra)
        proc = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        output = proc.stdout + proc.stderr
        assert_no_secret(output, self.secrets)
        return proc.returncode, output


def recap(output):
    """PLAY RECAP, host -> counts."""
    section = output.rsplit('PLAY RECAP', 1)[1]
    return dict((m.group(1), dict((k, int(v)) for k, v in re.findall(r'(\w+)=(\d+)', m.group(2))))
                for m in re.finditer(r'^(\S+)\s+:(.*)$', section, re.M))


def summary(output, task):
    """The lines of the final summary task, host -> its line."""
    section = output.split('TASK [%s]' % task, 1)[1].split('TASK [', 1)[0]
    lines = json.loads(section[section.index('{'):section.rindex('}') + 1])['msg']
    return dict(line.split(': ', 1) for line in lines)


def expected(host):
    """The merged list of a server with its secrets filled in: name -> declared entry."""
    def fill(entry, secrets):
        entry = json.loads(json.dumps(entry))
        for key, value in entry.get('credentials', {}).items():
            if value.startswith('{{'):
                entry['credentials'][key] = secrets[value.strip('{} ')]
        return entry
    own = [fill(e, OVERRIDE_SECRETS) for e in OVERRIDE] if SERVERS[host].get('override') else []
    own_names = set(e.get('name', e['provider']) for e in own)
    shared = [fill(e, SHARED_SECRETS) for e in SHARED if e.get('name', e['provider']) not in own_names]
    return dict((e.get('name', e['provider']), e) for e in shared + own)


def assert_converged(host, sandbox):
    wanted = expected(host)
    rows = sandbox.rows
    managed = dict((name, row) for name, row in rows.items() if row['provider'] in REGISTRY_PROVIDERS)
    present = dict((name, e) for name, e in wanted.items() if e.get('state', 'present') == 'present')
    assert sorted(name for name, row in managed.items() if row['authSet']) == sorted(present), host
    for name, entry in present.items():
        for field, value in entry['credentials'].items():
            assert rows[name]['auth'][field] == value, (host, name, field)
    for name, entry in wanted.items():
        if entry.get('state') == 'absent':
            assert name not in rows, host
        if entry.get('state') == 'reset':
            assert not rows[name]['authSet'] and not rows[name].get('auth'), (host, name)
    assert [name for name, row in managed.items() if row['provider'] == 'custom'] == \
        [name for name in present if present[name]['provider'] == 'custom'], host


@pytest.fixture
def fleet(tmp_path, collections):
    started = Fleet(tmp_path, collections).start()
    yield started
    started.stop()


def test_one_run_converges_the_fleet_and_names_the_servers_that_failed(fleet):
    fleet.inventory()
    # Starting states: two servers converged by an earlier run, one of them then drifted by hand.
    rc, output = fleet.run('squirrel.ssm.configure_registries', '--limit', 'ssm-converged,ssm-drifted')
    assert rc == 0, output[-3000:]
    drifted = fleet.sandboxes['ssm-drifted']
    drifted.rows['ghcr']['auth']['token'] = 'changed-by-hand'
    del drifted.rows['harbor']
    for name in ('old-nexus', 'old-artifactory'):
        fleet.sandboxes['ssm-extra'].insert_row({
            'name': name, 'provider': 'custom', 'authScheme': CUSTOM_SCHEME, 'authSet': True, 'canAuth': True,
            'canAnonymous': False, 'auth': {'url': 'https://%s.example.com' % name, 'login': 'ci',
                                            'password': 'old-nexus-password'}})
    fleet.secrets.add('old-nexus-password')
    for sandbox in fleet.sandboxes.values():
        sandbox.clear_requests()

    rc, output = fleet.run('squirrel.ssm.configure_registries')
    counts = recap(output)
    assert rc != 0 and sorted(counts) == sorted(SERVERS), output[-5000:]
    assert sorted(host for host, c in counts.items() if c['failed']) == sorted(FAILING), output[-5000:]
    lines = summary(output, 'Summary of every SSM server')
    assert lines['ssm-down'].startswith('FAILED: Converge the registries of SSM: ') and 'connect' in lines['ssm-down']
    assert lines['ssm-badkey'].startswith('FAILED: Converge the registries of SSM: ')
    assert '401' in lines['ssm-badkey'] or 'API key' in lines['ssm-badkey'], lines['ssm-badkey']
    assert lines['ssm-converged'] == 'ok, unchanged'
    for host, sandbox in fleet.sandboxes.items():
        if host in FAILING:
            assert own_writes(sandbox) == [], host
            continue
        assert lines[host] == ('ok, unchanged' if host == 'ssm-converged' else 'ok, changed'), (host, lines)
        assert_converged(host, sandbox)
    assert own_writes(fleet.sandboxes['ssm-converged']) == []
    assert not {'old-nexus', 'old-artifactory'} & set(fleet.sandboxes['ssm-extra'].rows)
    assert {'hotio', 'forjejo'} <= set(fleet.sandboxes['ssm-legacy'].rows)  # purge cannot touch legacy rows
    assert fleet.sandboxes['ssm-badkey'].rows['ghcr']['authSet'] is False

    for sandbox in fleet.sandboxes.values():
        sandbox.clear_requests()
    # -vvvv: every module argument and result shown, and still no secret in the output (Fleet.run checks).
    rc, output = fleet.run('squirrel.ssm.configure_registries', '-vvvv')
    counts = recap(output)
    assert rc != 0 and sorted(host for host, c in counts.items() if c['failed']) == sorted(FAILING), output[-5000:]
    assert all(c['changed'] == 0 for c in counts.values()), counts
    for host, sandbox in fleet.sandboxes.items():
        assert own_writes(sandbox) == [], host


def test_check_registries_reports_per_server(fleet, tmp_path):
    fleet.inventory()
    fleet.run('squirrel.ssm.configure_registries')
    reports = tmp_path / 'reports'
    rc, output = fleet.run('squirrel.ssm.check_registries', '-e', 'check_registries_report_dir=%s' % reports)
    counts = recap(output)
    # SSM v0.1 never registers ghcr or gitlab with credentials: the health check finds them on that server only
    # (docs/problems.md).
    failing = FAILING | {'ssm-v01'}
    assert rc != 0 and sorted(host for host, c in counts.items() if c['failed']) == sorted(failing), output[-5000:]
    lines = summary(output, 'Summary of every SSM server')
    assert lines['ssm-down'].startswith('FAILED: Read and diagnose what SSM stores: cannot reach SSM')
    assert lines['ssm-badkey'].startswith('FAILED: Read and diagnose what SSM stores: ') and '401' in lines['ssm-badkey']
    assert lines['ssm-v01'] == ('FAILED: Fail on problems at or above the threshold: 2 problem(s) at or above error: '
                                'ghcr: not_registered, gitlab: not_registered (docs/problems.md)')
    assert lines['ssm-legacy'] == 'ok, 3 problem(s), none at or above error'
    assert lines['ssm-empty'] == 'ok, 0 problem(s), none at or above error'
    assert sorted(os.listdir(str(reports))) == sorted(host + '.json' for host in SERVERS)
    for host in SERVERS:
        report = json.loads((reports / (host + '.json')).read_text())
        assert report['server'] == host and report['failed'] is (host in failing), report
        if host in FAILING:
            assert report['error'].startswith('Read and diagnose what SSM stores: ')
            continue
        names = sorted(row['name'] for row in report['registries'] if row['auth_set'])
        assert names == sorted(n for n, e in expected(host).items() if e.get('state', 'present') == 'present'), host
    legacy = json.loads((reports / 'ssm-legacy.json').read_text())
    assert legacy['problems_found'] > 0 and 'legacy-secret-value' not in json.dumps(legacy)

    # One file for many servers would be overwritten by each: refused, before any request.
    for sandbox in fleet.sandboxes.values():
        sandbox.clear_requests()
    rc, output = fleet.run('squirrel.ssm.check_registries', '-e', 'check_registries_report=%s' % (tmp_path / 'one.json'))
    assert rc != 0 and 'give check_registries_report_dir instead' in output, output[-3000:]
    assert all(not list(sandbox.requests) for sandbox in fleet.sandboxes.values())


def test_the_layout_of_docs_fleet_md_works_as_written(tmp_path, collections):
    """docs/fleet.md's inventory files, its commands and its own play, as written there, against two sandboxes;
    only the addresses are those of the sandboxes, and a vault password file stands for the prompt."""
    blocks = doc_blocks(os.path.join(ROOT, 'docs', 'fleet.md'))
    files = dict((b.text.split('\n', 1)[0][2:].split(',', 1)[0], b.text) for b in blocks
                 if b.lang == 'yaml' and b.text.startswith('# inventory/'))
    assert sorted(files) == ['inventory/group_vars/ssm_servers/vars.yml', 'inventory/group_vars/ssm_servers/vault.yml',
                             'inventory/host_vars/ssm-lyon/vars.yml', 'inventory/host_vars/ssm-lyon/vault.yml',
                             'inventory/host_vars/ssm-paris/vars.yml', 'inventory/host_vars/ssm-paris/vault.yml',
                             'inventory/hosts.yml']
    keys = dict((host, yaml.safe_load(files['inventory/host_vars/%s/vault.yml' % host])['ssm_api_key'])
                for host in ('ssm-paris', 'ssm-lyon'))
    sandboxes = dict((host, Sandbox(api_key=key).start()) for host, key in keys.items())
    try:
        urls = {'http://ssm.example:8000': sandboxes['ssm-paris'].url, 'https://ssm.internal': sandboxes['ssm-lyon'].url}
        secrets = {VAULT_PASSWORD}
        for name, text in files.items():
            for placeholder, url in urls.items():
                text = text.replace(placeholder, url)
            if name.endswith('/vault.yml'):
                secrets.update(str(v) for v in yaml.safe_load(text).values())
                text = VaultLib([(DEFAULT_VAULT_ID_MATCH, VaultSecret(VAULT_PASSWORD.encode()))]).encrypt(text).decode()
            write(tmp_path / name, text)
        write(tmp_path / 'vault-password', VAULT_PASSWORD + '\n')
        play = [b for b in blocks if b.lang == 'yaml' and not b.text.startswith('# inventory/')]
        assert len(play) == 1 and play[0].kind() == 'play'
        write(tmp_path / 'own.yml', play[0].text)
        commands = [line for b in blocks if b.lang == 'sh' for line in b.text.splitlines() if line.strip()]
        commands.append('ansible-playbook own.yml -i inventory --ask-vault-pass')
        env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collections, ANSIBLE_NOCOLOR='1',
                   PATH=BIN + os.pathsep + os.environ.get('PATH', ''))
        for key in list(env):
            if key.startswith('SSM_'):
                del env[key]

        def run(command):
            command = command.replace('--ask-vault-pass', '--vault-password-file vault-password')
            proc = subprocess.run(command, shell=True, cwd=str(tmp_path), env=env, capture_output=True, text=True,
                                  check=False)
            assert_no_secret(proc.stdout + proc.stderr, secrets)
            assert proc.returncode == 0, command + '\n' + (proc.stdout + proc.stderr)[-4000:]
            return proc.stdout

        assert len(commands) == 3 and 'configure_registries' in commands[0]
        run(commands[0])
        paris, lyon = sandboxes['ssm-paris'].rows, sandboxes['ssm-lyon'].rows
        assert sorted(n for n, r in paris.items() if r['authSet']) == ['ghcr', 'gitlab', 'harbor']
        assert sorted(n for n, r in lyon.items() if r['authSet']) == ['ghcr', 'gitlab', 'quay'] and 'harbor' not in lyon
        assert paris['ghcr']['auth']['username'] == 'octocat' and lyon['ghcr']['auth']['username'] == 'lyon-bot'
        for command in commands:
            for sandbox in sandboxes.values():
                sandbox.clear_requests()
            output = run(command)
            if 'check_registries' in command:  # it writes its reports, and nothing to SSM
                assert all(own_writes(sandbox) == [] for sandbox in sandboxes.values()), command
                continue
            assert re.search(r'ssm-paris\s+: ok=\d+\s+changed=0 ', output) and \
                re.search(r'ssm-lyon\s+: ok=\d+\s+changed=0 ', output), output[-3000:]
            assert all(own_writes(sandbox) == [] for sandbox in sandboxes.values()), command
        for host in sandboxes:
            assert json.loads((tmp_path / 'reports' / (host + '.json')).read_text())['failed'] is False
    finally:
        for sandbox in sandboxes.values():
            sandbox.stop()


def role(**role_vars):
    return {'ansible.builtin.include_role': {'name': 'squirrel.ssm.registries'}, 'vars': role_vars}


def test_the_merge_rules_of_the_role(ansible, sandbox):
    shared = [{'provider': 'ghcr', 'credentials': {'username': 'shared', 'token': 'merge-shared-ghcr-1'}},
              {'provider': 'gitlab', 'credentials': {'token': 'merge-shared-gitlab-2'}}]
    # A built-in named explicitly matches the shared entry named after its provider; reset drops a shared one.
    own = [{'provider': 'ghcr', 'name': 'ghcr', 'credentials': {'username': 'own', 'token': 'merge-own-ghcr-3'}},
           {'provider': 'gitlab', 'state': 'reset'}]
    run = ansible.play(role(ssm_registries=shared, ssm_registries_host=own, ssm_registries_purge=True))
    assert not run[0].get('failed'), run.output[-3000:]
    assert sandbox.rows['ghcr']['auth'] == {'username': 'own', 'token': 'merge-own-ghcr-3'}
    assert not sandbox.rows['gitlab']['authSet']

    # A name twice in one list is still the module's error, naming the item; nothing is written.
    sandbox.clear_requests()
    twice = ansible.play(role(ssm_registries=shared, ssm_registries_host=[own[0], own[0]]))
    assert twice.rc != 0 and 'the registry ghcr is already given as registries[' in twice.output, twice.output[-3000:]
    assert own_writes(sandbox) == []

    # The purge guard looks at the merged list: a per-server list alone is enough, nothing at all is refused.
    alone = ansible.play(role(ssm_registries=[], ssm_registries_host=[own[0]], ssm_registries_purge=True))
    assert not alone[0].get('failed'), alone.output[-3000:]
    sandbox.clear_requests()
    empty = ansible.play(role(ssm_registries=[], ssm_registries_host=[], ssm_registries_purge=True))
    assert empty.rc != 0 and 'ssm_registries (merged with ssm_registries_host) is empty' in empty.output, \
        empty.output[-3000:]
    assert list(sandbox.requests) == []
