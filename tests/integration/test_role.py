"""The registries role and the configure_registries playbook as the README uses them: connection through
module_defaults, through the role's variables or both, every connection option, and the purge-everything guard."""
import json
import os
import re
import subprocess

import yaml

from tests.integration.conftest import API_KEY, BIN, ROOT, assert_no_secret

VAULT = {'vault_ssm_api_key': API_KEY, 'vault_ghcr_token': 'readme-ghcr-token-1', 'vault_gitlab_token': 'readme-gl-2',
         'vault_harbor': 'readme-harbor-password-3'}


def recap(output):
    line = [l for l in output.splitlines() if re.match(r'^localhost\s+:', l)][-1]
    return dict((k, int(v)) for k, v in re.findall(r'(\w+)=(\d+)', line))


def playbook(ansible, arguments, secrets=()):
    proc = subprocess.run([os.path.join(BIN, 'ansible-playbook')] + arguments, env=ansible.env(), capture_output=True,
                          text=True, check=False)
    output = proc.stdout + proc.stderr
    assert_no_secret(output, set(secrets) | {API_KEY})
    return proc.returncode, output


def readme_main_example():
    """The first YAML block of the README's "Using it" section, as it is written there."""
    with open(os.path.join(ROOT, 'README.md')) as f:
        text = f.read()
    section = text.split('## Using it', 1)[1]
    return yaml.safe_load(section.split('```yaml', 1)[1].split('```', 1)[0])


def test_the_readme_main_example_works_as_written(ansible, sandbox, tmp_path):
    play = readme_main_example()
    assert play[0]['module_defaults']['group/squirrel.ssm.ssm']['ssm_url'] == 'http://ssm.example:8000'
    assert any('ansible.builtin.include_role' in task for task in play[0]['tasks'])
    play[0]['module_defaults']['group/squirrel.ssm.ssm']['ssm_url'] = sandbox.url
    path = tmp_path / 'readme.yml'
    path.write_text(json.dumps(play))
    (tmp_path / 'vault.json').write_text(json.dumps(VAULT))
    arguments = [str(path), '-e', '@%s' % (tmp_path / 'vault.json'), '--diff']
    rc, output = playbook(ansible, arguments, VAULT.values())
    assert rc == 0, output[-3000:]
    assert sorted(name for name, row in sandbox.rows.items() if row['authSet']) == ['ghcr', 'gitlab', 'harbor']
    sandbox.clear_requests()
    rc, output = playbook(ansible, arguments, VAULT.values())
    assert rc == 0 and recap(output)['changed'] == 0, output[-3000:]
    assert sandbox.writes() == []


def failed(run):
    counts = recap(run.output)
    return counts['failed'] + counts['ignored']


def module_args(output):
    """The arguments the role's task gave the module, from its -vvvv result."""
    section = output.split('TASK [squirrel.ssm.registries : Converge the registries of SSM]', 1)[1]
    block = section[section.index('=> {') + 3:]
    return json.loads(block[:block.index('\n}\n') + 2])['invocation']['module_args']


def role(**role_vars):
    return {'ansible.builtin.include_role': {'name': 'squirrel.ssm.registries'}, 'vars': role_vars}


SHOW = {'ansible.builtin.debug': {'var': 'registries_result'}}
GHCR = [{'provider': 'ghcr', 'credentials': {'username': 'octocat', 'token': 'role-ghcr-token-9'}}]


def test_role_variables_beat_module_defaults_option_by_option(ansible, sandbox):
    # The play's module_defaults point at nothing; the role's ssm_url wins, the API key still comes from them.
    run = ansible.play(role(ssm_url=sandbox.url, ssm_registries=GHCR), SHOW,
                       connection=dict(ssm_url='http://127.0.0.1:9', ssm_api_key=API_KEY))
    assert not failed(run) and run[1]['registries_result']['changed'], run.output[-3000:]
    assert sandbox.rows['ghcr']['authSet']


def test_the_role_without_any_connection_uses_the_environment(ansible, sandbox):
    run = ansible.play(role(ssm_registries=GHCR), SHOW, connection=None,
                       env={'SSM_URL': sandbox.url, 'SSM_API_KEY': API_KEY})
    assert not failed(run) and run[1]['registries_result']['changed'], run.output[-3000:]


def test_the_role_gives_every_connection_option_to_the_module(ansible, sandbox, tmp_path):
    ca = tmp_path / 'ca.pem'
    ca.write_text('unused: SSM is served over http here\n')
    run = ansible.play(role(ssm_url=sandbox.url, ssm_api_key=API_KEY, ssm_validate_certs=False, ssm_ca_path=str(ca),
                            ssm_timeout=12.5, ssm_api_version='0.5', ssm_registries_verify_credentials=True,
                            ssm_registries=[]), SHOW, connection=None)
    assert not failed(run), run.output[-3000:]
    args = module_args(run.output)
    assert (args['ssm_url'], args['validate_certs'], args['ca_path'], args['timeout'], args['ssm_api_version'],
            args['verify_credentials']) == (sandbox.url, False, str(ca), 12.5, '0.5', True)
    assert args['ssm_api_key'] != API_KEY
    run = ansible.play(role(ssm_url=sandbox.url, ssm_username='ops@example.com', ssm_password='it-login-password-77',
                            ssm_registries=[]), SHOW, connection=None)
    assert not failed(run) and module_args(run.output)['ssm_username'] == 'ops@example.com'


def test_the_role_verifies_credentials_when_asked(ansible, sandbox):
    credentials = {'url': 'http://127.0.0.1:9', 'login': 'robot', 'password': 'role-pw-unreachable'}
    bad = [{'provider': 'custom', 'name': 'nowhere', 'credentials': credentials}]
    run = ansible.play(role(ssm_registries=bad, ssm_registries_verify_credentials=True))
    assert failed(run) == 1 and 'cannot reach registry' in run.output
    assert sandbox.writes() == []


def test_an_empty_list_with_purge_needs_purge_all(ansible, sandbox):
    ansible.play({'squirrel.ssm.ssm_registry': {'provider': 'custom', 'name': 'harbor', 'credentials': {
        'url': 'https://harbor.example.com', 'login': 'robot', 'password': 'role-harbor-pw'}}})
    sandbox.clear_requests()
    run = ansible.play(role(ssm_registries=[], ssm_registries_purge=True))
    assert failed(run) == 1
    assert 'ssm_registries_purge_all' in run.output and 'Nothing was sent to SSM' in run.output
    assert sandbox.requests == [] and 'harbor' in sandbox.rows
    run = ansible.play(role(ssm_registries=[], ssm_registries_purge=True, ssm_registries_purge_all=True), SHOW)
    assert not failed(run), run.output[-3000:]
    assert ('harbor', 'deleted') in [(p['name'], p['action']) for p in run[1]['registries_result']['purged']]
    assert 'harbor' not in sandbox.rows


def test_configure_registries_uses_the_role_variables(ansible, sandbox, tmp_path):
    registries = tmp_path / 'registries.yml'
    registries.write_text(yaml.safe_dump({'ssm_url': sandbox.url, 'ssm_api_key': API_KEY, 'ssm_registries': GHCR}))
    rc, output = playbook(ansible, ['squirrel.ssm.configure_registries', '-e', '@%s' % registries],
                          ['role-ghcr-token-9'])
    assert rc == 0, output[-3000:]
    assert recap(output)['failed'] == 0 and sandbox.rows['ghcr']['authSet']
    assert "'ghcr'" in output or '"ghcr"' in output
