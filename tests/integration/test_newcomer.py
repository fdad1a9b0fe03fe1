"""What a newcomer runs into: an unset CI variable behind a secret, and rows purge cannot touch."""
from tests.cases import GOOD


def test_an_unset_environment_variable_names_the_field_the_provider_and_the_likely_cause(ansible, sandbox):
    token = "{{ lookup('ansible.builtin.env', 'GHCR_TOKEN_NOT_SET') }}"
    run = ansible.play({'squirrel.ssm.ssm_registry': {'provider': 'ghcr', 'credentials': {
        'username': 'octocat', 'token': token}}}, env={'GHCR_TOKEN_NOT_SET': ''})
    assert run[0]['failed']
    message = run[0]['msg']
    assert 'credentials for provider ghcr: token: it is empty' in message, message
    assert 'unset environment variable' in message and "lookup('ansible.builtin.env'" in message
    assert 'unable to convert' not in message
    assert sandbox.writes() == []


def test_a_validation_message_reads_like_the_collections_own(ansible, sandbox):
    run = ansible.play({'squirrel.ssm.ssm_registry': {'registries': [{'provider': 'custom', 'name': 'harbor',
                                                                      'credentials': {'url': 'http://r:5000/v2'}}]}})
    message = run[0]['msg']
    assert 'custom' in message and 'url: it ends in /v2, which SSM appends itself' in message, message
    assert 'unable to convert' not in message


def test_purge_warns_about_the_rows_it_cannot_touch(ansible, sandbox):
    assert {'hotio', 'forjejo'} <= set(sandbox.rows)
    run = ansible.play({'squirrel.ssm.ssm_registry': {'purge': True, 'registries': [
        {'provider': 'ghcr', 'credentials': GOOD['ghcr']}]}})
    assert not run[0].get('failed'), run.output[-3000:]
    warning = [w for w in run[0]['warnings'] if 'purge left' in w]
    assert warning, run[0]['warnings']
    assert 'forjejo (provider forjejo), hotio (provider hotio)' in warning[0] and 'MongoDB' in warning[0]
    assert 'db.containerregistries.deleteOne({name: "forjejo"})' in warning[0]
    assert {'hotio', 'forjejo'} <= set(sandbox.rows)
    # without purge there is nothing to warn about
    run = ansible.play({'squirrel.ssm.ssm_registry': {'registries': [{'provider': 'ghcr', 'credentials': GOOD['ghcr']}]}})
    assert not [w for w in run[0].get('warnings', []) if 'purge left' in w]
