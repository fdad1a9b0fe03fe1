"""Adopting an SSM configured by hand: `ansible-playbook squirrel.ssm.export_registries` writes what the sandbox stores
as the role's input, secrets vault-encrypted; converging the same SSM from that file writes nothing, and converging an
empty SSM from it stores the same rows."""
import copy
import os
import re
import stat
import subprocess

import requests
import yaml

from ansible_collections.squirrel.ssm.plugins.module_utils.registries import CUSTOM_AUTH_SCHEME

from tests import webui
from tests.cases import GOOD
from tests.integration.conftest import API_KEY, BIN, assert_no_secret, own_writes
from tests.sandbox.ssm_sandbox import Sandbox

LEFTOVER = 'export-leftover-quay-token'
ODD = 'export-odd-password-4'
VAULT_PASSWORD = 'export-vault-password-8'
SECRETS = set(value for provider, credentials in GOOD.items() for name, value in credentials.items()
              if name in ('token', 'password', 'auth', 'clientsecret', 'secretaccesskey', 'privatekey'))
SECRETS |= {LEFTOVER, ODD, VAULT_PASSWORD, API_KEY, 'legacy-secret-value', 'export-harbor-pass {{ not a template }}'}
HARBOR = {'url': 'https://harbor.example.com', 'login': 'robot$ci', 'password': 'export-harbor-pass {{ not a template }}'}


class Tagged(yaml.SafeLoader):
    """Reads the exported file without decrypting it: a !vault value becomes ('vault', its text)."""


Tagged.add_constructor('!vault', lambda loader, node: ('vault', loader.construct_scalar(node)))
Tagged.add_constructor('!unsafe', lambda loader, node: loader.construct_scalar(node))


def every_provider():
    return [dict(provider=p, name='my-custom' if p == 'custom' else p, credentials=copy.deepcopy(GOOD[p]))
            for p in sorted(GOOD)]


def seed(ansible, sandbox):
    """Every provider with secrets, plus rows the collection cannot manage: the sandbox's legacy rows (hotio, forjejo),
    a reset by SSM alone that left its secret, a row with a field no provider has, a reload stand-in."""
    run = ansible.play({'squirrel.ssm.ssm_registry': {'registries': every_provider()}})
    assert run.rc == 0 and run[0]['changed'], run.output[-3000:]
    # Set in SSM's web UI: a password Ansible would take for a template, a login with a $.
    answer = requests.put(sandbox.url + '/api/container-registries/harbor', timeout=30,
                          headers={'Authorization': 'Bearer ' + API_KEY},
                          json={'auth': HARBOR, 'authScheme': CUSTOM_AUTH_SCHEME})
    assert answer.status_code == 200, answer.text
    sandbox.insert_row(dict(sandbox.rows['quay'], authSet=False,
                            auth={'namespace': 'myorg', 'account': 'old', 'token': LEFTOVER}))
    sandbox.insert_row(dict(sandbox.rows['my-custom'], name='odd', _id='odd',
                            auth={'url': 'https://odd.example.com', 'login': 'x', 'password': ODD, 'registry': 'r'}))
    sandbox.insert_row(dict(sandbox.rows['my-custom'], name='squirrel-ssm-reload-0badcafe', _id='reload'))
    # A self-hosted GitLab stored without authurl: gitlab.com's default would point it elsewhere.
    sandbox.insert_row(dict(sandbox.rows['gitlab'], auth={'url': 'https://registry.gitlab.example.com', 'token': ODD}))
    # A name the converge refuses (surrounding spaces), as SSM's web UI lets one type it.
    sandbox.insert_row(dict(sandbox.rows['harbor'], name='harbor ', _id='spaced'))
    sandbox.clear_requests()


def playbook(ansible, url, *arguments):
    env = ansible.env({'SSM_URL': url, 'SSM_API_KEY': API_KEY})
    proc = subprocess.run([os.path.join(BIN, 'ansible-playbook')] + list(arguments), env=env, capture_output=True,
                          text=True, check=False, cwd=str(ansible.tmp_path))
    output = proc.stdout + proc.stderr
    assert_no_secret(output, SECRETS)
    return proc.returncode, output


def recap(output):
    line = [l for l in output.splitlines() if re.match(r'^localhost\s+:', l)][-1]
    return dict((k, int(v)) for k, v in re.findall(r'(\w+)=(\d+)', line))


