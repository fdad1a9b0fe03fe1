"""Runs that are killed, runs that race each other, rows no request can reach: the same scenarios on every SSM,
with a proxy of the tests (holding.py) that holds a run's request where the scenario needs it."""
import json
import os
import signal
import subprocess
import threading

import pytest

from ansible_collections.squirrel.ssm.plugins.module_utils.registries import CUSTOM_AUTH_SCHEME

from tests.conformance.holding import Holding
from tests.conformance.test_scenarios import GHCR, HARBOR, converge
from tests.integration.conftest import BIN

RELOAD = 'squirrel-ssm-reload-'
DECLARED = [dict(provider='ghcr', credentials=GHCR), dict(provider='custom', name='harbor', credentials=HARBOR)]


@pytest.fixture
def holding(target):
    proxy = Holding(target.url).start()
    yield proxy
    proxy.stop()


def reload_rows(target):
    return sorted(name for name in target.rows() if name.startswith(RELOAD))


def killed_after(scenario, holding, connection, requests_before_kill):
    """Start a converge through the proxy, hold the request after `requests_before_kill` answered ones, and kill the
    whole process tree with SIGKILL there, as a CI runner's time-out does. None when the run ended first: then the
    number of requests it made."""
    holding.arm(after=requests_before_kill)
    playbook = scenario.tmp_path / 'killed.yml'
    playbook.write_text(json.dumps([dict(hosts='localhost', gather_facts=False,
                                         module_defaults={'group/squirrel.ssm.ssm': connection},
                                         tasks=[converge(DECLARED)])]))
    proc = subprocess.Popen([os.path.join(BIN, 'ansible-playbook'), str(playbook)], env=scenario.env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    while not holding.held.wait(0.2):
        if proc.poll() is not None:
            made = holding.count
            holding.arm()
            return made
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    holding.release(forward=False)
    holding.arm()
    return None


def test_a_converge_killed_after_any_of_its_requests_is_finished_by_the_next_run(scenario, target, holding):
    connection = dict(target.connection, ssm_url=holding.url)
    killed = 0
    while True:
        target.reset()
        made = killed_after(scenario, holding, connection, killed + 1)
        if made is not None:
            break
        killed += 1
        mark = len(target.requests())
        nxt = scenario.play(converge(DECLARED), connection=connection)
        assert nxt.rc == 0 and not nxt[0].get('failed'), (killed, nxt[0].get('msg'))
        assert reload_rows(target) == [], 'killed after request %d: a reload row is left' % killed
        stored = target.rows()
        assert stored['ghcr']['auth'] == GHCR and stored['harbor']['auth'] == HARBOR
        again = scenario.play(converge(DECLARED), connection=connection)
        assert not again[0]['changed'] and again.writes == [], (killed, again.writes, target.requests()[mark:])
    # The run killed after each of its requests but the last: its reads, its writes and its reload PUT and DELETE.
    assert killed == made - 1 and killed >= 4, (killed, made)


def test_a_delete_that_finds_the_row_already_gone_is_done(scenario, target, holding):
    assert target.api('PUT', 'racing', {'auth': HARBOR, 'authScheme': CUSTOM_AUTH_SCHEME}).status_code == 200
    holding.arm(match=lambda method, path: method == 'DELETE' and path.rstrip('/').endswith('/racing'))
    runs = []
    purge = threading.Thread(target=lambda: runs.append(scenario.play(
        converge([dict(provider='quay')], purge=True), connection=dict(target.connection, ssm_url=holding.url))))
    purge.start()
    assert holding.held.wait(120), 'the purge sent no DELETE of racing'
    assert target.api('DELETE', 'racing').status_code == 200  # another run deleted it first
    holding.release(forward=True)
    purge.join(300)
    run = runs[0]
    assert run.rc == 0 and not run[0].get('failed') and run[0]['changed'], run[0].get('msg')
    assert ('racing', 'deleted') in [(p['name'], p['action']) for p in run[0]['purged']]
    assert 'racing' not in target.rows()


def test_purge_leaves_a_name_with_a_slash_and_says_how_to_remove_it(scenario, target):
    target.server.insert_row({'name': 'team/mirror', 'provider': 'custom', 'authScheme': [], 'authSet': True,
                              'auth': {'url': 'https://mirror.example.com'}, 'canAnonymous': False, 'canAuth': True})
    purge = converge([dict(provider='quay')], purge=True)
    check = scenario.play(purge, check=True)
    assert not check[0].get('failed') and not check[0]['changed'], check[0]
    run = scenario.play(purge)
    assert not run[0].get('failed') and not run[0]['changed'] and run.writes == [], run[0].get('msg')
    warning = [w for w in run[0].get('warnings', []) if 'team/mirror' in w]
    assert warning and 'deleteOne({name: "team/mirror"})' in warning[0] and target.url in warning[0]
    assert 'team/mirror' in target.rows()
