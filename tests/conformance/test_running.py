"""The running-SSM path itself (tests/conformance/running.py), on the SSM sandbox holding what a user's SSM holds
(rows written by SSM's web UI, a reset by SSM's own PATCH, a row of a provider SSM no longer knows): one run at a
time, the rows saved to a file before anything is written, put back row by row, and what cannot be put back
exactly named in the report, never a secret."""
import json
import os
import stat

import pytest

from tests import webui
from tests.conformance import running
from tests.conformance.conftest import group_of
from tests.harness import Client
from tests.sandbox.ssm_sandbox import Sandbox

KEY, USER, PASSWORD = 'running-key-3', 'admin@example.com', 'running-pass-3'
UI_SECRETS = ['ui-harbor-secret-1', 'cm9ib3Q6dWktbWlycm9yLXNlY3JldC0y', 'ui-ghcr-secret-3', 'ui-hub-secret-4',
              'ui-gitlab-secret-5', 'ui-quay-secret-6']


@pytest.fixture(params=['0.5', '0.1'])
def staging(request, tmp_path, monkeypatch):
    """A sandbox filled as its user filled it: SSM's web UI, an old reset, a legacy row."""
    monkeypatch.setenv('SSM_CONFORMANCE_BACKUP_DIR', str(tmp_path / 'backup'))
    with Sandbox(api_key=KEY, username=USER, password=PASSWORD, version=request.param) as sandbox:
        sandbox.api = Client(sandbox.url + '/api', request.param, KEY, USER, PASSWORD).call
        webui.seed(sandbox.api)
        sandbox.insert_row({'name': 'hotio', 'provider': 'hotio', 'authScheme': [], 'authSet': False,
                            'canAnonymous': True, 'canAuth': False})
        yield sandbox


def connect(staging):
    if staging.version == '0.1':
        return running.RunningSSM(staging.url, None, USER, PASSWORD)
    return running.RunningSSM(staging.url, KEY)


def scramble(ssm):
    """What the scenarios do to a server: clear it, then write their own rows."""
    ssm.reset()
    ssm.call('POST', 'ecr', {'auth': {'accesskeyid': 'a', 'secretaccesskey': 'conformance-s-1', 'region': 'eu-west-1'}})
    ssm.call('POST', 'quay', {'auth': {'namespace': 'x', 'account': 'y', 'token': 'conformance-s-2'}})
    ssm.call('PUT', 'harbor', {'auth': {'url': 'https://h.example', 'login': 'r', 'password': 'conformance-s-3'},
                               'authScheme': webui.PAYLOADS['custom_template_auth_scheme']})
    ssm.reset()
    ssm.call('PUT', 'mirror', {'auth': {'url': 'https://m.example'}, 'authScheme': [{'name': 'url', 'type': 'string'}]})


def test_rows_are_put_back_and_the_report_names_every_difference(staging):
    before = staging.rows()
    ssm = connect(staging).start()
    assert stat.S_IMODE(os.stat(ssm.backup).st_mode) == 0o600
    assert json.load(open(ssm.backup))['rows'] == before
    scramble(ssm)
    assert [r['name'] for r in staging.rows() if r['provider'] == 'custom'] == ['mirror']
    ssm.stop()
    after = staging.rows()
    customs = [r['name'] for r in before if r['provider'] == 'custom']
    assert [r['name'] for r in after if r['provider'] == 'custom'] == customs  # v0.1 uses only the last one
    assert sorted(r['name'] for r in after) == sorted(r['name'] for r in before)
    after_by_name = dict((r['name'], r) for r in after)
    for old in before:
        new = after_by_name[old['name']]
        same = dict((k, v) for k, v in old.items() if k not in running.SERVER_KEYS)
        now = dict((k, v) for k, v in new.items() if k not in running.SERVER_KEYS)
        if 'auth' not in old and now.get('auth') == {}:
            now.pop('auth')
        assert now == same, old['name']
    status = dict((r['name'], (r['status'], r.get('limits'))) for r in ssm.restored)
    assert status['Harbor Prod'] == ('limited', ['recreated']) and status['mirror'] == ('limited', ['recreated'])
    assert status['ecr'][0] == 'limited' and status['ecr'][1][0] == 'auth_key_added'  # had no key: `{}` stays
    assert status['hotio'] == ('exact', []) and status['gcr'] == ('exact', [])
    assert not [name for name, state in status.items() if state[0] == 'lost'], status
    assert not os.path.exists(ssm.backup), 'the saved secrets stay on disk after every row is back'
    text = running.staging_report({('a scenario', 'running'): 'passed', ('another', 'running'): 'skipped'},
                                  {('another', 'running'): 'needs the database'}, 0, url=staging.url)
    assert 'close    Harbor Prod (custom): new `_id` and `createdAt`' in text and 'NOT BACK' not in text and 'needs the database' in text
    assert not [s for s in UI_SECRETS + [KEY, PASSWORD] if s in text + json.dumps(ssm.restored)]