def stored(sandbox):
    """What an SSM stores and uses: {name: (provider, auth)} of the rows with credentials set."""
    return dict((name, (row['provider'], row.get('auth'))) for name, row in sandbox.rows.items() if row.get('authSet'))


def converged_but_the_reload_row(rc, output, sandbox, before):
    """A converge from the export writes nothing but the removal of the reload row an interrupted run left behind,
    which every run removes (docs/reliability.md)."""
    assert rc == 0 and recap(output)['changed'] == 1, output[-3000:]
    assert [(w['method'], w['path'].rsplit('/', 1)[-1]) for w in sandbox.writes()] == [
        ('DELETE', 'squirrel-ssm-reload-0badcafe')]
    assert stored(sandbox) == dict((name, row) for name, row in before.items() if name != 'squirrel-ssm-reload-0badcafe')


def mode(path):
    return stat.S_IMODE(os.stat(str(path)).st_mode)


def test_export_then_converge_writes_nothing_and_an_empty_ssm_ends_up_the_same(ansible, sandbox, tmp_path):
    seed(ansible, sandbox)
    (tmp_path / 'pw.txt').write_text(VAULT_PASSWORD + '\n')
    export = ['squirrel.ssm.export_registries', '-e', 'ssm_export_path=ssm-registries.yml',
              '--vault-password-file', 'pw.txt', '-vvvv']
    rc, output = playbook(ansible, sandbox.url, *export)
    assert rc == 0, output[-3000:]
    assert sandbox.writes() == [], 'the export wrote to SSM'
    path = tmp_path / 'ssm-registries.yml'
    text = path.read_text()
    assert mode(path) == 0o600
    assert_no_secret(text, SECRETS)
    data = yaml.load(text, Loader=Tagged)
    assert data['ssm_registries_purge'] is False
    names = [r.get('name', r['provider']) for r in data['ssm_registries']]
    wanted = sorted([r['name'] for r in every_provider() if r['name'] not in ('quay', 'gitlab')] + ['harbor'])
    assert names == wanted
    # Every secret field is an encrypted value, every other field in clear, as SSM stores it.
    for registry in data['ssm_registries']:
        row = sandbox.rows[registry.get('name', registry['provider'])]
        for field, value in registry['credentials'].items():
            if field in ('token', 'password', 'auth', 'clientsecret', 'secretaccesskey', 'privatekey'):
                assert value[0] == 'vault' and value[1].startswith('$ANSIBLE_VAULT;1.1;AES256'), field
            else:
                assert value == row['auth'][field], field
    # One comment line per registry, right before it; the rows left out listed with their reason.
    lines = text.splitlines()
    for name in wanted:
        index = [i for i, l in enumerate(lines) if l.startswith('  # %s: ' % name)]
        assert len(index) == 1 and lines[index[0] + 1].startswith('  - provider: '), name
    left_out = text.split('# Left out:', 1)[1]
    for name, code in (('forjejo', 'legacy_provider'), ('hotio', 'legacy_provider'), ('quay', 'leftover_secret'),
                       ('odd', 'unknown_field'), ('squirrel-ssm-reload-0badcafe', 'reload'),
                       ('gitlab', 'gitlab_url_missing'), ('harbor ', 'converge_refuses')):
        shown = '"%s"' % name if name != name.strip() else name
        assert re.search(r'# - %s \(provider \w+\):\n(#     .*\n)*#     .*%s' % (re.escape(shown), code), left_out), name
    assert 'https://gitlab.com' not in text.split('# Left out:')[0], 'the export filled in a default'
    assert 'ssm_registries_purge: false' in text and '# false: converging changes only' in text
    assert 'Left out: 7' in output and 'configure_registries -e @' in output

    # It never overwrites: the file stays as it was.
    rc, output = playbook(ansible, sandbox.url, *export)
    assert rc != 0 and 'exists' in output and 'force: true' in output
    assert path.read_text() == text
    # Exported again over it: the same file, encrypted values included, so that git shows no change.
    rc, output = playbook(ansible, sandbox.url, *(export + ['-e', 'ssm_export_force=true']))
    assert rc == 0 and path.read_text() == text and mode(path) == 0o600, output[-3000:]
    assert recap(output)['changed'] == 0 and 'up to date' in output, output[-3000:]

    # Converging the same SSM from the file: nothing to write.
    before = stored(sandbox)
    converge = ['squirrel.ssm.configure_registries', '-e', '@ssm-registries.yml', '--vault-password-file', 'pw.txt',
                '-vvvv']
    rc, output = playbook(ansible, sandbox.url, *converge)
    converged_but_the_reload_row(rc, output, sandbox, before)

    # An empty SSM converged from the same file stores the same rows (those the file declares), then stays put.
    with Sandbox(api_key=API_KEY) as second:
        rc, output = playbook(ansible, second.url, *converge)
        assert rc == 0 and recap(output)['failed'] == 0, output[-3000:]
        assert stored(second) == dict((name, before[name]) for name in wanted)
        second.clear_requests()
        rc, output = playbook(ansible, second.url, *converge)
        assert rc == 0 and recap(output)['changed'] == 0 and own_writes(second) == []


