"""Every fix as printed: each problem code on each provider it applies to is seeded as a row (through SSM's own
API, or its database for what only the database can hold), the `fix` ssm_registry_info prints for it is read,
only its placeholders are filled (FILL: what a user types between the quotes), and the line runs as a task with
ansible-playbook, as written. Then the problem is gone, every other stored value is as it was, and a second run
writes nothing.

All fixes of a round run in one playbook (and once more, to write nothing). SSM has one row per built-in
provider, so the shapes of a built-in row that cannot be stored at once take a round each: fields broken in two
ways, a reset that left values behind, and on v0.1 the code of ghcr, gitlab and lscr rows with credentials (three
rounds, four on v0.1); custom registries all go into the first.

Codes without a task: their fix is an action outside the collection, checked to print no task:
legacy_provider (delete the row from SSM's database), unreachable_name (delete the row in SSM's UI), and the
credential check's registry_unreachable, anonymous_only and not_verifiable (the network, the registry, the
inputs of a check). leftover_secret on a legacy row is the legacy_provider case."""
import base64
import copy
import json
import os
import re
import subprocess

import pytest

from ansible_collections.squirrel.ssm.plugins.module_utils.diagnosis import CODES
from ansible_collections.squirrel.ssm.plugins.module_utils.providers import PROVIDERS
from ansible_collections.squirrel.ssm.plugins.module_utils.registries import CUSTOM_AUTH_SCHEME
from ansible_collections.squirrel.ssm.tests.cases import GOOD, PEM
from tests.integration.conftest import BIN, assert_no_secret
from tests.realreg.registries import HtpasswdRegistry, Registry, free_port, REGISTRY_BIN

PASSWORD = 'fix: pass #1, ok'
# What a user types for each placeholder: secrets with ':', '#' and ',' (the printed quotes must hold them), and
# values for fields a row lacks or holds wrongly (unlike any value seeded, so a stored value the fix lost shows).
FILL = {
    'password': PASSWORD, 'token': 'fix-token: #2, ok', 'clientsecret': 'fix secret: #3',
    'secretaccesskey': 'fix/secret+key: #4', 'auth': base64.b64encode(('fixer:' + PASSWORD).encode()).decode(),
    'privatekey': PEM.replace('\n', '\\n'),
    'url': 'https://registry.fix.example:5000', 'authurl': 'https://gitlab.fix.example', 'login': 'fixer',
    'username': 'fix-user', 'namespace': 'fixorg', 'account': 'fixbot', 'region': 'eu-west-3',
    'clientid': 'fix-client-id', 'accesskeyid': 'AKIAFIXEXAMPLE0000001', 'clientemail': 'fixer@fix.iam.gserviceaccount.com',
}
# The secrets as SSM stores them once filled in (the PEM's \n escapes are newlines in YAML's double quotes).
STORED_SECRET = dict((name, PEM if name == 'privatekey' else FILL[name])
                     for name in ('password', 'token', 'clientsecret', 'secretaccesskey', 'auth', 'privatekey'))
SEEDED_WRONG = 'seeded-wrong-password-8'
NO_TASK = {'legacy_provider', 'unreachable_name', 'registry_unreachable', 'anonymous_only', 'not_verifiable'}
# Codes of the SSM version that any row of the provider in use gets: they come along with the codes a case
# targets, and the fix of those leaves them (custom_ignored moves with the order of the custom rows).
ALONG = {'credentials_unused', 'not_registered', 'custom_ignored'}
TASK = re.compile(r'^squirrel\.ssm\.ssm_registry: \{.*\}(  # .*)?$')


def no_task(case):
    """The codes of the case whose fix is no task: those of NO_TASK, and every code of a legacy row."""
    return case.codes & NO_TASK if case.provider in PROVIDERS else set(case.codes)


def good(provider):
    """Good credentials whose secrets are what FILL puts in their placeholders (so that a fix that sets a secret
    again changes no stored value but those it is about)."""
    credentials = copy.deepcopy(GOOD[provider])
    for name in credentials:
        if PROVIDERS[provider].fields[name].secret:
            credentials[name] = STORED_SECRET[name]
    return credentials


