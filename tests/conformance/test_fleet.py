"""The fleet form on every SSM of the suite: one ansible-playbook run of squirrel.ssm.configure_registries over an
inventory whose hosts are the target server, an SSM sandbox and a server that is down; shared registries in
group_vars, the target's own in host_vars (docs/fleet.md)."""
import os
import re
import subprocess

import yaml

from tests.integration.conftest import BIN, assert_no_secret
from tests.sandbox.ssm_sandbox import Sandbox

SHARED = [
    {'provider': 'ghcr', 'credentials': {'username': 'octocat', 'token': 'conformance-fleet-ghcr-1'}},
    {'provider': 'custom', 'name': 'harbor',
     'credentials': {'url': 'https://harbor.example.com', 'login': 'robot', 'password': 'conformance-fleet-harbor-2'}},
]
# The target's own: quay added, harbor dropped, ghcr replaced.
OWN = [
    {'provider': 'ghcr', 'credentials': {'username': 'site-target', 'token': 'conformance-fleet-ghcr-3'}},
    {'provider': 'quay', 'credentials': {'namespace': 'myorg', 'account': 'ssm', 'token': 'conformance-fleet-quay-4'}},
    {'provider': 'custom', 'name': 'harbor', 'state': 'absent'},
]
SECRETS = {'conformance-fleet-ghcr-1', 'conformance-fleet-harbor-2', 'conformance-fleet-ghcr-3',
           'conformance-fleet-quay-4', 'fleet-peer-key-5'}


def run(tmp_path, collections):
    env = dict((k, v) for k, v in os.environ.items() if not k.startswith('SSM_'))
    env.update(ANSIBLE_COLLECTIONS_PATH=collections, ANSIBLE_NOCOLOR='1', PATH=BIN + os.pathsep + env.get('PATH', ''))
    proc = subprocess.run([os.path.join(BIN, 'ansible-playbook'), 'squirrel.ssm.configure_registries', '-i',
                           str(tmp_path / 'inventory'), '-e', 'ssm_hosts=ssm_servers', '--forks', '3'],
                          env=env, capture_output=True, text=True, check=False)
    return proc.returncode, proc.stdout + proc.stderr


def recap(output):
    section = output.rsplit('PLAY RECAP', 1)[1]
    return dict((m.group(1), dict((k, int(v)) for k, v in re.findall(r'(\w+)=(\d+)', m.group(2))))
                for m in re.finditer(r'^(\S+)\s+:(.*)$', section, re.M))


def stored(rows):
    """name -> the credentials fields a row has set (custom rows and rows with authSet)."""
    return dict((name, row.get('auth') or {}) for name, row in rows.items() if row.get('authSet'))


def test_the_target_in_a_fleet(target, tmp_path, collections):
    with Sandbox(api_key='fleet-peer-key-5') as peer:
        down = Sandbox().start()  # stopped at once: a server that is down, on a port no other server has
        down.stop()
        root = tmp_path / 'inventory'
        (root / 'group_vars').mkdir(parents=True)
        (root / 'host_vars').mkdir()
        (root / 'hosts.yml').write_text(yaml.safe_dump({'ssm_servers': {'hosts': {
            'ssm-target': None, 'ssm-peer': None, 'ssm-down': None}}}))
        (root / 'group_vars' / 'ssm_servers.yml').write_text(yaml.safe_dump({'ssm_registries': SHARED,
                                                                            'ssm_registries_purge': True}))
        (root / 'host_vars' / 'ssm-target.yml').write_text(yaml.safe_dump(dict(target.connection,
                                                                               ssm_registries_host=OWN)))
        (root / 'host_vars' / 'ssm-peer.yml').write_text(yaml.safe_dump({'ssm_url': peer.url,
                                                                         'ssm_api_key': 'fleet-peer-key-5'}))
        (root / 'host_vars' / 'ssm-down.yml').write_text(yaml.safe_dump({'ssm_url': down.url,
                                                                         'ssm_api_key': 'fleet-peer-key-5'}))
        secrets = SECRETS | set(v for k, v in target.connection.items() if k in ('ssm_api_key', 'ssm_password'))

        mark = len(target.requests())
        rc, output = run(tmp_path, collections)
        assert_no_secret(output, secrets)
        counts = recap(output)
        assert rc != 0 and [h for h, c in sorted(counts.items()) if c['failed']] == ['ssm-down'], output[-4000:]
        assert re.search(r'"ssm-down: FAILED: Converge the registries of SSM: cannot reach SSM', output)
        assert counts['ssm-target']['changed'] == 1 and counts['ssm-peer']['changed'] == 1
        assert target.writes_since(mark), 'the target was not written'

        rows = target.rows()
        have = stored(rows)
        assert sorted(n for n, row in rows.items() if row.get('provider') == 'custom') == []
        assert sorted(have) == ['ghcr', 'quay'], sorted(have)
        assert have['ghcr']['username'] == 'site-target' and have['quay']['namespace'] == 'myorg'
        peer_rows = stored(peer.rows)
        assert sorted(peer_rows) == ['ghcr', 'harbor'] and peer_rows['ghcr']['username'] == 'octocat'

        mark = len(target.requests())
        peer.clear_requests()
        rc, output = run(tmp_path, collections)
        assert_no_secret(output, secrets)
        counts = recap(output)
        assert [h for h, c in sorted(counts.items()) if c['failed']] == ['ssm-down'], output[-4000:]
        assert all(c['changed'] == 0 for c in counts.values()), counts
        assert target.writes_since(mark) == [] and peer.writes() == []
