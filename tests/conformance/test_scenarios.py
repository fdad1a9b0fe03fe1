"""The scenarios every SSM must pass the same way: ansible-playbook runs of the installed collection, and what
SSM then stores, read through SSM's own API."""
import copy
import json

from ansible_collections.squirrel.ssm.plugins.module_utils.providers import MASK
from ansible_collections.squirrel.ssm.tests.cases import GOOD

GHCR = {'username': 'octocat', 'token': 'conformance-ghcr-token-1'}
QUAY = {'namespace': 'myorg', 'account': 'ssm', 'token': 'conformance-quay-token-1'}
HARBOR = {'url': 'https://harbor.example.com', 'login': 'robot', 'password': 'conformance-harbor-pass'}
MIRROR = {'url': 'http://mirror.example.com:5000', 'login': 'pull', 'password': 'conformance-mirror-pass'}


def every_provider():
    return [dict(provider=p, name='my-custom' if p == 'custom' else p, credentials=copy.deepcopy(GOOD[p]))
            for p in sorted(GOOD)]


def converge(registries, purge=False, **extra):
    return {'squirrel.ssm.ssm_registry': dict(registries=registries, purge=purge, **extra)}


def one(provider, **args):
    return {'squirrel.ssm.ssm_registry': dict(provider=provider, **args)}


def secret_values(*credential_sets):
    return [value for credentials in credential_sets for name, value in credentials.items()
            if name in ('token', 'password', 'auth', 'clientsecret', 'secretaccesskey', 'privatekey')]


def assert_secret_free(target, name, *secrets):
    """SSM does not use credentials for the row, and none of its old secret values is stored any more."""
    row = target.rows()[name]
    assert row['authSet'] is False
    assert not any(value not in (None, '') for value in (row.get('auth') or {}).values()), row.get('auth')
    stored = json.dumps(target.rows())
    assert not [s for s in secrets if s in stored], 'a reset left a secret stored in SSM'


def assert_reloaded(target, before):
    """SSM itself says it registered its registries again after the run; v0.5 counts the rows whose
    credentials are set (v0.1 counts by provider, anonymous ones included)."""
    if target.registering() is None:
        return
    lines = target.registering()[before:]
    assert lines, 'SSM did not load its registries again'
    if target.version == '0.5':
        assert lines[-1] == sum(1 for row in target.rows().values() if row.get('authSet'))


def test_every_provider_present_then_nothing_to_write(scenario, target):
    known = set(row['provider'] for row in target.rows().values()) | {'custom'}
    declared = [r for r in every_provider() if r['provider'] in known]
    assert len(declared) == len(GOOD) or target.version == '0.1', 'SSM v0.5 knows every provider'
    first = scenario.play(converge(declared))
    assert first.rc == 0, first.output[-2000:]
    assert first[0]['changed'] and all(r['changed'] for r in first[0]['results'])
    stored = target.rows()
    for registry in declared:
        row = stored[registry['name']]
        assert row['authSet'] is True and row['auth'] == registry['credentials'], registry['name']
    second = scenario.play(converge(declared))
    assert second[0]['changed'] is False and second.writes == []
    # One read; on v0.1 one more, the 404 on the v0.5 path that tells the versions apart (ssm_api_version: auto).
    # A blip the client retried (a 5xx of a busy server or its proxy) is not a read of its own.
    reads = [r['method'] for r in second.requests if '/users/' not in r['path'] and (r['status'] or 0) < 500]
    assert reads == ['GET'] * (2 if target.version == '0.1' else 1), second.requests


def test_check_mode_predicts_exactly(scenario, target):
    scenario.play(converge([dict(provider='ghcr', credentials=GHCR),
                            dict(provider='custom', name='old', credentials=MIRROR)]))
    declared = [dict(provider='ghcr', state='reset'), dict(provider='quay', credentials=QUAY),
                dict(provider='custom', name='harbor', credentials=HARBOR)]
    before = target.rows()
    predicted = scenario.play(converge(declared, purge=True), check=True)
    assert predicted.writes == [] and target.rows() == before
    done = scenario.play(converge(declared, purge=True))
    for key in ('changed', 'results', 'purged', 'reloaded', 'diff'):
        assert predicted[0].get(key) == done[0].get(key), key
    assert scenario.play(converge(declared, purge=True), check=True)[0]['changed'] is False


