"""Secrets SSM already stores, or that a task gives in unexpected shapes, never reach any output: they are
masked by structure (only fields the provider table knows to be harmless are shown) and audited in every
spelling (as is, escaped, URL-encoded, base64) by the harness."""
import os
import subprocess

from ansible_collections.squirrel.ssm.plugins.module_utils.providers import MASK
from ansible_collections.squirrel.ssm.tests.cases import GOOD
from tests.integration.conftest import API_KEY, BIN, assert_no_secret

INFO = {'squirrel.ssm.ssm_registry_info': {}}


def test_stored_fields_the_table_does_not_list_are_masked(ansible, sandbox):
    # What another client (or an older SSM) may have stored: hub's token under its old name, a field SSM's
    # forms never had, and a legacy row's fields.
    sandbox.rows['hub']['auth'] = {'login': 'johndoe', 'token': 'stored-hub-token-4e1'}
    sandbox.rows['hub']['authSet'] = True
    sandbox.rows['ghcr']['auth'] = dict(GOOD['ghcr'], apikey='unexpected-field-value-9c')
    sandbox.rows['ghcr']['authSet'] = True
    secrets = {'stored-hub-token-4e1', 'unexpected-field-value-9c', 'https://git.example'}
    run = ansible.play(
        INFO,
        {'squirrel.ssm.ssm_registry': dict(provider='ghcr', credentials=dict(GOOD['ghcr'], token='new-ghcr-tok-1'))},
        dict({'squirrel.ssm.ssm_registry': dict(provider='hub', state='reset')}, check_mode=True),
        dict({'squirrel.ssm.ssm_registry': dict(purge=True, registries=[dict(provider='quay')])}, check_mode=True),
        {'squirrel.ssm.ssm_registry': dict(provider='hub')},
        secrets=secrets)
    rows = dict((row['name'], row) for row in run[0]['registries'])
    assert rows['hub']['credentials'] == {'login': 'johndoe', 'token': MASK}
    assert rows['ghcr']['credentials'] == {'username': 'octocat', 'token': MASK, 'apikey': MASK}
    # Rows of providers SSM no longer knows: field names only.
    assert rows['forjejo']['credentials'] == {'url': MASK, 'login': MASK, 'password': MASK}
    assert run[1]['diff']['before']['credentials'] == {'username': 'octocat', 'token': MASK, 'apikey': MASK}
    assert run[2]['diff']['before']['credentials'] == {'login': 'johndoe', 'token': MASK}
    befores = dict((d['before_header'].split()[0], d['before']) for d in run[3]['diff'])
    assert befores['hub']['credentials'] == {'login': 'johndoe', 'token': MASK}
    assert run[4]['registry']['credentials'] == {'login': 'johndoe', 'token': MASK}


def test_a_short_stored_secret_does_not_garble_output(ansible, sandbox):
    """Stored secrets are masked by structure, not by scrubbing their values from all output: a stored
    token 'ed' must not turn 'updated' into 'upda********'."""
    sandbox.rows['ghcr']['auth'] = {'username': 'octocat', 'token': 'ed'}
    sandbox.rows['ghcr']['authSet'] = True
    sandbox.rows['hub']['auth'] = {'login': 'johndoe', 'password': 'pass'}
    sandbox.rows['hub']['authSet'] = True
    run = ansible.play(
        {'squirrel.ssm.ssm_registry': dict(provider='ghcr', credentials=GOOD['ghcr'])},
        {'squirrel.ssm.ssm_registry_info': {'name': 'hub'}},
        dict({'squirrel.ssm.ssm_registry': dict(provider='hub', credentials=dict(
            login='johndoe', password='new-hub-pass-1'))}, check_mode=True))
    assert run[0]['action'] == 'updated' and run[0]['changed']
    assert run[0]['diff']['before']['credentials'] == {'username': 'octocat', 'token': MASK}
    assert run[0]['registry'] == {'name': 'ghcr', 'provider': 'ghcr', 'full_name': 'Github Container Registry',
                                  'auth_set': True, 'leftover_credentials': False, 'can_auth': True, 'can_anonymous': True,
                                  'credentials': {'username': 'octocat', 'token': MASK}}
    assert run[1]['registries'][0]['credentials'] == {'login': 'johndoe', 'password': MASK}
    assert run[1]['registries'][0]['full_name'] == 'Docker Hub'
    assert run[2]['action'] == 'updated' and run[2]['diff']['before']['credentials']['password'] == MASK
    assert '********ed' not in run.output and 'upda*' not in run.output
    assert "'pass'" not in run.output and '"pass"' not in run.output


