"""ssm_registry and ssm_registry_info, run by ansible-playbook against the SSM sandbox."""
import copy

import pytest

from ansible_collections.squirrel.ssm.plugins.module_utils.providers import MASK, PROVIDERS
from ansible_collections.squirrel.ssm.tests.cases import BAD, GOOD
from tests.integration.conftest import API_KEY, PASSWORD, USERNAME, assert_no_secret, own_writes

NAMES = dict((provider, 'my-custom' if provider == 'custom' else provider) for provider in GOOD)


def rotated(provider):
    """The good credentials with every secret changed."""
    credentials = copy.deepcopy(GOOD[provider])
    for name in PROVIDERS[provider].secret_fields & set(credentials):
        if provider == 'gcr':
            credentials[name] = credentials[name].replace('MIIB', 'MIIC')
        elif name == 'auth':
            credentials[name] = 'cm9ib3Q6cm90YXRlZC1zZWNyZXQ='  # robot:rotated-secret
        else:
            credentials[name] = 'rotated-%s-secret' % provider
    return credentials


def secrets_of(*credential_sets):
    values = {API_KEY, PASSWORD, 'legacy-secret-value'}
    for provider, credentials in credential_sets:
        for name in PROVIDERS[provider].secret_fields:
            if credentials.get(name):
                values.add(credentials[name])
    return values


def registry(provider, credentials=None, **extra):
    args = dict(provider=provider, name=NAMES[provider])
    if credentials is not None:
        args['credentials'] = credentials
    args.update(extra)
    return {'squirrel.ssm.ssm_registry': args}


@pytest.mark.parametrize('provider', sorted(GOOD))
def test_lifecycle_of_every_provider(ansible, sandbox, provider):
    good, new = GOOD[provider], rotated(provider)
    name = NAMES[provider]
    run = ansible.play(
        dict(registry(provider, good), check_mode=True, diff=True),      # 0 check mode: nothing written
        registry(provider, good),                                         # 1 create or update
        registry(provider, good),                                         # 2 unchanged
        dict(registry(provider, new), diff=True),                         # 3 update, diff without secrets
        {'squirrel.ssm.ssm_registry_info': {'name': name}},               # 4 info
        registry(provider, state='reset'),                                # 5 reset
        registry(provider, state='reset'),                                # 6 unchanged
        registry(provider, state='absent'),                               # 7 deleted, or refused for built-ins
        registry(provider, state='absent'),                               # 8 unchanged, or refused
    )
    first = 'created' if provider == 'custom' else 'updated'
    assert [r.get('action') for r in run.results[:4]] == [first, first, 'unchanged', 'updated']
    assert [r['changed'] for r in run.results[:4]] == [True, True, False, True]
    assert run[0]['diff']['before'] == ({} if provider == 'custom' else {'name': name, 'provider': provider,
                                                                         'credentials': {}})
    assert run[0]['diff']['after']['credentials'] == dict(
        (k, MASK if k in PROVIDERS[provider].secret_fields else v) for k, v in good.items())
    changed_secret = dict((k, MASK + ' (changed)' if k in PROVIDERS[provider].secret_fields else v)
                          for k, v in new.items())
    assert run[3]['diff']['after']['credentials'] == changed_secret
    assert run[3]['registry']['auth_set'] is True
    info = run[4]['registries']
    assert len(info) == 1 and info[0]['name'] == name and info[0]['provider'] == provider and info[0]['auth_set']
    assert info[0]['credentials'] == run[0]['diff']['after']['credentials']
    assert [r.get('action') for r in run.results[5:7]] == ['reset', 'unchanged']
    # reset: the stored values are overwritten, then SSM's reset (its PATCH keeps them)
    expected_writes = ['PUT' if provider == 'custom' else 'POST', 'POST', 'POST', 'PATCH']
    if provider == 'custom':
        assert [r.get('action') for r in run.results[7:]] == ['deleted', 'unchanged']
        expected_writes.append('DELETE')
    else:
        for result in run.results[7:]:
            assert result['failed'] and 'cannot delete the built-in registry %s' % name in result['msg']
            assert 'state: reset' in result['msg']
    assert [w['method'] for w in own_writes(sandbox)] == expected_writes
    assert_no_secret(run.output, secrets_of((provider, good), (provider, new)))


