"""verify_credentials: ssm_registry logs in to a real registry (Debian's docker-registry) before writing."""
import base64

from tests.integration.conftest import API_KEY, own_writes
from tests.realreg.registries import (  # noqa: F401  pylint: disable=unused-import
    USERS, aws_iam, basic_registry, open_registry, token_registry, token_server, workdir)


def custom(url, **credentials):
    return {'squirrel.ssm.ssm_registry': dict(provider='custom', name='private', verify_credentials=True,
                                              credentials=dict(url=url, **credentials))}


def test_good_credentials_are_verified_then_stored(ansible, sandbox, basic_registry, token_registry):
    auth = base64.b64encode(('rotor:' + USERS['rotor']).encode()).decode()
    run = ansible.play(custom(basic_registry.url, login='alice', password=USERS['alice']),
                       dict(custom(token_registry.url, auth=auth), check_mode=True))
    assert run[0]['changed'] and run[0]['verified'] is True and run[0]['action'] == 'created'
    assert run[1]['verified'] is True and run[1]['changed']
    assert [w['method'] for w in own_writes(sandbox)] == ['PUT']
    assert USERS['alice'] not in run.output and USERS['rotor'] not in run.output


def test_rejected_credentials_write_nothing(ansible, sandbox, basic_registry, token_registry):
    run = ansible.play(custom(basic_registry.url, login='alice', password='not-her-password'),
                       custom(token_registry.url, login='alice', password='not-her-password'),
                       dict(custom(token_registry.url, login='alice', password='not-her-password'), check_mode=True),
                       {'squirrel.ssm.ssm_registry': dict(
                           verify_credentials=True, registries=[
                               dict(provider='ghcr', credentials={'username': 'octocat', 'token': USERS['octocat']},
                                    registry_url=token_registry.url),
                               dict(provider='quay', credentials={'namespace': 'myorg', 'account': 'robot',
                                                                  'token': 'wrong-quay-token'},
                                    registry_url=token_registry.url)])})
    for result in run.results:
        assert result['failed'] and 'rejected the credentials' in result['msg'], result['msg']
        assert 'Nothing was written to SSM' in result['msg']
    assert 'registries[1] (quay)' in run[3]['msg']
    assert sandbox.writes() == []
    assert 'not-her-password' not in run.output and 'wrong-quay-token' not in run.output


def test_an_unreachable_registry_is_named(ansible, sandbox):
    run = ansible.play(custom('http://127.0.0.1:9', login='a', password='some-password'))
    assert run[0]['failed'] and 'cannot reach registry http://127.0.0.1:9' in run[0]['msg']
    assert sandbox.writes() == [] and API_KEY not in run.output


def test_info_reports_which_stored_credentials_work(ansible, sandbox, basic_registry):
    user = 'rotor'
    ansible.play({'squirrel.ssm.ssm_registry': dict(registries=[
        dict(provider='custom', name='works', credentials=dict(url=basic_registry.url, login='alice',
                                                               password=USERS['alice'])),
        dict(provider='custom', name='rotated', credentials=dict(url=basic_registry.url, login=user,
                                                                 password=USERS[user]))])})
    sandbox.clear_requests()
    old_password = USERS[user]
    basic_registry.set_password(user, 'rotated-' + old_password)
    try:
        run = ansible.play({'squirrel.ssm.ssm_registry_info': {'verify_credentials': True}})
    finally:
        basic_registry.set_password(user, old_password)
    rows = dict((row['name'], row) for row in run[0]['registries'])
    assert rows['works']['verified'] is True
    assert rows['rotated']['verified'] is False and 'rejected' in rows['rotated']['verify_msg']
    assert rows['hub']['verified'] is None and rows['hotio']['verified'] is None
    assert rows['forjejo']['verified'] is None
    codes = dict((name, [p['code'] for p in row['problems']]) for name, row in rows.items())
    assert codes['works'] == [] and codes['rotated'] == ['credentials_rejected']
    assert sandbox.writes() == [] and old_password not in run.output


def test_ecr_keys_checked_against_aws(ansible, sandbox, aws_iam):
    env = dict(AWS_ENDPOINT_URL_ECR=aws_iam['endpoint'])
    good = dict(accesskeyid=aws_iam['accesskeyid'], secretaccesskey=aws_iam['secretaccesskey'], region='eu-west-1')
    bad = dict(good, secretaccesskey=good['secretaccesskey'][:-4] + 'AAAA')
    run = ansible.play({'squirrel.ssm.ssm_registry': dict(provider='ecr', credentials=bad, verify_credentials=True)},
                       {'squirrel.ssm.ssm_registry': dict(provider='ecr', credentials=good, verify_credentials=True)},
                       env=env)
    assert run[0]['failed'] and 'rejected' in run[0]['msg'] and sandbox.rows['ecr'].get('auth') != bad
    assert run[1]['changed'] and run[1]['verified'] is True
    assert [w['method'] for w in own_writes(sandbox)] == ['POST']
    assert good['secretaccesskey'] not in run.output and bad['secretaccesskey'] not in run.output