def without(credentials, *names):
    return dict((k, v) for k, v in credentials.items() if k not in names)


class Case:
    """One stored row and the codes it must get; `how`: set (credentials in use), leftover (then SSM's own
    reset, which keeps the values), db (written into SSM's database), verify (read with the credential check)."""

    def __init__(self, codes, provider, auth=None, name=None, how='set'):
        self.codes, self.provider, self.auth, self.how = set(codes), provider, auth, how
        self.name = name or provider

    def __repr__(self):
        return '%s %s' % (self.name, sorted(self.codes))


def structural_cases():
    """Two rows per built-in provider hold every structural code it can have; each custom code has a row."""
    g = good
    first = [  # a field of the wrong type, a required field missing, a field the provider does not read
        Case(['wrong_type', 'missing_field', 'unknown_field'], 'acr', {'clientid': 1234, 'note': 'x'}),
        Case(['wrong_type', 'missing_field', 'unknown_field'], 'ecr',  # the guide's accesskey: its value is kept
             {'accesskey': g('ecr')['accesskeyid'], 'secretaccesskey': g('ecr')['secretaccesskey'], 'region': 1}),
        # url kept; the login of the wrong type, its password missing, a base64 auth that is not one beside it
        Case(['wrong_type', 'missing_field', 'unknown_field', 'invalid_value', 'conflicting_fields'], 'forgejo',
             {'url': g('forgejo')['url'], 'login': 1234, 'auth': 'not base64', 'note': 'x'}),
        Case(['wrong_type', 'missing_field', 'unknown_field'], 'gcr', {'clientemail': 1234, 'note': 'x'}),
        Case(['wrong_type', 'missing_field', 'unknown_field'], 'ghcr', {'username': 1234, 'note': 'x'}),
        Case(['wrong_type', 'missing_field', 'unknown_field', 'invalid_value', 'conflicting_fields'], 'gitea',
             {'url': 'gitea.example.com', 'login': 1234, 'auth': 'not base64', 'note': 'x'}),
        Case(['wrong_type', 'missing_field', 'unknown_field'], 'gitlab',
             {'url': 'https://registry.gitlab.example.com', 'authurl': 1234, 'note': 'x'}),
        Case(['wrong_type', 'missing_field', 'unknown_field', 'invalid_value', 'conflicting_fields'], 'hub',
             {'login': 1234, 'auth': 'not base64', 'note': 'x'}),
        Case(['wrong_type', 'missing_field', 'unknown_field'], 'lscr', {'username': 1234, 'note': 'x'}),
        Case(['wrong_type', 'missing_field', 'unknown_field'], 'quay',
             {'namespace': 1234, 'token': g('quay')['token'], 'note': 'x'}),
    ]
    second = [  # a value the provider refuses, GitLab's addresses (and acr, which no check can verify)
        Case(['invalid_value', 'not_verifiable'], 'acr', dict(g('acr'), clientid=' padded '), how='verify'),
        Case(['invalid_value'], 'ecr', dict(g('ecr'), region='Europe')),
        Case(['invalid_value'], 'gcr', dict(g('gcr'), clientemail='not-an-email')),
        Case(['invalid_value'], 'ghcr', dict(g('ghcr'), username='octocat\n')),
        # A self-hosted GitLab without authurl: the fix keeps its url and asks for its authurl (not gitlab.com).
        Case(['gitlab_url_missing', 'invalid_value'], 'gitlab',
             {'url': 'https://registry.gitlab.example.com', 'token': ' padded-token'}),
        Case(['invalid_value'], 'lscr', dict(g('lscr'), username=' octocat')),
        Case(['invalid_value'], 'quay', dict(g('quay'), namespace='myorg+ssm')),
    ]
    custom = [
        # The case: url and login stored, password missing; the fix keeps both and asks for the password.
        Case(['missing_field'], 'custom', without(g('custom'), 'password'), 'fix-missing'),
        Case(['wrong_type'], 'custom', dict(g('custom'), login=1234), 'fix-wrong-type'),
        Case(['invalid_value'], 'custom', dict(g('custom'), url='ftp://registry.local'), 'fix-invalid'),
        Case(['unknown_field'], 'custom', dict(g('custom'), note='x'), 'fix-unknown'),
        Case(['conflicting_fields'], 'custom', dict(g('custom'), auth=FILL['auth']), 'fix-conflict'),
        Case(['url_ends_in_v2'], 'custom', dict(g('custom'), url=g('custom')['url'] + '/v2/'), 'fix v2 mirror'),
    ]
    return first, second, custom


