"""The credential check as a CI gate, against real registries (Debian's docker-registry with htpasswd, an open one,
a closed port, moto for ECR): ssm_registry_info tells accepted, rejected, unreachable, anonymous_only,
not_verifiable and not_checked apart, with the diagnosis codes of each; the README's gate, run as written, fails
the run on a rejected and on an unreachable registry and passes when all is well; ssm_registry's failures say which
of the two it was."""
import json
import os
import subprocess

import pytest
import yaml

from tests.examples.examples import ROOT, doc_blocks, module_examples
from tests.integration.conftest import API_KEY, BIN, assert_no_secret
from tests.realreg.registries import (  # noqa: F401  pylint: disable=unused-import
    USERS, aws_iam, basic_registry, free_port, open_registry, workdir)

WRONG = 'not-alices-password-3'
ACR = {'clientid': '5f1c9e1e-0000-4000-8000-000000000002', 'clientsecret': 'acr-gate-secret-1'}


def custom(name, url, **credentials):
    return dict(provider='custom', name=name, credentials=dict(url=url, **credentials))


def store(ansible, *registries, env=None):
    """Store credentials as a client that does not check them would (no verify_credentials)."""
    run = ansible.play({'squirrel.ssm.ssm_registry': dict(registries=list(registries), reload_registries=False)},
                       env=env)
    assert not run[0].get('failed'), run[0].get('msg')
    ansible.sandbox.clear_requests()


@pytest.fixture
def good(basic_registry):
    return custom('good', basic_registry.url, login='alice', password=USERS['alice'])


@pytest.fixture
def rejected(basic_registry):
    return custom('wrong', basic_registry.url, login='alice', password=WRONG)


@pytest.fixture
def unreachable():
    return custom('closed', 'http://127.0.0.1:%d' % free_port(), login='alice', password='closed-port-password')


@pytest.fixture
def ecr_env(aws_iam):
    return dict(AWS_ENDPOINT_URL_ECR=aws_iam['endpoint'], AWS_CONFIG_FILE='/nonexistent',
                AWS_SHARED_CREDENTIALS_FILE='/nonexistent')


def ecr(aws_iam, secret=None):
    return dict(provider='ecr', credentials=dict(accesskeyid=aws_iam['accesskeyid'], region='eu-west-1',
                                                 secretaccesskey=secret or aws_iam['secretaccesskey']))


def info(ansible, env=None):
    run = ansible.play({'squirrel.ssm.ssm_registry_info': {'verify_credentials': True}}, env=env)
    assert not run[0].get('failed'), run[0].get('msg')
    return dict((row['name'], row) for row in run[0]['registries']), run


def test_each_outcome_is_its_own_status_and_code(ansible, sandbox, good, rejected, unreachable, open_registry,
                                                 aws_iam, ecr_env):
    store(ansible, good, rejected, unreachable, custom('open', open_registry.url, login='alice', password='open-pw-1'),
          ecr(aws_iam), dict(provider='acr', credentials=ACR), env=ecr_env)
    rows, run = info(ansible, env=ecr_env)
    outcome = dict((name, (row['verify_status'], row['verified'], [p['code'] for p in row['problems']]))
                   for name, row in rows.items())
    assert outcome['good'] == ('accepted', True, [])
    assert outcome['ecr'] == ('accepted', True, [])
    assert outcome['wrong'] == ('rejected', False, ['credentials_rejected'])
    assert outcome['closed'] == ('unreachable', False, ['registry_unreachable'])
    assert outcome['open'] == ('anonymous_only', None, ['anonymous_only'])
    assert outcome['acr'] == ('not_verifiable', None, ['not_verifiable'])
    assert outcome['ghcr'] == ('not_checked', None, [])  # no credentials
    assert outcome['forjejo'][:2] == ('not_checked', None)  # a legacy row, its secrets left by SSM's reset
    # The hint names what this module's user can check: the stored url, never an option it does not have.
    assert 'connection refused' in rows['closed']['verify_msg'], rows['closed']['verify_msg']
    assert 'check the url SSM stores' in rows['closed']['verify_msg']
    assert 'registry_url' not in json.dumps([rows['closed'], rows['wrong'], rows['open']])
    assert 'check them with squirrel.ssm.ssm_registry' in rows['acr']['verify_msg']
    assert 'rejected the credentials of custom' in rows['wrong']['verify_msg']
    assert sandbox.writes() == []
    assert_no_secret(run.output, {USERS['alice'], WRONG, aws_iam['secretaccesskey'], ACR['clientsecret']})


def test_a_rejected_ecr_key_is_rejected(ansible, sandbox, aws_iam, ecr_env):
    store(ansible, ecr(aws_iam, secret=aws_iam['secretaccesskey'][:-4] + 'AAAA'), env=ecr_env)
    rows = info(ansible, env=ecr_env)[0]
    assert rows['ecr']['verify_status'] == 'rejected', rows['ecr']['verify_msg']
    assert [p['code'] for p in rows['ecr']['problems']] == ['credentials_rejected']


def gate_tasks(source):
    """The documented gate, as written: the README's two tasks, or the task of ssm_registry_info's EXAMPLES."""
    if source == 'README':
        blocks = [b for b in doc_blocks(os.path.join(ROOT, 'README.md')) if 'verify_status' in b.text]
        assert len(blocks) == 1, [b.id for b in blocks]
        return yaml.safe_load(blocks[0].text)
    examples = [b for b in module_examples() if b.source.endswith('ssm_registry_info.py')][0]
    tasks = [task for task in yaml.safe_load(examples.text) if 'verify_status' in json.dumps(task)]
    assert len(tasks) == 1, tasks
    return tasks


GATES = ('README', 'EXAMPLES')