def test_secrets_in_a_file_of_their_own(ansible, sandbox, tmp_path):
    seed(ansible, sandbox)
    (tmp_path / 'pw.txt').write_text(VAULT_PASSWORD + '\n')
    rc, output = playbook(ansible, sandbox.url, 'squirrel.ssm.export_registries', '-e', 'ssm_export_path=public.yml',
                          '-e', 'ssm_export_secrets=file', '-e', 'ssm_export_secrets_path=secrets.yml',
                          '--vault-id', 'ssm@pw.txt', '-vvvv')
    assert rc == 0, output[-3000:]
    public, secrets = (tmp_path / 'public.yml').read_text(), (tmp_path / 'secrets.yml').read_text()
    assert mode(tmp_path / 'public.yml') == mode(tmp_path / 'secrets.yml') == 0o600
    assert_no_secret(public + secrets, SECRETS)
    assert secrets.startswith('$ANSIBLE_VAULT;1.2;AES256;ssm\n')
    data = yaml.load(public, Loader=Tagged)
    ghcr = [r for r in data['ssm_registries'] if r['provider'] == 'ghcr'][0]
    assert ghcr['credentials'] == {'username': 'octocat', 'token': '{{ vault_ssm_ghcr_token }}'}
    customs = dict((r['name'], r['credentials']) for r in data['ssm_registries'] if r['provider'] == 'custom')
    assert customs['my-custom']['password'] == '{{ vault_ssm_my_custom_password }}'
    before = stored(sandbox)
    rc, output = playbook(ansible, sandbox.url, 'squirrel.ssm.configure_registries', '-e', '@public.yml', '-e',
                          '@secrets.yml', '--vault-id', 'ssm@pw.txt')
    converged_but_the_reload_row(rc, output, sandbox, before)
    rc, output = playbook(ansible, sandbox.url, 'squirrel.ssm.export_registries', '-e', 'ssm_export_path=public.yml',
                          '-e', 'ssm_export_secrets=file', '-e', 'ssm_export_secrets_path=secrets.yml',
                          '--vault-id', 'ssm@pw.txt', '-e', 'ssm_export_force=true')
    assert rc == 0 and (tmp_path / 'secrets.yml').read_text() == secrets, output[-3000:]
    # The converge removed the reload row: the file no longer lists it; exported again, it is up to date.
    assert 'squirrel-ssm-reload-0badcafe' not in (tmp_path / 'public.yml').read_text()
    rc, output = playbook(ansible, sandbox.url, 'squirrel.ssm.export_registries', '-e', 'ssm_export_path=public.yml',
                          '-e', 'ssm_export_secrets=file', '-e', 'ssm_export_secrets_path=secrets.yml',
                          '--vault-id', 'ssm@pw.txt', '-e', 'ssm_export_force=true')
    assert rc == 0 and recap(output)['changed'] == 0, output[-3000:]