def test_a_row_that_is_not_back_is_reported_and_its_file_kept(staging):
    ssm = connect(staging).start()
    saved = [dict(row) for row in json.load(open(ssm.backup))['rows']]
    ssm.reset()
    report = running.compare(saved, [r for r in staging.rows() if r['name'] != 'gitlab'])
    lost = dict((r['name'], r['notes']) for r in report if r['status'] == 'lost')
    assert lost['gitlab'] == ['missing after the suite']
    assert lost['Harbor Prod'] == ['missing after the suite'] and lost['ghcr'][0].startswith('`auth` differs in ')
    ssm.stop()


def test_one_run_at_a_time_and_an_interrupted_run_is_put_back_first(staging, monkeypatch):
    first = connect(staging).start()
    with pytest.raises(running.RunningSSMError, match='another run of the suite is using'):
        connect(staging).start()
    scramble(first)
    # The run dies without its restore (SIGKILL, a power cut): the lock goes with it, the saved rows stay.
    first._server.shutdown()  # pylint: disable=protected-access
    first._release_lock()  # pylint: disable=protected-access
    with pytest.raises(running.RunningSSMError, match='could not put back the rows'):
        connect(staging).start()
    assert 'Harbor Prod' not in [r['name'] for r in staging.rows()]
    if staging.version == '0.1':
        monkeypatch.setenv('SSM_CONFORMANCE_USERNAME', USER)
        monkeypatch.setenv('SSM_CONFORMANCE_PASSWORD', PASSWORD)
    else:
        monkeypatch.setenv('SSM_CONFORMANCE_API_KEY', KEY)
    assert running.main(['restore', first.backup]) == 0
    assert not os.path.exists(first.backup)
    stored = dict((r['name'], r) for r in staging.rows())
    assert stored['Harbor Prod']['auth']['newName'] == 'Harbor Prod' and 'mirror' in stored
    assert stored['quay']['authSet'] is False and stored['quay']['auth']['token'] == 'ui-quay-secret-6'
    connect(staging).start().stop()  # the next run goes ahead


def test_every_test_of_a_target_is_in_its_group():
    assert group_of('tests/conformance/test_scenarios.py::test_purge_makes_ssm_match_the_list[running]') == 'running'
    assert group_of('tests/conformance/test_x.py::test_example_on_real_ssm[README.md:83-running]') == 'running'
    assert group_of('tests/conformance/test_scenarios.py::test_x[sandbox-fixed]') is None
    assert group_of('tests/conformance/test_x.py::test_example_on_real_ssm[docs/running.md:3-real-v0.5.2]') is None
    assert group_of('tests/conformance/test_running.py::test_every_test_of_a_target_is_in_its_group') is None


def test_what_a_running_ssm_cannot_do_skips_with_its_reason():
    ssm = running.RunningSSM('http://127.0.0.1:1', 'key')
    for call, reason in ((lambda: ssm.insert_row({}), 'database'), (ssm.restart, 'restarted'), (ssm.log, 'log')):
        with pytest.raises(pytest.skip.Exception, match=reason):
            call()
