"""Faults, concurrency, load, TLS and SSM v0.1: the module ends in the wanted state or says exactly why not."""
import hashlib
import json
import os
import socket
import subprocess
import threading
import time

from ansible_collections.squirrel.ssm.tests.cases import GOOD
from tests.harness import tls_sandbox
from tests.integration.conftest import API_KEY, BIN, PASSWORD, USERNAME, assert_no_secret, own_writes
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
    with Sandbox(api_key=API_KEY, username=USERNAME, password=PASSWORD, version='0.1') as old:
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


def test_tls_with_a_private_ca(ansible, tmp_path):
    server, ca = tls_sandbox(tmp_path, api_key=API_KEY)
    with server:
        assert server.url.startswith('https://')
        trusted = ansible.play(GHCR, connection=dict(ssm_url=server.url, ssm_api_key=API_KEY, ca_path=ca))
        assert trusted[0]['changed'], trusted[0]
        untrusted = ansible.play(INFO, connection=dict(ssm_url=server.url, ssm_api_key=API_KEY))
        assert 'TLS error talking to SSM' in untrusted[0]['msg'] and 'ca_path' in untrusted[0]['msg']
        unchecked = ansible.play(INFO, connection=dict(ssm_url=server.url, ssm_api_key=API_KEY,
                                                       validate_certs=False))
        assert not unchecked[0].get('failed')
        assert 'validate_certs is false' in ' '.join(unchecked[0]['warnings'])


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


# -- Interrupted and concurrent runs, odd stored rows (docs/reliability.md) ------------------------------------------

RELOAD = 'squirrel-ssm-reload-'


def reload_rows(sandbox):
    return sorted(name for name in sandbox.rows if name.startswith(RELOAD))


def reload_row_of(pid, until):
    """A reload row as a run of process `pid` on this host names it (the documented format)."""
    host = hashlib.sha1(socket.gethostname().encode()).hexdigest()[:6]
    return {'name': '%s%d-%s-%d-beef' % (RELOAD, until, host, pid), 'provider': 'custom', 'authSet': True,
            'auth': {'url': 'https://reload.squirrel-ssm.invalid', 'login': 'squirrel-ssm',
                     'password': 'reload-trigger-not-a-secret'}, 'authScheme': [], 'canAuth': True,
            'canAnonymous': False}


def test_a_failed_reload_delete_is_retried(ansible, sandbox):
    sandbox.add_faults([dict(method='DELETE', action='status', status=503)])
    run = ansible.play(GHCR)
    assert run[0]['changed'] and not run[0].get('failed'), run[0].get('msg')
    assert [m for m, s in methods(sandbox)][-3:] == ['PUT', 'DELETE', 'DELETE']
    assert reload_rows(sandbox) == []


def test_a_reload_row_left_behind_is_named_then_removed_by_the_next_run(ansible, sandbox):
    sandbox.add_faults([dict(method='DELETE', action='status', status=503, times=100)])
    run = ansible.play(GHCR, connection=dict(ssm_url=sandbox.url, ssm_api_key=API_KEY, timeout=1))
    left = reload_rows(sandbox)
    message = run[0]['msg']
    assert run[0]['failed'] and len(left) == 1 and left[0] in message, message
    # The PUT made SSM reload: the message says so, and how the row goes away.
    assert 'SSM loaded its registries again' in message and 'next restart' not in message
    assert 'the next run of squirrel.ssm.ssm_registry removes it' in message
    sandbox.clear_faults()
    info = ansible.play(INFO)
    problems = [p['code'] for r in info[0]['registries'] if r['name'] == left[0] for p in r['problems']]
    assert problems == ['reload_registry']
    sandbox.clear_requests()
    # Nothing else to write: the row still goes, as a change, with a warning that says why.
    check = ansible.play(GHCR, check=True)
    assert check[0]['changed'] and reload_rows(sandbox) == left
    nxt = ansible.play(GHCR)
    assert nxt[0]['changed'] and nxt[0]['action'] == 'unchanged' and reload_rows(sandbox) == []
    assert [w for w in nxt[0]['warnings'] if left[0] in w and 'interrupted' in w]
    assert methods(sandbox)[-1] == ('DELETE', 200)
    sandbox.clear_requests()
    again = ansible.play(GHCR)
    assert not again[0]['changed'] and sandbox.writes() == []