def test_check_mode_writes_nothing_and_no_vault_secret_fails_before_any_request(ansible, sandbox, tmp_path):
    seed(ansible, sandbox)
    # In a vars file: ansible-playbook -vvvv prints its command line's extra vars.
    (tmp_path / 'password.yml').write_text('ssm_export_vault_password: %s\n' % VAULT_PASSWORD)
    rc, output = playbook(ansible, sandbox.url, 'squirrel.ssm.export_registries', '-e', 'ssm_export_path=out.yml',
                          '-e', '@password.yml', '--check', '-vvvv')
    assert rc == 0 and 'Would write' in output and '"preview"' in output, output[-3000:]
    assert not (tmp_path / 'out.yml').exists() and sandbox.writes() == []
    sandbox.clear_requests()
    rc, output = playbook(ansible, sandbox.url, 'squirrel.ssm.export_registries', '-e', 'ssm_export_path=out.yml')
    assert rc != 0 and 'no vault secret to encrypt the secrets with' in output and '--vault-password-file' in output
    assert sandbox.requests == [] and not (tmp_path / 'out.yml').exists()
    rc, output = playbook(ansible, sandbox.url, 'squirrel.ssm.export_registries', '-e', 'ssm_export_path=out.yml',
                          '-e', '@password.yml', '-e', 'ssm_export_secrets=file')
    assert rc != 0 and 'secrets_path' in output and sandbox.requests == []


def test_rows_from_ssms_web_ui_round_trip_with_no_write(ansible, sandbox, tmp_path):
    """tests/webui: what SSM's own web client stores (a custom row's newName, a field sent as "", hub's token).
    The file declares every row SSM uses, as SSM uses it; converging from it writes nothing; an empty SSM converged
    from it uses the same credentials."""
    session = requests.Session()
    session.headers['Authorization'] = 'Bearer ' + API_KEY

    def api(method, name, body):
        return session.request(method, sandbox.url + '/api/container-registries/' + requests.utils.quote(name, safe=''),
                               json=body, timeout=30)
    webui.seed(api)
    ui_secrets = set(webui.secrets())
    sandbox.clear_requests()
    (tmp_path / 'pw.txt').write_text(VAULT_PASSWORD + '\n')
    rc, output = playbook(ansible, sandbox.url, 'squirrel.ssm.export_registries', '-e', 'ssm_export_path=ui.yml',
                          '--vault-password-file', 'pw.txt')
    assert rc == 0, output[-3000:]
    text = (tmp_path / 'ui.yml').read_text()
    assert_no_secret(text + output, ui_secrets)
    data = yaml.load(text, Loader=Tagged)
    assert sorted(r.get('name', r['provider']) for r in data['ssm_registries']) == [
        'Harbor Prod', 'ghcr', 'gitlab', 'hub', 'mirror']
    assert 'newName' not in text and '# - quay (provider quay):' in text
    hub = [r for r in data['ssm_registries'] if r['provider'] == 'hub'][0]['credentials']
    assert sorted(hub) == ['login', 'password']
    sandbox.restart()  # what SSM uses once it has loaded every row
    used = sandbox.registered()
    rc, output = playbook(ansible, sandbox.url, 'squirrel.ssm.configure_registries', '-e', '@ui.yml',
                          '--vault-password-file', 'pw.txt')
    assert rc == 0 and recap(output)['changed'] == 0, output[-3000:]
    assert sandbox.writes() == []
    assert_no_secret(output, ui_secrets)
    with Sandbox(api_key=API_KEY) as second:
        rc, output = playbook(ansible, second.url, 'squirrel.ssm.configure_registries', '-e', '@ui.yml',
                              '--vault-password-file', 'pw.txt')
        assert rc == 0 and recap(output)['failed'] == 0, output[-3000:]
        assert second.registered() == dict((name, dict((k, v) for k, v in auth.items() if k != 'newName' and v != ''))
                                           for name, auth in used.items())


def test_force_over_a_symbolic_link_writes_its_target(ansible, sandbox, tmp_path):
    seed(ansible, sandbox)
    (tmp_path / 'pw.txt').write_text(VAULT_PASSWORD + '\n')
    (tmp_path / 'repo').mkdir()
    target = tmp_path / 'repo' / 'registries.yml'
    target.write_text('# an older export\n')
    (tmp_path / 'registries.yml').symlink_to(target)
    rc, output = playbook(ansible, sandbox.url, 'squirrel.ssm.export_registries', '-e', 'ssm_export_path=registries.yml',
                          '-e', 'ssm_export_force=true', '--vault-password-file', 'pw.txt')
    assert rc == 0, output[-3000:]
    assert os.path.islink(str(tmp_path / 'registries.yml')) and 'ssm_registries:' in target.read_text()
    assert mode(target) == 0o600
