"""The fleet benchmark's own machinery (benchmarks/fleet.py), on two SSM sandbox processes: the inventory it writes
converges every server in one ansible-playbook run, its check counts what each server served, and it refuses a
server that stores a wrong row (a benchmark over a wrong state would time nothing worth timing)."""
import os
import sys

import pytest

from tests.integration.conftest import ROOT, collections_path

sys.path.insert(0, os.path.join(ROOT, 'benchmarks'))

import fleet  # noqa: E402  (benchmarks/fleet.py)


@pytest.fixture(name='two_servers')
def two_servers_fixture(tmp_path, monkeypatch):
    monkeypatch.setenv('ANSIBLE_COLLECTIONS_PATH', collections_path())
    servers = fleet.Fleet()
    try:
        servers.start(2, str(tmp_path))
        yield servers
    finally:
        servers.stop()


def test_the_inventory_converges_every_server_then_costs_one_get_each(two_servers, tmp_path):
    items = fleet.benchlib.registries(fleet.REGISTRIES)
    inventory = fleet.write_inventory(str(tmp_path / 'inventory'), two_servers.servers, items)
    for phase in ('first', 'unchanged'):
        for server in two_servers.servers:
            two_servers.control(server, 'DELETE', 'requests')
        dummy, cpu, changed = fleet.run_playbook('fleet.yml', inventory, 2, two_servers.servers)
        counts = fleet.check(two_servers, two_servers.servers, items, phase, changed, phase)
        assert counts == {'ssm01': fleet.expected_requests(phase), 'ssm02': fleet.expected_requests(phase)}
        assert cpu > 0
    assert fleet.expected_requests('unchanged') == {'GET': 1}


def test_a_wrong_row_on_one_server_aborts(two_servers, tmp_path):
    items = fleet.benchlib.registries(fleet.REGISTRIES)
    inventory = fleet.write_inventory(str(tmp_path / 'inventory'), two_servers.servers, items)
    dummy, dummy2, changed = fleet.run_playbook('fleet.yml', inventory, 2, two_servers.servers)
    second = two_servers.servers[1]
    wrong = dict(items[0]['credentials'], token='not-the-wanted-one')
    two_servers.session.put(second['url'] + '/_sandbox/rows/' + items[0]['name'], timeout=30,
                            json={'provider': items[0]['provider'], 'auth': wrong, 'authSet': True}).raise_for_status()
    with pytest.raises(fleet.Failure, match='ssm02 stores a wrong state: wrong .*%s' % items[0]['name']):
        fleet.check(two_servers, two_servers.servers, items, 'first', changed, 'first run')
