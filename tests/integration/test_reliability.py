"""Faults, concurrency, load, TLS and SSM v0.1: the module ends in the wanted state or says exactly why not."""
import threading

import pytest

from ansible_collections.squirrel.ssm.tests.cases import GOOD
from tests.integration.conftest import API_KEY, PASSWORD, USERNAME
from tests.sandbox.ssm_sandbox import Sandbox

GHCR = {'squirrel.ssm.ssm_registry': dict(provider='ghcr', credentials=GOOD['ghcr'])}
INFO = {'squirrel.ssm.ssm_registry_info': {}}
REGISTRIES = '/api/container-registries'


def at_once(ansible, task, count):
    """Run `count` playbooks of `task` at the same time; return their runs."""
    runs = [None] * count

    def play(index):
        runs[index] = ansible.play(task)

    threads = [threading.Thread(target=play, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return runs


def methods(sandbox):
    return [(r['method'], r['status']) for r in sandbox.requests]


def test_reads_are_retried_on_5xx_429_and_dropped_connections(ansible, sandbox):
    sandbox.add_faults([dict(method='GET', action='status', status=503, times=2)])
    run = ansible.play(INFO)
    assert not run[0].get('failed') and len(run[0]['registries']) == len(sandbox.rows)
    assert methods(sandbox) == [('GET', 503), ('GET', 503), ('GET', 200)]
    sandbox.reset()
    sandbox.add_faults([dict(method='GET', action='status', status=429), dict(method='GET', action='drop', nth=2)])
    run = ansible.play(INFO)
    assert not run[0].get('failed')
    assert methods(sandbox) == [('GET', 429), ('GET', None), ('GET', 200)]


def test_a_write_that_landed_without_an_answer_is_not_written_twice(ansible, sandbox):
    sandbox.add_faults([dict(method='POST', action='drop', apply_then_fail=True)])
    run = ansible.play(GHCR)
    assert run[0]['changed'] and run[0]['action'] == 'updated'
    assert methods(sandbox)[:3] == [('GET', 200), ('POST', None), ('GET', 200)]
    assert [method for method, status in methods(sandbox)[3:]] == ['PUT', 'DELETE']  # SSM made to load it
    assert sandbox.rows['ghcr']['auth'] == GOOD['ghcr']


def test_a_write_that_failed_is_written_again_after_a_read(ansible, sandbox):
    sandbox.add_faults([dict(method='POST', action='status', status=502)])
    run = ansible.play(GHCR)
    assert run[0]['changed'] and sandbox.rows['ghcr']['auth'] == GOOD['ghcr']
    # The retried POST gets v0.5.2's 500-after-write: confirmed by one more read, not retried.
    assert methods(sandbox)[:6] == [('GET', 200), ('POST', 502), ('GET', 200), ('POST', 500), ('GET', 200),
                                    ('PUT', 200)]


def test_a_write_that_keeps_failing_says_what_ssm_holds(ansible, sandbox):
    sandbox.add_faults([dict(method='POST', action='status', status=500, times=10)])
    run = ansible.play({'squirrel.ssm.ssm_registry': dict(registries=[
        dict(provider='custom', name='first', credentials={'url': 'https://first.example'}),
        dict(provider='ghcr', credentials=GOOD['ghcr']),
        dict(provider='quay', credentials=GOOD['quay'])])})
    message = run[0]['msg']
    assert run[0]['failed'] and 'updating ghcr: SSM refused POST' in message and '(HTTP 500)' in message
    assert 'Already written: first (created)' in message and 'Not written: quay' in message
    assert 'ghcr may or may not be updated' in message
    assert 'Traceback' not in run.output


def test_two_runs_creating_the_same_registry_both_succeed(ansible, sandbox):
    # Both runs read SSM before either create is served, so one of them meets SSM's "already exist".
    sandbox.add_faults([dict(method='PUT', action='delay', seconds=6, times=2)])
    task = {'squirrel.ssm.ssm_registry': dict(provider='custom', name='shared', credentials=GOOD['custom'])}
    runs = at_once(ansible, task, 2)
    assert all(not run[0].get('failed') for run in runs), [run[0].get('msg') for run in runs]
    assert ('PUT', 400) in methods(sandbox) and ('PUT', 200) in methods(sandbox)
    assert sandbox.rows['shared']['auth'] == GOOD['custom']


def test_a_slow_ssm_and_timeout(ansible, sandbox):
    sandbox.add_faults([dict(method='GET', action='delay', seconds=3, times=20)])
    run = ansible.play(INFO, connection=dict(ssm_url=sandbox.url, ssm_api_key=API_KEY, timeout=1))
    assert run[0]['failed'] and 'did not answer GET /container-registries within 1.0 seconds' in run[0]['msg']
    assert 'timeout (SSM_TIMEOUT)' in run[0]['msg'] and 'Traceback' not in run.output


def test_an_html_answer_is_named(ansible, sandbox):
    sandbox.add_faults([dict(method='GET', action='html', times=20)])
    run = ansible.play(INFO)
    assert run[0]['failed'] and 'with an HTML page' in run[0]['msg']


def test_ssm_v01_is_detected_and_works_the_same(ansible):
    old = Sandbox(api_key=API_KEY, username=USERNAME, password=PASSWORD, version='0.1').start()
    try:
        login = dict(ssm_url=old.url, ssm_username=USERNAME, ssm_password=PASSWORD)
        run = ansible.play(GHCR, GHCR, {'squirrel.ssm.ssm_registry': dict(
            provider='custom', name='old', credentials=GOOD['custom'])}, INFO, connection=login)
        assert [r.get('action') for r in run.results[:3]] == ['updated', 'unchanged', 'created']
        assert 'old' in [r['name'] for r in run[3]['registries']]
        assert old.rows['ghcr']['auth'] == GOOD['ghcr']
        assert '/api/containers/registries' in [r['path'] for r in old.requests]
        old.clear_requests()
        forced = ansible.play(INFO, connection=dict(login, ssm_api_version='0.1'))
        assert not forced[0].get('failed')
        assert [r['path'] for r in old.requests] == ['/api/users/login', '/api/containers/registries']
        key = ansible.play(INFO, connection=dict(ssm_url=old.url, ssm_api_key=API_KEY))
        assert 'SSM v0.1 accepts no API key' in key[0]['msg'] and 'ssm_username' in key[0]['msg']
    finally:
        old.stop()


def test_tls_with_a_private_ca(ansible, tmp_path):
    trustme = pytest.importorskip('trustme')
    ca = trustme.CA()
    cert = ca.issue_cert('127.0.0.1', 'localhost')
    cert.private_key_and_cert_chain_pem.write_to_path(str(tmp_path / 'server.pem'))
    ca.cert_pem.write_to_path(str(tmp_path / 'ca.pem'))
    server = Sandbox(api_key=API_KEY, tls_cert=str(tmp_path / 'server.pem'), tls_key=str(tmp_path / 'server.pem'))
    server.start()
    try:
        assert server.url.startswith('https://')
        trusted = ansible.play(GHCR, connection=dict(ssm_url=server.url, ssm_api_key=API_KEY,
                                                     ca_path=str(tmp_path / 'ca.pem')))
        assert trusted[0]['changed'], trusted[0]
        untrusted = ansible.play(INFO, connection=dict(ssm_url=server.url, ssm_api_key=API_KEY))
        assert 'TLS error talking to SSM' in untrusted[0]['msg'] and 'ca_path' in untrusted[0]['msg']
        unchecked = ansible.play(INFO, connection=dict(ssm_url=server.url, ssm_api_key=API_KEY,
                                                       validate_certs=False))
        assert not unchecked[0].get('failed')
        assert 'validate_certs is false' in ' '.join(unchecked[0]['warnings'])
    finally:
        server.stop()


def test_500_registries_in_one_call_then_one_request(ansible, sandbox):
    wanted = [dict(provider='custom', name='load-%03d' % i,
                   credentials={'url': 'https://r%03d.example' % i, 'login': 'robot', 'password': 'load-pw-%03d' % i})
              for i in range(500)]
    first = ansible.play({'squirrel.ssm.ssm_registry': dict(registries=wanted)})
    assert first[0]['changed'] and len(first[0]['results']) == 500
    assert len(sandbox.writes()) == 500
    sandbox.clear_requests()
    again = ansible.play({'squirrel.ssm.ssm_registry': dict(registries=wanted)})
    assert not again[0]['changed'] and len(sandbox.requests) == 1


def test_four_playbooks_at_once_end_in_the_declared_state(ansible, sandbox):
    wanted = [dict(provider='ghcr', credentials=GOOD['ghcr']), dict(provider='quay', credentials=GOOD['quay'])] + [
        dict(provider='custom', name='c%d' % i, credentials={'url': 'https://c%d.example' % i}) for i in range(10)]
    runs = at_once(ansible, {'squirrel.ssm.ssm_registry': dict(registries=wanted)}, 4)
    assert all(not run[0].get('failed') for run in runs), [run[0].get('msg') for run in runs]
    for item in wanted:
        assert sandbox.rows[item.get('name', item['provider'])]['auth'] == item['credentials']
    sandbox.clear_requests()
    settled = ansible.play({'squirrel.ssm.ssm_registry': dict(registries=wanted)})
    assert not settled[0]['changed'] and len(sandbox.requests) == 1