def cases(target, verify):
    """The rounds of cases for this SSM: [[Case, ...], ...]; a row name appears once per round."""
    first, second, custom = structural_cases()
    rounds = [[], [], [], []]
    if target.version == '0.1':
        # The last custom row stored is the one v0.1 uses: the ignored one is stored first.
        rounds[0].append(Case(['custom_ignored'], 'custom', good('custom'), 'fix-ignored'))
        # A custom row as SSM's web UI stores it (its form's newName in auth), which v0.1 refuses to register.
        rounds[0].append(Case(['not_registered'], 'custom', dict(good('custom'), newName='fix-ui'), 'fix-ui'))
    rounds[0] += first + custom
    if target.has('database'):  # rows no client can write
        rounds[0].append(Case(['legacy_provider', 'leftover_secret'], 'hotio', {'token': STORED_SECRET['token']},
                              how='db'))
        rounds[0].append(Case(['unreachable_name'], 'custom', None, 'team/fix', how='db'))
    if 'reload_registry' in CODES:  # a short-lived reload row an interrupted run left behind
        rounds[0].append(Case(['reload_registry'], 'custom', dict(url='https://reload.squirrel-ssm.invalid',
                                                                  login='squirrel-ssm', password=PASSWORD),
                              'squirrel-ssm-reload-fixtest'))
    rounds[1] += [Case(['leftover_secret'], p, good(p), how='leftover') for p in sorted(PROVIDERS) if p != 'custom']
    rounds[1].append(Case(['leftover_secret'], 'custom', good('custom'), 'fix-leftover', how='leftover'))
    rounds[2] += second
    if target.version == '0.5':
        rounds[2].append(Case(['credentials_unused'], 'hub', good('hub')))
    else:  # every ghcr, gitlab and lscr row with credentials has it on v0.1: a round of its own
        rounds[3] += [Case(['not_registered'], provider, good(provider)) for provider in ('ghcr', 'gitlab', 'lscr')]
    if verify:
        rejected = dict(url=verify['basic'], login='fixer', password=SEEDED_WRONG)
        rounds[0].append(Case(['credentials_rejected'], 'custom', rejected, 'fix-rejected', how='verify'))
        rounds[2].append(Case(['credentials_rejected'], 'gitea', rejected, how='verify'))
        rounds[2].append(Case(['credentials_rejected'], 'forgejo', rejected, how='verify'))
        rounds[0].append(Case(['registry_unreachable'], 'custom', dict(
            url='http://127.0.0.1:%d' % free_port(), login='fixer', password=PASSWORD), 'fix-closed', how='verify'))
        rounds[0].append(Case(['anonymous_only'], 'custom', dict(url=verify['open'], login='fixer', password=PASSWORD),
                              'fix-open', how='verify'))
    return rounds


@pytest.fixture(scope='module')
def verify_registries(tmp_path_factory):
    """Debian's docker-registry with htpasswd (it knows fixer's FILL password) and an open one, for the codes of
    the credential check; none where the package is missing (tests/realreg/apt-packages.txt)."""
    if not os.access(REGISTRY_BIN, os.X_OK):
        yield None
        return
    workdir = str(tmp_path_factory.mktemp('fix-registries'))
    basic = HtpasswdRegistry(workdir, {'fixer': PASSWORD}).start()
    opened = Registry(workdir, 'open', None).start()
    yield {'basic': basic.url, 'open': opened.url}
    basic.stop()
    opened.stop()