def test_diff_shows_what_changes_and_never_a_secret(scenario, target):
    scenario.play(one('ghcr', credentials=GHCR))
    run = scenario.play(one('ghcr', credentials=dict(GHCR, token='conformance-ghcr-token-2')), diff=True)
    diff = run[0]['diff']
    assert diff['before']['credentials'] == {'username': 'octocat', 'token': MASK}
    assert diff['after']['credentials'] == {'username': 'octocat', 'token': MASK + ' (changed)'}


def test_update_and_drift_converge(scenario, target):
    scenario.play(one('ghcr', credentials=GHCR))
    # Someone changes the row behind the collection's back, as the web UI or another client would.
    target.api('POST', 'ghcr', {'auth': {'username': 'someone', 'token': 'conformance-drift-token'}})
    run = scenario.play(one('ghcr', credentials=GHCR))
    assert run[0]['action'] == 'updated' and target.rows()['ghcr']['auth'] == GHCR
    again = scenario.play(one('ghcr', credentials=GHCR))
    assert again[0]['changed'] is False and again.writes == []


def test_set_credentials_are_loaded_by_ssm(scenario, target):
    target.requires('log')
    mark = len(target.registering())
    run = scenario.play(one('ghcr', credentials=GHCR))
    assert run[0]['changed']
    assert_reloaded(target, mark)
    assert not [name for name in target.rows() if name.startswith('squirrel-ssm-reload-')]


def test_reset_leaves_no_secret_and_converges(scenario, target):
    scenario.play(one('ghcr', credentials=GHCR))
    mark = len(target.registering() or [])
    run = scenario.play(one('ghcr', state='reset'))
    assert run.rc == 0 and run[0]['action'] == 'reset', run.output[-2000:]
    assert run[0]['registry']['auth_set'] is False and run[0]['registry']['leftover_credentials'] is False
    assert_secret_free(target, 'ghcr', GHCR['token'])
    assert_reloaded(target, mark)
    again = scenario.play(one('ghcr', state='reset'))
    assert again[0]['changed'] is False and again.writes == []


def test_a_reset_by_ssm_alone_is_finished(scenario, target):
    scenario.play(one('quay', credentials=QUAY))
    target.api('PATCH', 'quay')  # SSM's Reset button
    info = scenario.play({'squirrel.ssm.ssm_registry_info': {'name': 'quay'}})
    row = info[0]['registries'][0]
    if target.rows()['quay'].get('auth'):  # SSM kept the values
        assert row['leftover_credentials'] is True and row['credentials']['token'] == MASK
    run = scenario.play(one('quay', state='reset'))
    assert_secret_free(target, 'quay', QUAY['token'])
    assert scenario.play(one('quay', state='reset')).writes == []
    assert run.rc == 0


def test_absent_deletes_then_changes_nothing(scenario, target):
    scenario.play(one('custom', name='harbor', credentials=HARBOR))
    run = scenario.play(one('custom', name='harbor', state='absent'))
    assert run[0]['action'] == 'deleted' and run[0]['registry'] is None and 'harbor' not in target.rows()
    again = scenario.play(one('custom', name='harbor', state='absent'))
    assert again[0]['changed'] is False and again.writes == [] and again[0]['registry'] is None


def test_purge_makes_ssm_match_the_list(scenario, target):
    scenario.play(converge([dict(provider='ghcr', credentials=GHCR), dict(provider='quay', credentials=QUAY),
                            dict(provider='custom', name='harbor', credentials=HARBOR),
                            dict(provider='custom', name='mirror', credentials=MIRROR)]))
    before = target.rows()
    run = scenario.play(converge([dict(provider='custom', name='harbor', credentials=HARBOR)], purge=True))
    assert run.rc == 0, run.output[-2000:]
    # What the server held beside the scenario's rows (a running SSM's own) is purged by the same rule.
    theirs = sorted((name, 'deleted' if row['provider'] == 'custom' else 'reset') for name, row in before.items()
                    if name not in ('ghcr', 'mirror', 'quay', 'harbor') and row['provider'] in GOOD
                    and (row['provider'] == 'custom' or row.get('authSet') or any((row.get('auth') or {}).values())))
    assert not theirs or target.holds_data, theirs
    assert sorted((p['name'], p['action']) for p in run[0]['purged']) == sorted(
        [('ghcr', 'reset'), ('mirror', 'deleted'), ('quay', 'reset')] + theirs)
    stored = target.rows()
    assert 'mirror' not in stored and stored['harbor']['auth'] == HARBOR
    for name in ('ghcr', 'quay'):
        assert_secret_free(target, name, GHCR['token'], QUAY['token'])
    again = scenario.play(converge([dict(provider='custom', name='harbor', credentials=HARBOR)], purge=True))
    assert again[0]['changed'] is False and again.writes == []


