"""ssm_api_version pinned to the API the server does not serve: a message naming the pin and what the server looks
like, never SSM's own 404 text; nothing is written. Also across an upgrade: a playbook pinned to '0.1' for a v0.1
SSM, run again after that SSM was upgraded to v0.5 on the same database."""
from tests.integration.conftest import API_KEY, PASSWORD, USERNAME
from tests.sandbox.ssm_sandbox import Sandbox

GHCR = {'squirrel.ssm.ssm_registry': dict(provider='ghcr', credentials=dict(username='octocat', token='pin-ghcr-t0ken'))}
INFO = {'squirrel.ssm.ssm_registry_info': {}}


def test_pin_0_1_against_v0_5(ansible, sandbox):
    for connection in (dict(ssm_url=sandbox.url, ssm_api_key=API_KEY),
                       dict(ssm_url=sandbox.url, ssm_username=USERNAME, ssm_password=PASSWORD)):
        sandbox.clear_requests()
        run = ansible.play(GHCR, INFO, connection=dict(connection, ssm_api_version='0.1'))
        for result in run.results:
            assert result['failed'] and result['msg'] == (
                "ssm_api_version (SSM_API_VERSION) is pinned to '0.1', but SSM at %s/api has no registry API of SSM 0.1 "
                "(404 on /containers/registries); it answers like SSM 0.5 (its registry list is at "
                "/container-registries): set ssm_api_version to '0.5', or leave it out to detect the API" % sandbox.url)
            assert 'Container with ID' not in result['msg']
        assert sandbox.writes() == [] and sandbox.rows['ghcr']['authSet'] is False


def test_pin_0_5_against_v0_1(ansible):
    with Sandbox(api_key=API_KEY, username=USERNAME, password=PASSWORD, version='0.1') as old:
        login = dict(ssm_url=old.url, ssm_username=USERNAME, ssm_password=PASSWORD, ssm_api_version='0.5')
        run = ansible.play(GHCR, INFO, connection=login)
        for result in run.results:
            assert result['failed'] and "is pinned to '0.5'" in result['msg'], result
            assert "it answers like SSM 0.1 (its registry list is at /containers/registries): set ssm_api_version " \
                   "to '0.1'" in result['msg'] and 'HTML' not in result['msg'] and 'Cannot GET' not in result['msg']
        assert old.writes() == []


def test_pin_to_neither_api(ansible, sandbox):
    """Neither registry path answers (a 404 on v0.5's, and v0.5 has no v0.1 path): the message says so."""
    sandbox.add_faults([dict(method='GET', path_prefix='/api/container-registries', action='status', status=404)])
    run = ansible.play(INFO, connection=dict(ssm_url=sandbox.url, ssm_api_key=API_KEY, ssm_api_version='0.5'))
    assert run[0]['failed'] and "is pinned to '0.5'" in run[0]['msg']
    assert 'does not answer on the path of SSM 0.1 (/containers/registries) either' in run[0]['msg']
    assert "check that ssm_url (SSM_URL) is the address of SSM's web UI" in run[0]['msg']


def test_a_v0_1_pin_after_the_upgrade_is_named(ansible):
    with Sandbox(api_key=API_KEY, username=USERNAME, password=PASSWORD, version='0.1') as server:
        login = dict(ssm_url=server.url, ssm_username=USERNAME, ssm_password=PASSWORD, ssm_api_version='0.1')
        assert ansible.play(GHCR, connection=login)[0]['changed']
        assert server.upgrade('0.5') is True
        run = ansible.play(GHCR, connection=login)
        assert run[0]['failed'] and "is pinned to '0.1'" in run[0]['msg'] and "set ssm_api_version to '0.5'" in run[0]['msg']
        unpinned = dict(login)
        del unpinned['ssm_api_version']
        again = ansible.play(GHCR, connection=unpinned)
        assert again.rc == 0 and again[0]['changed'] is False and server.writes() == []