def run_gate(gate, ansible, sandbox, tmp_path, env=None):
    """The gate in a CI job: the connection from SSM_URL and SSM_API_KEY, nothing else."""
    playbook = tmp_path / 'gate.yml'
    playbook.write_text(json.dumps([{'hosts': 'localhost', 'gather_facts': False, 'tasks': gate_tasks(gate)}]))
    proc = subprocess.run([os.path.join(BIN, 'ansible-playbook'), str(playbook)], capture_output=True, text=True,
                          env=ansible.env(dict({'SSM_URL': sandbox.url, 'SSM_API_KEY': API_KEY}, **(env or {}))),
                          check=False)
    output = proc.stdout + proc.stderr
    assert_no_secret(output, {API_KEY, USERS['alice'], WRONG, 'closed-port-password', 'open-pw-1',
                              ACR['clientsecret']})
    return proc.returncode, output


@pytest.mark.parametrize('gate', GATES)
def test_the_gate_passes_when_all_is_well(gate, ansible, sandbox, tmp_path, good, open_registry):
    store(ansible, good, custom('open', open_registry.url, login='alice', password='open-pw-1'),
          dict(provider='acr', credentials=ACR))
    rc, output = run_gate(gate, ansible, sandbox, tmp_path)
    assert rc == 0, output[-3000:]
    assert sandbox.writes() == []


@pytest.mark.parametrize('gate', GATES)
def test_the_gate_fails_on_rejected_credentials(gate, ansible, sandbox, tmp_path, good, rejected):
    store(ansible, good, rejected)
    rc, output = run_gate(gate, ansible, sandbox, tmp_path)
    assert rc != 0, output[-3000:]
    assert 'rejected the credentials of custom' in output
    if gate == 'README':  # it names each failing registry
        assert 'wrong: rejected: registry 127.0.0.1' in output and 'good:' not in output


@pytest.mark.parametrize('gate', GATES)
def test_the_gate_fails_on_an_unreachable_registry(gate, ansible, sandbox, tmp_path, good, unreachable):
    store(ansible, good, unreachable)
    rc, output = run_gate(gate, ansible, sandbox, tmp_path)
    assert rc != 0, output[-3000:]
    assert 'cannot reach registry http://127.0.0.1' in output, output[-3000:]
    if gate == 'README':
        assert 'closed: unreachable: cannot reach registry http://127.0.0.1' in output, output[-3000:]


def test_ssm_registry_says_rejected_or_unreachable(ansible, sandbox, rejected, unreachable, open_registry):
    def verified(registry):
        return {'squirrel.ssm.ssm_registry': dict(registry, verify_credentials=True)}
    run = ansible.play(verified(rejected), verified(unreachable),
                       verified(custom('open', open_registry.url, login='alice', password='open-pw-1')))
    assert run[0]['failed'] and run[0]['verify_status'] == 'rejected', run[0]
    assert run[0]['msg'].startswith('registry wrong: credentials rejected: registry 127.0.0.1'), run[0]['msg']
    assert run[1]['failed'] and run[1]['verify_status'] == 'unreachable'
    assert 'registry unreachable, the credentials could not be checked: cannot reach registry' in run[1]['msg']
    assert run[1]['msg'].endswith('connection refused): check credentials.url or registry_url. Nothing was written '
                                  'to SSM'), run[1]['msg']
    assert run[2]['failed'] and run[2]['verify_status'] == 'anonymous_only'
    assert 'could not be checked (anonymous_only)' in run[2]['msg'] and 'allow_unverified' in run[2]['msg']
    assert sandbox.writes() == []


def test_check_registries_fails_on_rejected_and_at_warning_on_unreachable(ansible, sandbox, good, rejected, unreachable):
    """docs/problems.md's other way: the check_registries playbook with check_registries_verify."""
    def check(*extra):
        proc = subprocess.run([os.path.join(BIN, 'ansible-playbook'), 'squirrel.ssm.check_registries',
                               '-e', 'check_registries_verify=true'] + list(extra), capture_output=True, text=True,
                              env=ansible.env({'SSM_URL': sandbox.url, 'SSM_API_KEY': API_KEY}), check=False)
        assert_no_secret(proc.stdout + proc.stderr, {API_KEY, USERS['alice'], WRONG, 'closed-port-password'})
        return proc.returncode, proc.stdout + proc.stderr
    store(ansible, good, unreachable)
    rc, output = check()
    assert rc == 0 and 'closed (custom, credentials unreachable): warning registry_unreachable' in output, output[-3000:]
    rc, output = check('-e', 'check_registries_fail_on=warning')
    assert rc != 0 and 'closed: registry_unreachable' in output, output[-3000:]
    store(ansible, rejected)
    rc, output = check()
    assert rc != 0 and '1 problem(s) at or above error: wrong: credentials_rejected' in output, output[-3000:]


def test_a_row_from_ssms_web_ui_is_checked_with_the_credentials_ssm_reads(ansible, sandbox, basic_registry):
    """SSM's web client stores its form's newName and a field typed in and emptied ("") with the credentials
    (tests/webui): the check logs in with what SSM uses, auth here."""
    import base64
    import requests
    auth = base64.b64encode(('alice:' + USERS['alice']).encode()).decode()
    answer = requests.put(sandbox.url + '/api/container-registries/ui-made', timeout=30,
                          headers={'Authorization': 'Bearer ' + API_KEY},
                          json={'auth': {'newName': 'ui-made', 'url': basic_registry.url, 'login': '', 'auth': auth},
                                'authScheme': []})
    assert answer.status_code == 200, answer.text
    rows, run = info(ansible)
    assert (rows['ui-made']['verify_status'], [p['code'] for p in rows['ui-made']['problems']]) == ('accepted', [])
    assert_no_secret(run.output, {auth, USERS['alice']})