def test_info_lists_every_row_masked(scenario, target):
    scenario.play(converge([dict(provider='ghcr', credentials=GHCR),
                            dict(provider='custom', name='harbor', credentials=HARBOR)]))
    run = scenario.play({'squirrel.ssm.ssm_registry_info': {}})
    rows = dict((r['name'], r) for r in run[0]['registries'])
    assert set(rows) == set(target.rows())
    assert rows['ghcr']['credentials'] == {'username': 'octocat', 'token': MASK} and rows['ghcr']['auth_set']
    assert rows['harbor']['credentials']['password'] == MASK and rows['harbor']['provider'] == 'custom'
    assert rows['quay']['auth_set'] is False and rows['quay']['leftover_credentials'] is False


def test_api_key_and_login(scenario, target):
    target.requires('login')
    login = dict(ssm_url=target.url, ssm_username=target.username, ssm_password=target.password)
    run = scenario.play({'squirrel.ssm.ssm_registry_info': {'name': 'ghcr'}}, connection=login)
    assert run.rc == 0 and run[0]['registries'][0]['name'] == 'ghcr'
    key = dict(ssm_url=target.url, ssm_api_key=target.api_key or 'no-key-on-v0.1')
    run = scenario.play({'squirrel.ssm.ssm_registry_info': {'name': 'ghcr'}}, connection=key)
    if target.version == '0.1':
        assert run[0]['failed'] and 'SSM v0.1 accepts no API key' in run[0]['msg']
    else:
        assert run.rc == 0 and run[0]['registries'][0]['name'] == 'ghcr'


def test_wrong_key_or_password_is_refused_clearly(scenario, target):
    target.requires('login')
    run = scenario.play(one('ghcr', credentials=GHCR),
                        connection=dict(ssm_url=target.url, ssm_api_key='conformance-wrong-key'))
    assert run[0]['failed'] and 'rejected the API key (401)' in run[0]['msg'] and run.writes == []
    run = scenario.play(one('ghcr', credentials=GHCR), connection=dict(
        ssm_url=target.url, ssm_username=target.username, ssm_password='conformance-wrong-pass'))
    assert run[0]['failed'] and 'rejected the login' in run[0]['msg'] and run.writes == []


def test_names_with_spaces(scenario, target):
    had = 'my mirror' in target.rows()
    run = scenario.play(one('custom', name='my mirror', credentials=MIRROR))
    assert run[0]['action'] == ('updated' if had else 'created') and target.rows()['my mirror']['auth'] == MIRROR
    assert scenario.play(one('custom', name='my mirror', credentials=MIRROR)).writes == []
    run = scenario.play(one('custom', name='my mirror', state='absent'))
    assert run[0]['action'] == 'deleted' and 'my mirror' not in target.rows()


def test_names_ssm_cannot_route_are_refused_before_any_request(scenario, target):
    run = scenario.play(one('custom', name='team/mirror', credentials=MIRROR))
    assert run[0]['failed'] and 'contains "/"' in run[0]['msg'] and run.requests == []


def test_version_limits_are_told(scenario, target):
    run = scenario.play(converge([dict(provider='ghcr', credentials=GHCR),
                                  dict(provider='custom', name='harbor', credentials=HARBOR),
                                  dict(provider='custom', name='mirror', credentials=MIRROR)]))
    assert run.rc == 0
    warned = ' '.join(run[0].get('warnings', []))
    if target.version == '0.1':
        assert 'registers only the last custom registry' in warned and 'fails to register ghcr' in warned
    else:
        assert 'registers only the last custom' not in warned
