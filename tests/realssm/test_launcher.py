"""The launcher itself, against every source of SSM_SOURCE (skipped when it is unset)."""
import pytest
import requests

from tests.realssm import RealSSM, Source, sources_from_env
from tests.realssm.fixtures import SKIP_REASON, real_ssm, source_id, upgrade_pairs  # noqa: F401  pylint: disable=unused-import
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


def _pair_id(pair):
    return '->'.join(source_id(source) for source in pair) if pair else 'none'


@pytest.mark.parametrize('pair', upgrade_pairs() or [pytest.param(
    None, marks=pytest.mark.skip(reason='SSM_SOURCE holds no v0.1.x and v0.5.x pair'))], ids=_pair_id)
def test_upgrade_swaps_the_server_and_keeps_the_database(pair):
    old, new = pair
    ssm = RealSSM(old)
    try:
        ssm.start()
        assert ssm.version == '0.1'
        kept = dict((name, pid) for name, pid in ssm.pids().items() if name != 'server')
        old_server = ssm.pids()['server']
        ssm.insert_row({'name': 'kept-row', 'provider': 'custom', 'authScheme': [], 'authSet': True,
                        'auth': {'url': 'https://kept.example.com', 'login': 'l', 'password': 'launcher-pw'},
                        'canAuth': True, 'canAnonymous': False})
        rows_before = ssm.db_rows()
        assert ssm.upgrade(new) is True
        assert (ssm.version, ssm.label, ssm.upgraded_from) == ('0.5', Source(new).label, Source(old).label)
        assert not alive(old_server) and ssm.pids()['server'] != old_server
        assert dict((name, pid) for name, pid in ssm.pids().items() if name != 'server') == kept
        assert ssm.db_rows() == rows_before
        assert ssm.registering() == [sum(1 for row in rows_before if row.get('authSet'))]
        assert 'Configuration registered will be processed' not in ssm.log()
        assert 'Configuration registered will be processed' in ssm.log(full=True)
        assert ssm.requests() == []
        # The v0.1 admin's API key is v0.5's Bearer key; the login still works too.
        assert ssm.api_key
        answer = requests.get(ssm.url + '/api/container-registries',
                              headers={'Authorization': f'Bearer {ssm.api_key}'}, timeout=15)
        assert answer.status_code == 200 and len(answer.json()['data']['registries']) == len(rows_before)
        login = requests.post(ssm.url + '/api/users/login', json={'username': ssm.username,
                                                                  'password': ssm.password}, timeout=15)
        assert login.status_code == 201, login.text
        ssm.reset()
        assert len(ssm.rows()) == 10 and ssm.requests() == [] and ssm.registering() == []
    finally:
        pids = ssm.pids()
        ssm.stop()
    assert pids and not [pid for pid in pids.values() if alive(pid)]
