"""The launcher itself, against every source of SSM_SOURCE (skipped when it is unset)."""
import pytest
import requests

from tests.realssm import RealSSM, sources_from_env
from tests.realssm.fixtures import SKIP_REASON, real_ssm, source_id  # noqa: F401  pylint: disable=unused-import
from tests.realssm.procs import alive

if not sources_from_env():
    pytest.skip(SKIP_REASON, allow_module_level=True)


@pytest.mark.parametrize('source', sources_from_env(), ids=source_id)
def test_start_authenticate_stop(source):
    ssm = RealSSM(source)
    try:
        ssm.start()
        if ssm.version == '0.5':
            route = '/api/container-registries'
            ok = requests.get(ssm.url + route, headers={'Authorization': f'Bearer {ssm.api_key}'}, timeout=15)
            assert ok.status_code == 200, ok.text
            assert len(ok.json()['data']['registries']) == 10
            bad = requests.get(ssm.url + route, headers={'Authorization': 'Bearer nope'}, timeout=15)
            assert bad.status_code == 401
        else:
            assert ssm.api_key is None
            route = '/api/containers/registries/'
            session = requests.Session()
            login = session.post(ssm.url + '/api/users/login',
                                 json={'username': ssm.username, 'password': ssm.password}, timeout=15)
            assert login.status_code == 200, login.text
            assert 'jwt' in session.cookies
            ok = session.get(ssm.url + route, timeout=15)
            assert ok.status_code == 200, ok.text
            assert requests.get(ssm.url + route, timeout=15).status_code == 401
        assert len(ssm.rows()) == 10
        assert [r['path'] for r in ssm.requests()][-1] == route
        assert ssm.writes() == []
        ssm.clear_requests()
        assert ssm.requests() == []
        assert ssm.registering(), 'the start-up reload was not seen in the log'
    finally:
        pids = ssm.pids()
        ssm.stop()
    assert pids and not [pid for pid in pids.values() if alive(pid)]
    assert ssm.pids() == {}


@pytest.mark.parametrize('source', sources_from_env(), ids=source_id)
def test_insert_row_restart_reset(real_ssm, source):  # pylint: disable=redefined-outer-name
    ssm = real_ssm(source)
    ssm.reset()
    ssm.insert_row({'name': 'hotio', 'provider': 'hotio', 'authScheme': [], 'authSet': False, 'canAuth': False,
                    'canAnonymous': True})
    assert 'hotio' in [row['name'] for row in ssm.rows()]
    assert ssm.restart() is True
    assert 'hotio' in [row['name'] for row in ssm.rows()]
    ssm.reset()
    assert sorted(row['name'] for row in ssm.rows()) == sorted(
        ['ecr', 'ghcr', 'gcr', 'hub', 'quay', 'acr', 'gitea', 'forgejo', 'lscr', 'gitlab'])
    assert ssm.requests() == [] and ssm.registering() == []