def test_what_is_stored_is_the_validated_fields_with_aliases_and_defaults(ansible, sandbox):
    run = ansible.play(
        registry('ecr', {'accesskey': 'AKIAIOSFODNN7EXAMPLE', 'secretaccesskey': 's3', 'region': 'us-east-1'}),
        registry('gitlab', {'token': 'gl-token-value'}),
        registry('hub', {'login': 'johndoe', 'token': 'hub-token-value'}),
        registry('gitlab', {'token': 'gl-token-value', 'url': 'https://registry.gitlab.com',
                            'authurl': 'https://gitlab.com'}),
    )
    assert [r['changed'] for r in run.results] == [True, True, True, False]
    assert sandbox.rows['ecr']['auth'] == {'accesskeyid': 'AKIAIOSFODNN7EXAMPLE', 'secretaccesskey': 's3',
                                           'region': 'us-east-1'}
    assert sandbox.rows['gitlab']['auth'] == {'url': 'https://registry.gitlab.com', 'authurl': 'https://gitlab.com',
                                              'token': 'gl-token-value'}
    assert sandbox.rows['hub']['auth'] == {'login': 'johndoe', 'password': 'hub-token-value'}
    assert 'token' in run.output and 'deprecated' in run.output
    created = own_writes(sandbox)
    assert len(created) == 3


def test_custom_create_sends_the_web_clients_auth_scheme(ansible, sandbox):
    ansible.play(registry('custom', GOOD['custom']))
    assert sandbox.rows['my-custom']['provider'] == 'custom'
    assert sandbox.rows['my-custom']['authScheme'][1]['name'] == 'Connection Type'
    assert sandbox.rows['my-custom']['auth'] == GOOD['custom']


def test_every_validation_rule_fails_before_any_request(ansible, sandbox):
    tasks = [{'squirrel.ssm.ssm_registry': dict(provider=p, name=NAMES[p], credentials=c)} for p, c, dummy in BAD]
    run = ansible.play(*tasks)
    for (provider, credentials, field), result in zip(BAD, run.results):
        assert result['failed'], (provider, credentials)
        assert 'provider %s' % provider in result['msg'] and field in result['msg'], result['msg']
        assert 'Traceback' not in result.get('module_stderr', '')
    assert sandbox.requests == []
    assert_no_secret(run.output, set(v for dummy, c, dummy in BAD for k, v in c.items()
                                     if k in ('password', 'token', 'secretaccesskey', 'clientsecret')
                                     and isinstance(v, str) and len(v) > 2))


@pytest.mark.parametrize('args,message', [
    (dict(provider='custom'), 'name is required for provider custom'),
    (dict(provider='ghcr', name='other', credentials=GOOD['ghcr']), 'provider ghcr is built in'),
    (dict(provider='hub', state='absent'), 'cannot delete the built-in registry hub'),
    (dict(provider='custom', name='ghcr', credentials=GOOD['custom']), 'belongs to a ghcr registry'),
    (dict(provider='custom', name='forjejo', credentials=GOOD['custom']), 'provider forjejo, which SSM no longer'),
    (dict(provider='custom', name='hotio', state='reset'), 'provider hotio, which SSM no longer knows'),
    (dict(provider='custom', name='nothing-here', state='reset'), 'no registry nothing-here'),
    (dict(provider='ghcr', credentials={'username': 'u', 'tokn': 'x'}), 'tokn do not belong to ghcr'),
    (dict(provider='ghcr', purge=True), 'purge goes with registries'),
])
def test_refusals_write_nothing(ansible, sandbox, args, message):
    run = ansible.play({'squirrel.ssm.ssm_registry': args})
    assert run[0]['failed'] and message in run[0]['msg'], run[0]['msg']
    assert sandbox.writes() == []