def test_a_reload_row_a_live_run_may_use_is_kept(ansible, sandbox):
    now = int(time.time())
    live = sandbox.insert_row(reload_row_of(os.getpid(), now + 600))['name']  # this process is alive
    dead = sandbox.insert_row(reload_row_of(2 ** 22 + 7, now + 600))['name']  # above pid_max: no such process
    over = sandbox.insert_row(reload_row_of(os.getpid(), now - 1))['name']  # its time is over
    old = sandbox.insert_row(dict(reload_row_of(1, 0), name=RELOAD + '0badc0de'))['name']  # collection 1.0's names
    run = ansible.play(dict({'squirrel.ssm.ssm_registry': dict(registries=[dict(provider='quay')], purge=True)}))
    assert run[0]['changed'] and reload_rows(sandbox) == [live]
    assert sorted(p['name'] for p in run[0]['purged']) == sorted([dead, over, old])


def test_a_delete_that_finds_the_row_gone_is_done(ansible, sandbox):
    sandbox.insert_row(dict(reload_row_of(1, 0), name='other-run', auth={'url': 'https://x.example'}))
    sandbox.add_faults([dict(method='DELETE', action='delay', seconds=2)])

    def other_run():  # deletes the row once this run's DELETE has reached SSM, before SSM handles it
        deadline = time.time() + 60
        while sandbox._faults[0]['seen'] == 0 and time.time() < deadline:
            time.sleep(0.05)
        sandbox.rows.pop('other-run', None)
    threading.Thread(target=other_run, daemon=True).start()
    run = ansible.play({'squirrel.ssm.ssm_registry': dict(registries=[dict(provider='quay')], purge=True)})
    assert run[0]['changed'] and not run[0].get('failed'), run[0].get('msg')
    assert ('DELETE', 404) in methods(sandbox)


def test_a_reset_whose_patch_failed_says_what_ssm_holds_and_does_not_reload(ansible, sandbox):
    ansible.play(GHCR)
    sandbox.clear_requests()
    sandbox.add_faults([dict(method='PATCH', action='status', status=503, times=10)])
    run = ansible.play({'squirrel.ssm.ssm_registry': dict(provider='ghcr', state='reset')})
    message = run[0]['msg']
    assert run[0]['failed'] and sandbox.rows['ghcr']['authSet'] is True and sandbox.rows['ghcr']['auth'] == {}
    assert 'SSM now stores ghcr with its old values removed but still marked in use (auth_set true, no values)' \
        in message, message
    assert 'did not make SSM load them' in message
    assert 'PUT' not in [m for m, s in methods(sandbox)]
    sandbox.clear_faults()
    done = ansible.play({'squirrel.ssm.ssm_registry': dict(provider='ghcr', state='reset')})
    assert done[0]['changed'] and sandbox.rows['ghcr']['authSet'] is False and done[0]['reloaded']


def test_purge_leaves_names_with_a_slash_and_says_how_to_remove_them(ansible, sandbox):
    sandbox.insert_row({'name': 'team/mirror', 'provider': 'custom', 'authSet': True, 'authScheme': [],
                        'auth': {'url': 'https://mirror.example'}})
    purge = {'squirrel.ssm.ssm_registry': dict(registries=[dict(provider='quay')], purge=True)}
    check = ansible.play(purge, check=True)
    assert not check[0]['changed'], check[0]
    run = ansible.play(purge)
    assert not run[0].get('failed') and not run[0]['changed'], run[0].get('msg')
    warning = [w for w in run[0]['warnings'] if 'team/mirror' in w]
    assert warning and 'deleteOne({name: "team/mirror"})' in warning[0]
    assert 'team/mirror' in sandbox.rows and own_writes(sandbox) == []