def test_misspelt_secret_fields_are_never_echoed(ansible, sandbox):
    """Unknown names under credentials (and unknown options) are not no_log in any spec: their values must
    still never reach the invocation Ansible shows at -v, and the message names the field and the provider."""
    secrets = {'misspelt-client-secret-1', 'misspelt-aws-secret-2', 'misspelt-in-a-list-3', 'misspelt-option-4',
               'wrong-shape-token-5'}
    run = ansible.play(
        {'squirrel.ssm.ssm_registry': dict(provider='acr', credentials={
            'clientid': 'x', 'clientSecret': 'misspelt-client-secret-1'})},
        {'squirrel.ssm.ssm_registry': dict(provider='ecr', credentials={
            'accesskeyid': 'AKIAIOSFODNN7EXAMPLE', 'aws_secret_access_key': 'misspelt-aws-secret-2',
            'region': 'eu-west-1'})},
        {'squirrel.ssm.ssm_registry': dict(registries=[dict(provider='ghcr', credentials={
            'username': 'octocat', 'tokn': 'misspelt-in-a-list-3'})])},
        {'squirrel.ssm.ssm_registry': dict(provider='ghcr', credentials=GOOD['ghcr'],
                                           ssm_apikey='misspelt-option-4')},
        {'squirrel.ssm.ssm_registry': dict(registries=[dict(provider='ghcr', credentials=[
            'octocat', 'wrong-shape-token-5'])])},
        secrets=secrets)
    assert 'clientSecret' in run[0]['msg'] and 'acr' in run[0]['msg']
    assert 'aws_secret_access_key' in run[1]['msg'] and 'ecr' in run[1]['msg']
    assert 'tokn' in run[2]['msg'] and 'ghcr' in run[2]['msg']
    assert 'ssm_apikey' in run[3]['msg']
    assert all(r['failed'] for r in run.results)
    assert '"invocation"' in run.output  # -vvvv really shows it
    assert sandbox.requests == []


def test_a_secret_inside_a_stored_url_is_masked_everywhere(ansible, sandbox, tmp_path):
    """Another client may store https://user:secret@host: its userinfo is masked in every URL field, on every path
    (result, diff, warnings, errors, -vvvv, the report of configure_registries, the export)."""
    sandbox.insert_row({'name': 'harbor', 'provider': 'custom', 'authSet': True, 'authScheme': [],
                        'auth': {'url': 'https://robot:stored-url-secret-7@harbor.example.com', 'login': 'robot',
                                 'password': 'stored-harbor-pass-7'}})
    sandbox.rows['gitea']['auth'] = {'url': 'robot:gitea-url-secret-8@gitea.example.com', 'login': 'robot',
                                     'password': 'stored-gitea-pass-8'}
    sandbox.rows['gitea']['authSet'] = True
    secrets = {'stored-url-secret-7', 'gitea-url-secret-8', 'task-url-secret-9', 'stored-harbor-pass-7',
               'stored-gitea-pass-8'}
    harbor = dict(url='https://harbor.example.com', login='robot', password='new-harbor-pass-1')
    run = ansible.play(
        INFO,
        {'squirrel.ssm.ssm_registry': dict(provider='custom', name='harbor', credentials=harbor)},
        dict({'squirrel.ssm.ssm_registry': dict(registries=[dict(provider='quay')], purge=True)}, check_mode=True),
        {'squirrel.ssm.ssm_registry': dict(provider='custom', name='other', credentials=dict(
            harbor, url='https://robot:task-url-secret-9@other.example.com'))},
        secrets=secrets)
    rows = dict((row['name'], row) for row in run[0]['registries'])
    assert rows['harbor']['credentials']['url'] == 'https://%s@harbor.example.com' % MASK
    assert rows['gitea']['credentials']['url'] == '%s@gitea.example.com' % MASK
    assert run[1]['diff']['before']['credentials']['url'] == 'https://%s@harbor.example.com' % MASK
    befores = dict((d['before_header'].split()[0], d['before']) for d in run[2]['diff'])
    assert befores['gitea']['credentials']['url'] == '%s@gitea.example.com' % MASK
    assert run[3]['failed'] and 'user:password@' in run[3]['msg'] and '"invocation"' in run.output
    sandbox.insert_row(dict(sandbox.rows['harbor'], auth=dict(sandbox.rows['harbor']['auth'],
                                                              url='https://robot:stored-url-secret-7@harbor.example.com')))
    # The report of the main playbook, then the export (the row is left out, with why).
    env = ansible.env({'SSM_URL': sandbox.url, 'SSM_API_KEY': API_KEY})
    (tmp_path / 'pw.txt').write_text('url-vault-password-3\n')
    for command in (['squirrel.ssm.configure_registries', '-vvvv'],
                    ['squirrel.ssm.export_registries', '-e', 'ssm_export_path=out.yml', '--vault-password-file',
                     'pw.txt', '-vvvv']):
        proc = subprocess.run([os.path.join(BIN, 'ansible-playbook')] + command, env=env, capture_output=True,
                              text=True, check=False, cwd=str(tmp_path))
        assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
        assert_no_secret(proc.stdout + proc.stderr, secrets)
    assert '# - harbor (provider custom):' in (tmp_path / 'out.yml').read_text()
    assert_no_secret((tmp_path / 'out.yml').read_text(), secrets)