def seed(target, case):
    if case.how == 'db':
        row = {'name': case.name, 'provider': case.provider, 'authScheme': [], 'authSet': False,
               'canAnonymous': case.provider != 'custom', 'canAuth': True}
        if case.auth:
            row['auth'] = case.auth
        target.insert_row(row)
        return
    if case.provider == 'custom':
        answer = target.api('PUT', case.name, {'auth': case.auth, 'authScheme': CUSTOM_AUTH_SCHEME})
    else:
        answer = target.api('POST', case.name, {'auth': case.auth})
    assert answer.status_code < 400 or target.rows()[case.name].get('auth') == case.auth, answer.text
    if case.how == 'leftover':
        target.api('PATCH', case.name)


def playbook(scenario, tasks, path):
    """A play of task lines as text: each fix line exactly as printed, after `- `."""
    lines = ['- hosts: localhost', '  gather_facts: false', '  module_defaults:',
             '    group/squirrel.ssm.ssm: ' + json.dumps(scenario.target.connection), '  tasks:']
    for index, line in enumerate(tasks):
        lines += ['    - ' + line, '      register: r%d' % index, '      ignore_errors: true']
    collected = '{' + ', '.join("'r%d': r%d" % (i, i) for i in range(len(tasks))) + '}'
    copy = '    - ansible.builtin.copy: {content: "{{ %s | to_json }}", dest: %s}'
    lines.append(copy % (collected, json.dumps(path + '.json')))
    with open(path, 'w') as handle:
        handle.write('\n'.join(lines) + '\n')


def run(scenario, tasks, label, secrets):
    target = scenario.target
    path = str(scenario.tmp_path / ('%s.yml' % label))
    playbook(scenario, tasks, path)
    mark = len(target.requests())
    proc = subprocess.run([os.path.join(BIN, 'ansible-playbook'), path, '-vvvv', '--diff'], env=scenario.env(),
                          capture_output=True, text=True, check=False)
    output = proc.stdout + proc.stderr
    assert_no_secret(output, secrets)
    assert proc.returncode == 0, output[-4000:]
    with open(path + '.json') as handle:
        data = json.load(handle)
    return [data['r%d' % i] for i in range(len(tasks))], target.writes_since(mark)


def info_tasks(round_cases):
    tasks = ['squirrel.ssm.ssm_registry_info: {}']
    for case in round_cases:
        if case.how == 'verify':
            tasks.append('squirrel.ssm.ssm_registry_info: %s' % json.dumps(dict(name=case.name, verify_credentials=True)))
    return tasks


def problems_of(results, round_cases):
    """{row name: {code: fix}}, the check's codes of each verified row added to its row."""
    found = dict((row['name'], dict((p['code'], p['fix']) for p in row['problems'])) for row in results[0]['registries'])
    verified = [case for case in round_cases if case.how == 'verify']
    for case, result in zip(verified, results[1:]):
        found[case.name].update((p['code'], p['fix']) for p in result['registries'][0]['problems'])
    return found


def fill(fix):
    """The value typed between the quotes of each placeholder (a bare one, as older fixes printed, gets quotes)."""
    filled = re.sub(r'"<(\w+)>"', lambda m: '"%s"' % FILL[m.group(1)], fix)
    filled = re.sub(r'<(\w+)>', lambda m: '"%s"' % FILL[m.group(1)], filled)
    assert '<' not in filled.split('  # ')[0], 'a placeholder FILL does not know: %s' % fix
    return filled


def kept(provider, auth):
    """The stored fields a fix must leave as they are: the provider's fields whose stored value is good, but for
    base64 auth stored beside login (the fix keeps the login form)."""
    spec, fields = PROVIDERS[provider], {}
    for name, value in (auth or {}).items():
        field = spec.fields.get(name)
        if field is None or not isinstance(value, str) or field.secret and value not in STORED_SECRET.values():
            continue
        try:
            if field.type(value) != value:
                continue
        except (TypeError, ValueError):
            continue
        fields[name] = value
    if 'auth' in fields and 'login' in (auth or {}):
        del fields['auth']
    return fields


def record(target, case, outcome, codes=None):
    path = os.environ.get('FIX_TABLE')
    if path:
        with open(path, 'a') as handle:
            for code in sorted(case.codes if codes is None else codes):
                handle.write(json.dumps(dict(target=target.label, code=code, provider=case.provider,
                                             outcome=outcome)) + '\n')