def test_purge_of_a_list_that_keeps_nothing_needs_purge_all(ansible, sandbox):
    ansible.play(GHCR)
    sandbox.clear_requests()
    run = ansible.play({'squirrel.ssm.ssm_registry': dict(registries=[], purge=True)},
                       {'squirrel.ssm.ssm_registry': dict(registries=[dict(provider='ghcr', state='reset')],
                                                          purge=True)})
    assert all(r['failed'] and 'purge_all: true' in r['msg'] for r in run.results), run.results
    assert sandbox.requests == []
    meant = ansible.play({'squirrel.ssm.ssm_registry': dict(registries=[], purge=True, purge_all=True)})
    assert meant[0]['changed'] and not sandbox.rows['ghcr']['authSet']


def test_the_role_guard_looks_at_what_remains_after_the_merge(ansible, sandbox):
    role = {'ansible.builtin.include_role': {'name': 'squirrel.ssm.registries'}}
    run = ansible.play(role, play_vars=dict(ssm_registries=[], ssm_registries_purge=True,
                                            ssm_registries_host=[dict(provider='ghcr', state='reset')]))
    assert run.rc != 0 and 'ssm_registries_purge_all' in run.output and 'Nothing was sent to SSM' in run.output
    assert sandbox.requests == []


def test_ssm_url_at_the_servers_own_port_is_named(ansible, sandbox):
    run = ansible.play(INFO, connection=dict(ssm_url=sandbox.server_url, ssm_api_key=API_KEY))
    message = run[0]['msg']
    assert run[0]['failed'] and "does not look like SSM's web address" in message, message
    assert 'http://ssm.example:8000' in message and sandbox.server_url in message


def test_a_proxy_refusing_with_html_is_not_taken_for_ssm(ansible, sandbox):
    sandbox.add_faults([dict(action='html', status=401, times=10)])
    run = ansible.play(INFO)
    message = run[0]['msg']
    assert run[0]['failed'] and 'HTML page' in message and 'in front of SSM' in message, message
    assert 'v0.1' not in message
    login = ansible.play(INFO, connection=dict(ssm_url=sandbox.url, ssm_username=USERNAME, ssm_password=PASSWORD))
    assert 'in front of SSM' in login[0]['msg'] and 'rejected the login' not in login[0]['msg']


def test_an_empty_api_key_mentions_the_login(ansible, sandbox):
    run = ansible.play(INFO, connection=dict(ssm_url=sandbox.url, ssm_api_key=''))
    assert 'ssm_api_key (SSM_API_KEY) is empty' in run[0]['msg'] and 'ssm_username' in run[0]['msg']


def test_warnings_and_diffs_name_their_ssm(ansible, sandbox):
    run = ansible.play(GHCR)
    warning = [w for w in run[0]['warnings'] if 'HTTP 500' in w]
    assert warning and warning[0].startswith('SSM at %s: ' % sandbox.url)
    assert sandbox.url in run[0]['diff']['before_header']


def test_check_mode_summary_says_would_change(ansible, sandbox, tmp_path):
    (tmp_path / 'registries.json').write_text(json.dumps({'ssm_registries': [GHCR['squirrel.ssm.ssm_registry']]}))
    env = ansible.env({'SSM_URL': sandbox.url, 'SSM_API_KEY': API_KEY})
    proc = subprocess.run([os.path.join(BIN, 'ansible-playbook'), 'squirrel.ssm.configure_registries', '--check', '-e',
                           '@registries.json'], env=env, capture_output=True, text=True, check=False, cwd=str(tmp_path))
    output = proc.stdout + proc.stderr
    assert_no_secret(output, {API_KEY, GOOD['ghcr']['token']})
    assert proc.returncode == 0 and 'localhost: would change' in output and 'ok, changed' not in output, output[-3000:]
    assert sandbox.writes() == []