def test_info_lists_every_row_with_legacy_ones_and_no_secret(ansible, sandbox):
    run = ansible.play(registry('ghcr', GOOD['ghcr']),
                       {'squirrel.ssm.ssm_registry_info': {}},
                       {'squirrel.ssm.ssm_registry_info': {'provider': 'forjejo'}},
                       dict({'squirrel.ssm.ssm_registry_info': {}}, check_mode=True))
    names = [r['name'] for r in run[1]['registries']]
    assert names == sorted(['acr', 'custom', 'ecr', 'forgejo', 'gcr', 'ghcr', 'gitea', 'gitlab', 'hub', 'lscr',
                            'quay', 'hotio', 'forjejo'][:0] + list(sandbox.rows))
    legacy = run[2]['registries']
    assert len(legacy) == 1 and legacy[0]['credentials'] == {'url': MASK, 'login': MASK, 'password': MASK}
    ghcr = [r for r in run[1]['registries'] if r['name'] == 'ghcr'][0]
    assert ghcr == {'name': 'ghcr', 'provider': 'ghcr', 'full_name': sandbox.rows['ghcr'].get('fullName'),
                    'auth_set': True, 'leftover_credentials': False, 'can_auth': True, 'can_anonymous': True,
                    'credentials': {'username': 'octocat', 'token': MASK}, 'problems': []}
    assert [p['code'] for p in legacy[0]['problems']] == ['legacy_provider', 'leftover_secret']
    assert run[3]['registries'] == run[1]['registries'] and not run[3]['changed']
    assert_no_secret(run.output, secrets_of(('ghcr', GOOD['ghcr'])))


def test_connection_failures_are_clear(ansible, sandbox):
    info = {'squirrel.ssm.ssm_registry_info': {}}
    wrong_key = ansible.play(info, connection=dict(ssm_url=sandbox.url, ssm_api_key='wrong-key-123'))
    assert 'rejected the API key (401)' in wrong_key[0]['msg'] and 'ssm_api_key' in wrong_key[0]['msg']
    unreachable = ansible.play(info, connection=dict(ssm_url='http://127.0.0.1:9', ssm_api_key=API_KEY))
    assert 'cannot reach SSM at http://127.0.0.1:9/api' in unreachable[0]['msg']
    assert 'ssm_url' in unreachable[0]['msg']
    html = ansible.play(info, connection=dict(ssm_url=sandbox.url + '/ui', ssm_api_key=API_KEY))
    assert 'an HTML page' in html[0]['msg'] and "not SSM's API" in html[0]['msg']
    dns = ansible.play(info, connection=dict(ssm_url='http://ssm.invalid', ssm_api_key=API_KEY))
    assert 'cannot reach SSM at http://ssm.invalid/api' in dns[0]['msg']
    wrong_login = ansible.play(info, connection=dict(ssm_url=sandbox.url, ssm_username=USERNAME,
                                                     ssm_password='wrong-password-9'))
    assert 'rejected the login of %s' % USERNAME in wrong_login[0]['msg']
    missing = ansible.play(info, connection=dict(ssm_url=sandbox.url))
    assert 'one of the following is required: ssm_api_key, ssm_username' in missing[0]['msg']
    for run in (wrong_key, unreachable, html, dns, wrong_login, missing):
        assert 'Traceback' not in run.output
        assert_no_secret(run.output, {'wrong-key-123', 'wrong-password-9', API_KEY})
    assert sandbox.writes() == []


def test_trailing_api_is_not_doubled(ansible, sandbox):
    run = ansible.play({'squirrel.ssm.ssm_registry_info': {'name': 'hub'}},
                       connection=dict(ssm_url=sandbox.url + '/api/', ssm_api_key=API_KEY))
    assert run[0]['registries'][0]['name'] == 'hub'
    assert sandbox.requests[0]['path'] == '/api/container-registries'