def test_ecr_keys_from_the_environment(ansible, sandbox):
    env = dict(AWS_ACCESS_KEY_ID='AKIAENVIRONMENT00001', AWS_SECRET_ACCESS_KEY='env-secret-access-key',
               AWS_DEFAULT_REGION='eu-central-1', AWS_CONFIG_FILE='/nonexistent', AWS_SHARED_CREDENTIALS_FILE='/none')
    task = {'squirrel.ssm.ssm_registry': dict(provider='ecr', ecr_keys_from='environment')}
    run = ansible.play(task, env=env)
    assert run[0]['changed']
    assert sandbox.rows['ecr']['auth'] == {'accesskeyid': 'AKIAENVIRONMENT00001',
                                           'secretaccesskey': 'env-secret-access-key', 'region': 'eu-central-1'}
    temporary = ansible.play(task, env=dict(env, AWS_SESSION_TOKEN='session-token-value'))
    assert temporary[0]['failed'] and 'SSM can only store long-term' in temporary[0]['msg']
    assert 'env-secret-access-key' not in run.output + temporary.output


def test_gcr_key_file(ansible, sandbox, tmp_path):
    import json
    from tests.realreg.registries import new_rsa_key, pem_of
    key_file = tmp_path / 'sa.json'
    private_key = pem_of(new_rsa_key())
    key_file.write_text(json.dumps({'type': 'service_account', 'client_email': 'ssm@p.iam.gserviceaccount.com',
                                    'private_key': private_key, 'token_uri': 'https://oauth2.googleapis.com/token'}))
    broken = tmp_path / 'broken.json'
    broken.write_text(json.dumps({'type': 'service_account', 'client_email': 'a@b.c',
                                  'private_key': private_key[:200]}))
    run = ansible.play({'squirrel.ssm.ssm_registry': dict(provider='gcr', gcr_key_file=str(key_file))},
                       {'squirrel.ssm.ssm_registry': dict(provider='gcr', gcr_key_file=str(broken))},
                       {'squirrel.ssm.ssm_registry': dict(provider='ghcr', gcr_key_file=str(key_file))})
    stored = {'clientemail': 'ssm@p.iam.gserviceaccount.com', 'privatekey': private_key}
    assert run[0]['changed'] and sandbox.rows['gcr']['auth'] == stored
    assert run[1]['failed'] and 'cannot be loaded' in run[1]['msg']
    assert run[2]['failed'] and 'gcr_key_file is for provider gcr' in run[2]['msg']
    assert [w['method'] for w in own_writes(sandbox)] == ['POST']
    for line in private_key.splitlines()[1:-1]:
        assert line not in run.output


def test_credentials_that_cannot_be_checked_fail_unless_allowed(ansible, sandbox):
    acr = dict(provider='acr', verify_credentials=True,
               credentials={'clientid': '5f1c9e1e-0000-4000-8000-000000000001', 'clientsecret': 'acr-unchecked-1'})
    run = ansible.play({'squirrel.ssm.ssm_registry': acr},
                       {'squirrel.ssm.ssm_registry': dict(registries=[dict(provider='acr',
                                                                           credentials=acr['credentials'])],
                                                          verify_credentials=True)})
    for result in run.results:
        assert result['failed'] and 'acr_login_server' in result['msg'] and 'allow_unverified' in result['msg']
        assert 'Nothing was written' in result['msg']
    assert sandbox.requests == []  # known before any request
    allowed = ansible.play({'squirrel.ssm.ssm_registry': dict(acr, allow_unverified=True)})
    assert allowed[0]['changed'] and allowed[0]['verified'] is None and 'acr_login_server' in allowed[0]['verify_msg']


def test_an_open_registry_cannot_check_credentials(ansible, sandbox, open_registry):
    task = custom(open_registry.url, login='alice', password='open-registry-pw')
    run = ansible.play(task, {'squirrel.ssm.ssm_registry': dict(task['squirrel.ssm.ssm_registry'],
                                                                allow_unverified=True)})
    assert run[0]['failed'] and 'could not be checked' in run[0]['msg'] and 'is open' in run[0]['msg']
    assert run[1]['changed'] and run[1]['verified'] is None
    assert [w['method'] for w in own_writes(sandbox)] == ['PUT']