def test_every_fix_as_printed(scenario, target, verify_registries):
    secrets = set(STORED_SECRET.values()) | {SEEDED_WRONG, PASSWORD}
    covered = set()
    for number, round_cases in enumerate(cases(target, verify_registries)):
        if not round_cases:
            continue
        for case in round_cases:
            seed(target, case)
        seeded = dict((case.name, case) for case in round_cases)
        for case in list(round_cases):
            if case.how == 'leftover' and not any((target.rows()[case.name].get('auth') or {}).values()):
                round_cases.remove(case)  # this SSM's reset removes the values (the sandbox's fixed flavour)
                record(target, case, 'n/a')
        before = target.rows()
        found = problems_of(run(scenario, info_tasks(round_cases), 'info-%d' % number, secrets)[0], round_cases)
        fixes = []
        for case in round_cases:
            codes = found.get(case.name, {})
            along = set(codes) - case.codes
            assert case.codes <= set(codes) and along <= ALONG, (case, codes)
            untasked = set(codes[code] for code in no_task(case))
            assert not [fix for fix in untasked if 'squirrel.ssm.ssm_registry:' in fix], (case, untasked)
            if no_task(case):
                record(target, case, 'no task', no_task(case))
            printed = set(codes[code] for code in case.codes - no_task(case))
            if not printed:
                continue
            assert len(printed) == 1, ('the codes of one row print one fix', case, printed)
            fix = printed.pop()
            assert TASK.match(fix), (case, fix)
            assert not [s for s in secrets if s in fix], 'a fix shows a stored secret'
            fixes.append((case, fill(fix)))
        if not fixes:
            continue
        results = run(scenario, [fix for case, fix in fixes] + info_tasks(round_cases), 'fix-%d' % number, secrets)[0]
        for (case, fix), result in zip(fixes, results):
            assert not result.get('failed'), (case, fix, result.get('msg'))
        after = problems_of(results[len(fixes):], round_cases)
        stored = target.rows()
        fixed = dict((case.name, case) for case, fix in fixes)
        for name, row in before.items():
            if name in fixed or name.startswith('squirrel-ssm-reload-'):
                continue
            assert stored.get(name) == row, ('a fix changed a row it is not about', name)
        for name, case in fixed.items():
            left = set(after.get(name, {}))
            assert not left & (case.codes - no_task(case)) and left <= ALONG | no_task(case), (case, left)
            if name not in stored:
                continue  # state: absent
            row = stored[name]
            if not row.get('authSet'):  # state: reset
                assert not any((row.get('auth') or {}).values()), (case, 'a reset left values')
                continue
            for field, value in kept(case.provider, before[name].get('auth')).items():
                assert row['auth'].get(field) == value, (case, field, 'a stored value the fix was not about changed')
            if 'url_ends_in_v2' in case.codes:
                assert row['auth']['url'] == seeded[name].auth['url'][:-len('/v2/')], row['auth']['url']
        again, writes = run(scenario, [fix for case, fix in fixes], 'again-%d' % number, secrets)
        assert writes == [] and not [r for r in again if r.get('changed') or r.get('failed')], writes
        for case, fix in fixes:
            record(target, case, 'pass', case.codes - no_task(case))
            covered |= set((code, case.provider) for code in case.codes - no_task(case))
    applicable = set(code for code in CODES)
    if target.version == '0.5':
        applicable -= {'custom_ignored', 'not_registered'}
    else:
        applicable -= {'credentials_unused'}
    if not verify_registries:
        applicable -= {'credentials_rejected', 'registry_unreachable', 'anonymous_only'}
    if not target.has('database'):  # only rows written into the database have them (a running SSM's are out of reach)
        applicable -= {'legacy_provider', 'unreachable_name'}
    missing = applicable - NO_TASK - set(code for code, provider in covered)
    if getattr(target.server, 'flavour', '') == 'fixed':
        missing.discard('leftover_secret')
    assert not missing, 'codes no case of this test covers: %s' % sorted(missing)