def test_username_and_password_log_in_once(ansible, sandbox):
    run = ansible.play(registry('quay', GOOD['quay']),
                       connection=dict(ssm_url=sandbox.url, ssm_username=USERNAME, ssm_password=PASSWORD))
    assert run[0]['changed']
    assert [(r['method'], r['path']) for r in sandbox.requests][:3] == [
        ('POST', '/api/users/login'), ('GET', '/api/container-registries'), ('POST', '/api/container-registries/quay')]
    assert len([r for r in sandbox.requests if r['path'] == '/api/users/login']) == 1


def test_environment_variables_set_the_connection(ansible, sandbox):
    run = ansible.play(registry('lscr', GOOD['lscr']), connection=None,
                       env=dict(SSM_URL=sandbox.url, SSM_API_KEY=API_KEY, SSM_TIMEOUT='5'))
    assert run[0]['changed'] and run[0]['action'] == 'updated'


def test_adhoc_commands(ansible, sandbox):
    env = dict(SSM_URL=sandbox.url, SSM_API_KEY=API_KEY)
    set_one = ansible.adhoc('squirrel.ssm.ssm_registry', 'provider=ghcr credentials={"username":"octocat",'
                            '"token":"adhoc-token-value"}', env=env)
    assert set_one.rc == 0 and 'CHANGED' in set_one.output
    listed = ansible.adhoc('squirrel.ssm.ssm_registry_info', 'name=ghcr', env=env)
    assert listed.rc == 0 and '"username": "octocat"' in listed.output
    assert_no_secret(set_one.output + listed.output, {'adhoc-token-value', API_KEY})


def test_no_secret_at_vvvv_with_diff(ansible, sandbox):
    """Creates, updates, check mode, a validation failure, the info module: nothing secret anywhere."""
    tasks = []
    for provider in sorted(GOOD):
        tasks += [registry(provider, GOOD[provider]), dict(registry(provider, rotated(provider)), check_mode=True),
                  registry(provider, rotated(provider))]
    tasks += [registry('custom', {'url': 'http://r', 'login': 'a', 'password': 'p4ssw0rd-in-error',
                                  'auth': 'cm9ib3Q6eA=='}),
              {'squirrel.ssm.ssm_registry_info': {}}]
    run = ansible.play(*tasks,
                       connection=dict(ssm_url=sandbox.url, ssm_username=USERNAME, ssm_password=PASSWORD))
    assert run.rc == 0 and len(run.results) == len(tasks)
    assert run.results[-2]['failed']
    assert 'ssm_password' in run.output and 'EXEC' in run.output and '"invocation"' in run.output  # really -vvvv
    assert_no_secret(run.output, secrets_of(*[(p, GOOD[p]) for p in GOOD] + [(p, rotated(p)) for p in GOOD])
                     | {'p4ssw0rd-in-error', 'cm9ib3Q6eA=='})


def test_reset_and_absent_need_no_credential_source_and_invent_no_row(ansible, sandbox, tmp_path):
    """A reset reads no gcr_key_file (it sends no credentials); absent on a missing registry returns no row
    and, in list form, no diff that reads like a creation."""
    missing = str(tmp_path / 'no-such-key.json')
    run = ansible.play(
        registry('gcr', state='reset', gcr_key_file=missing),
        registry('custom', state='absent'),
        {'squirrel.ssm.ssm_registry': {'registries': [{'provider': 'custom', 'name': 'gone', 'state': 'absent'}]}},
    )
    assert not run[0].get('failed') and run[0]['action'] == 'unchanged', run[0].get('msg')
    assert run[1]['action'] == 'unchanged' and run[1]['registry'] is None
    assert run[2]['changed'] is False and run[2]['diff'] == []
    assert own_writes(sandbox) == []
