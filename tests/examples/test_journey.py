"""The newcomer's journey, with documented commands only, against the SSM sandbox: secrets in an ansible-vault
file, a CI job that has nothing but its environment (`env -i`), a token rotated with --check --diff first, a
registry removed with purge, and the stored credentials tested."""
import re
import subprocess

import yaml

from tests.integration.conftest import API_KEY, BIN, assert_no_secret

TOKEN, NEW_TOKEN, HARBOR = 'journey-ghcr-token-1', 'journey-ghcr-token-2', 'journey-harbor-pw-1'


def recap(output):
    line = [l for l in output.splitlines() if re.match(r'^localhost\s+:', l)][-1]
    return dict((k, int(v)) for k, v in re.findall(r'(\w+)=(\d+)', line))


def test_the_journey(sandbox, collections, tmp_path):
    def sh(*command, secrets=(), ok=True):
        # a CI job: nothing but what the job itself exports
        env = {'PATH': BIN + ':/usr/bin:/bin', 'HOME': str(tmp_path), 'ANSIBLE_COLLECTIONS_PATH': collections,
               'ANSIBLE_NOCOLOR': '1', 'SSM_URL': sandbox.url, 'SSM_API_KEY': API_KEY,
               'GHCR_TOKEN': secrets[0] if secrets else TOKEN}
        proc = subprocess.run(['env', '-i'] + ['%s=%s' % kv for kv in env.items()] + list(command),
                              cwd=str(tmp_path), capture_output=True, text=True, check=False)
        output = proc.stdout + proc.stderr
        assert_no_secret(output, {API_KEY, TOKEN, NEW_TOKEN, HARBOR})
        assert (proc.returncode == 0) == ok, ' '.join(command) + '\n' + output[-4000:]
        return output

    # 1. secrets in ansible-vault, the registries file in the form of playbooks/vars/example_registries.yml
    (tmp_path / 'vault-pass').write_text('journey-vault-password\n')
    (tmp_path / 'vault.yml').write_text(yaml.safe_dump({'vault_harbor_password': HARBOR}))
    sh('ansible-vault', 'encrypt', '--vault-password-file', 'vault-pass', 'vault.yml')
    assert HARBOR not in (tmp_path / 'vault.yml').read_text()
    registries = {'ssm_registries_purge': True, 'ssm_registries': [
        {'provider': 'ghcr', 'credentials': {'username': 'octocat',
                                             'token': "{{ lookup('ansible.builtin.env', 'GHCR_TOKEN') }}"}},
        {'provider': 'custom', 'name': 'harbor', 'credentials': {
            'url': 'https://harbor.example.com', 'login': 'robot$ci', 'password': '{{ vault_harbor_password }}'}}]}
    (tmp_path / 'registries.yml').write_text(yaml.safe_dump(registries))
    play = ['ansible-playbook', 'squirrel.ssm.configure_registries', '-e', '@registries.yml', '-e', '@vault.yml',
            '--vault-password-file', 'vault-pass']

    # 2. the CI job, with env -i: the first run stores, the second changes nothing
    output = sh(*play)
    assert sandbox.rows['ghcr']['auth']['token'] == TOKEN and sandbox.rows['harbor']['auth']['login'] == 'robot$ci'
    sandbox.clear_requests()
    output = sh(*play)
    assert recap(output)['changed'] == 0 and [w for w in sandbox.writes() if 'reload' not in w['path']] == []

    # 3. rotate the token: --check --diff shows it and writes nothing, then the real run stores it
    sandbox.clear_requests()
    output = sh(*(play + ['--check', '--diff']), secrets=[NEW_TOKEN])
    assert recap(output)['changed'] >= 1 and sandbox.writes() == [] and 'ghcr' in output
    output = sh(*play, secrets=[NEW_TOKEN])
    assert sandbox.rows['ghcr']['auth']['token'] == NEW_TOKEN

    # 4. remove harbor: leave it out of the list; purge deletes it (and warns about the legacy rows it cannot touch)
    registries['ssm_registries'] = registries['ssm_registries'][:1]
    (tmp_path / 'registries.yml').write_text(yaml.safe_dump(registries))
    output = sh(*play, secrets=[NEW_TOKEN])
    assert 'harbor' not in sandbox.rows and sandbox.rows['ghcr']['authSet']
    assert 'purge left 2 row(s)' in output and 'hotio' in output

    # 5. test the stored credentials: the README's ad-hoc one-liner, with verify_credentials
    output = sh('ansible', 'localhost', '-m', 'squirrel.ssm.ssm_registry_info', '-a', 'verify_credentials=true',
                secrets=[NEW_TOKEN])
    assert '"verified"' in output and '"ghcr"' in output
