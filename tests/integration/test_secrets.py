"""Secrets SSM already stores, or that a task gives in unexpected shapes, never reach any output: they are
masked by structure (only fields the provider table knows to be harmless are shown) and audited in every
spelling (as is, escaped, URL-encoded, base64) by the harness."""
from ansible_collections.squirrel.ssm.plugins.module_utils.providers import MASK
from ansible_collections.squirrel.ssm.tests.cases import GOOD

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
    befores = dict((d['before_header'], d['before']) for d in run[3]['diff'])
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
