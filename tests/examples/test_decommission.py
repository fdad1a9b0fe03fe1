"""docs/decommission.md, its play as written: on an SSM holding credentials of every provider (some of them left by
SSM's own reset) it removes them all, and the proof passes only when no secret value is stored any more (read from
the store itself); a second run changes nothing. On an SSM with a row of a provider it no longer knows that keeps
old credentials, the proof fails and names the row."""
import copy
import json
import os

import pytest
import requests
import yaml

from ansible_collections.squirrel.ssm.plugins.module_utils.providers import SECRET_NAMES
from tests.cases import GOOD
from tests.examples.examples import ROOT, doc_blocks
from tests.examples.test_examples import Server, prepare, recap, run, run_play
from tests.integration.conftest import API_KEY, BIN, PASSWORD, USERNAME
from tests.sandbox.ssm_sandbox import Sandbox

BLOCK = [b for b in doc_blocks(os.path.join(ROOT, 'docs', 'decommission.md')) if b.lang == 'yaml']


def stored_secrets(rows):
    return [value for row in rows.values() for name, value in (row.get('auth') or {}).items()
            if name in SECRET_NAMES and value]


def fill_ssm(server, ansible, tmp_path, version):
    """Credentials of every provider the SSM knows and two custom registries, through the collection; then SSM's
    own reset (its web UI's button) on one of them, which keeps the values."""
    registries = [dict(provider=p, name='harbor' if p == 'custom' else p, credentials=copy.deepcopy(GOOD[p]))
                  for p in sorted(GOOD)]
    registries.append(dict(provider='custom', name='mirror', credentials=dict(GOOD['custom'], password='mirror-pw-1')))
    play = [{'hosts': 'localhost', 'gather_facts': False, 'tasks': [
        {'squirrel.ssm.ssm_registry': {'registries': registries}}]}]
    run_play(play, ansible, server, tmp_path, twice=False)
    session = requests.Session()
    if version == '0.1':
        session.post(server.url + '/api/users/login', json={'username': USERNAME, 'password': PASSWORD}, timeout=10)
        base = server.url + '/api/containers/registries/'
    else:
        session.headers['Authorization'] = 'Bearer ' + API_KEY
        base = server.url + '/api/container-registries/'
    assert session.patch(base + 'quay', timeout=10).status_code in (200, 500)  # v0.5 answers 500 after its reset
    return [value for r in registries for name, value in r['credentials'].items() if name in SECRET_NAMES]


@pytest.mark.parametrize('version', ['0.5', '0.1'])
def test_decommission_leaves_no_secret_and_proves_it(version, ansible, tmp_path):
    assert len(BLOCK) == 1, 'docs/decommission.md has one play'
    with Sandbox(api_key=API_KEY, username=USERNAME, password=PASSWORD, version=version) as sandbox:
        server = Server(sandbox.url, lambda: sandbox.rows, API_KEY, USERNAME, PASSWORD, login_only=version == '0.1')
        secrets = fill_ssm(server, ansible, tmp_path, version)
        assert stored_secrets(sandbox.rows) and sandbox.rows['quay']['authSet'] is False
        assert sandbox.rows['quay']['auth']['token'] == GOOD['quay']['token']  # what SSM's reset leaves
        output = run_play(yaml.safe_load(BLOCK[0].text), ansible, server, tmp_path)  # twice: the second changes nothing
        assert 'no registry of this SSM stores a credential' in output
        everything = json.dumps(sandbox.rows)
        assert stored_secrets(sandbox.rows) == [] and not [s for s in secrets if s in everything]
        assert not [name for name, row in sandbox.rows.items() if row.get('provider') == 'custom']


def test_the_proof_fails_on_a_legacy_row_that_keeps_credentials(ansible, sandbox, tmp_path):
    """The examples' sandbox has SSM's legacy rows: forjejo keeps a password the collection cannot remove."""
    assert sandbox.rows['forjejo']['auth']['password']
    server = Server(sandbox.url, lambda: sandbox.rows, API_KEY)
    prepare(tmp_path, server)
    path = tmp_path / 'decommission.yml'
    path.write_text(BLOCK[0].text)
    rc, output = run([os.path.join(BIN, 'ansible-playbook'), str(path)], ansible, server, tmp_path)
    assert rc != 0 and recap(output)['failed'] == 1, output[-3000:]
    assert 'SSM still stores credentials for: forjejo' in output
