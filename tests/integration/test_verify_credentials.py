"""verify_credentials: ssm_registry logs in to a real registry (Debian's docker-registry) before writing."""
import base64

from tests.integration.conftest import API_KEY
from tests.realreg.registries import (  # noqa: F401  pylint: disable=unused-import
    USERS, basic_registry, token_registry, token_server, workdir)


def custom(url, **credentials):
    return {'squirrel.ssm.ssm_registry': dict(provider='custom', name='private', verify_credentials=True,
                                              credentials=dict(url=url, **credentials))}


def test_good_credentials_are_verified_then_stored(ansible, sandbox, basic_registry, token_registry):
    auth = base64.b64encode(('rotor:' + USERS['rotor']).encode()).decode()
    run = ansible.play(custom(basic_registry.url, login='alice', password=USERS['alice']),
                       dict(custom(token_registry.url, auth=auth), check_mode=True))
    assert run[0]['changed'] and run[0]['verified'] is True and run[0]['action'] == 'created'
    assert run[1]['verified'] is True and run[1]['changed']
    assert [w['method'] for w in sandbox.writes()] == ['PUT']
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
