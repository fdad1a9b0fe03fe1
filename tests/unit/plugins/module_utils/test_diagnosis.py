"""The diagnosis of stored rows: each problem code from the provider table and the version facts; a healthy set
reports none; no message or fix ever holds a stored value."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import copy
import re
import json

import pytest

from ansible_collections.squirrel.ssm.plugins.module_utils.diagnosis import (
    CODES, SEVERITIES, VERIFY_CODES, count, diagnose, verification_problems)
from ansible_collections.squirrel.ssm.plugins.module_utils.providers import PROVIDERS
from ansible_collections.squirrel.ssm.plugins.module_utils.ssm_versions import VERSIONS
from ansible_collections.squirrel.ssm.tests.cases import GOOD, PEM
from ansible_collections.squirrel.ssm.tests.webui import rows_after

V05, V01 = VERSIONS['0.5'], VERSIONS['0.1']
SECRET = 'diagnosis-secret-value-9'


def row(name, provider=None, auth=None, auth_set=None):
    stored = dict(name=name, provider=provider or name, authSet=auth is not None if auth_set is None else auth_set)
    if auth is not None:
        stored['auth'] = auth
    return stored


def fresh():
    return dict((name, row(name)) for name in ('ecr', 'ghcr', 'gcr', 'hub', 'quay', 'acr', 'gitea', 'forjejo_ok',
                                               'lscr', 'gitlab') if name != 'forjejo_ok')


def codes(found, name):
    return sorted(p['code'] for p in found[name])


def healthy():
    rows = fresh()
    for provider in ('ghcr', 'quay', 'gitlab', 'gitea', 'ecr', 'gcr', 'acr', 'lscr', 'forgejo'):
        rows[provider] = row(provider, auth=copy.deepcopy(GOOD[provider]))
    rows['harbor'] = row('harbor', 'custom', {'url': 'https://harbor.example.com', 'login': 'r', 'password': SECRET})
    return rows


@pytest.mark.parametrize('version', [V05, V01])
def test_fresh_and_healthy_sets_report_nothing(version):
    assert count(diagnose(fresh(), version).values()) == 0
    rows = healthy()
    if version is V01:
        for provider in ('ghcr', 'gitlab', 'lscr'):
            del rows[provider]  # v0.1 fails to register them with credentials ("name" is not allowed)
    assert diagnose(rows, version) == dict((name, []) for name in rows)


@pytest.mark.parametrize('stored,code', [
    (row('ghcr', auth={'username': 'octocat'}), 'missing_field'),
    (row('gitea', auth={'url': 'https://git.example', 'login': 'me'}), 'missing_field'),
    (row('ecr', auth={'accesskey': 'AKIAABCDEFGHIJKLMNOP', 'secretaccesskey': SECRET, 'region': 'eu-west-1'}),
     'missing_field'),
    (row('gitea', auth={'url': 123, 'login': 'me', 'password': SECRET}), 'wrong_type'),
    (row('quay', auth=dict(GOOD['quay'], robot='x')), 'unknown_field'),
    (row('gitea', auth={'url': 'https://git.example', 'login': 'me', 'password': SECRET, 'auth': 'bWU6cA=='}),
     'conflicting_fields'),
    (row('gitea', auth={'url': 'ftp://git.example', 'login': 'me', 'password': SECRET}), 'invalid_value'),
    (row('gitlab', auth={'token': SECRET}), 'gitlab_url_missing'),
    (row('gitlab', auth={'token': SECRET, 'url': 'https://registry.gitlab.com'}), 'gitlab_url_missing'),
    (row('m', 'custom', {'url': 'http://mirror.example.com:5000/v2/', 'login': 'me', 'password': SECRET}),
     'url_ends_in_v2'),
    (row('hotio', auth_set=False), 'legacy_provider'),
    (row('quay', auth=dict(GOOD['quay'], token=SECRET), auth_set=False), 'leftover_secret'),
    (row('hub', auth={'login': 'me', 'password': SECRET}), 'credentials_unused'),
    (row('team/mirror', 'custom', {'url': 'http://mirror.example.com'}), 'unreachable_name'),
    (row('squirrel-ssm-reload-1796284800-0a7c9c-4242-beef', 'custom', {'url': 'https://reload.squirrel-ssm.invalid'}),
     'reload_registry'),
])
def test_each_code(stored, code):
    found = diagnose({stored['name']: stored}, V05)[stored['name']]
    assert code in [p['code'] for p in found], found
    for one in found:
        assert one['severity'] in SEVERITIES and one['severity'] == CODES[one['code']][0] or one['code'] == \
            'legacy_provider'
        assert one['message'] and one['fix']
    assert SECRET not in json.dumps(found) and '123' not in json.dumps([p['message'] for p in found])


def test_wrong_type_is_an_error_that_says_it_can_crash_ssm():
    found = diagnose({'gitea': row('gitea', auth={'url': 123, 'login': 'me', 'password': SECRET})}, V05)['gitea']
    assert [(p['code'], p['severity']) for p in found] == [('wrong_type', 'error')]
    assert 'crash SSM' in found[0]['message'] and 'does not start again after a restart' in found[0]['message']
    assert found[0]['fix'].startswith('squirrel.ssm.ssm_registry: {provider: gitea, credentials: {')


def test_leftover_fix_is_a_reset_and_legacy_rows_are_not_written():
    found = diagnose({'quay': row('quay', auth={'token': SECRET}, auth_set=False),
                      'forjejo': row('forjejo', auth={'password': SECRET}, auth_set=False),
                      'hotio': row('hotio', auth={'x': 'y'})}, V05)
    assert found['quay'][0]['fix'] == 'squirrel.ssm.ssm_registry: {provider: quay, state: reset}'
    assert codes(found, 'forjejo') == ['leftover_secret', 'legacy_provider']
    assert "database" in found['forjejo'][1]['fix']
    assert [(p['code'], p['severity']) for p in found['hotio']] == [('legacy_provider', 'error')]


def test_v01_facts():
    rows = fresh()
    for provider in ('ghcr', 'gitlab', 'lscr'):
        # canAnonymous as SSM lists these rows (tests/sandbox: the same on both versions)
        rows[provider] = dict(row(provider, auth=GOOD[provider]), canAnonymous=provider == 'ghcr')
    rows['hub'] = row('hub', auth=GOOD['hub'])
    rows['harbor'] = row('harbor', 'custom', {'url': 'https://harbor.example.com'})
    rows['mirror'] = row('mirror', 'custom', {'url': 'https://mirror.example.com'})
    found = diagnose(rows, V01)
    for provider in ('ghcr', 'gitlab', 'lscr'):
        assert codes(found, provider) == ['not_registered'] and found[provider][0]['severity'] == 'error'
        assert '"name" is not allowed' in found[provider][0]['message']
        assert found[provider][0]['fix'].startswith('squirrel.ssm.ssm_registry: {provider: %s, state: reset}' % provider)
    # Only ghcr has an anonymous registry v0.1 uses once the credentials are reset; gitlab and lscr have none.
    assert 'anonymous registry is then used' in found['ghcr'][0]['fix']
    for provider in ('gitlab', 'lscr'):
        assert 'anonymous registry' not in found[provider][0]['fix'] and 'v0.5' in found[provider][0]['fix']
        assert 'no anonymous one' in found[provider][0]['message']
    assert codes(found, 'harbor') == ['custom_ignored'] and codes(found, 'mirror') == []
    assert 'state: absent' in found['harbor'][0]['fix']
    assert codes(found, 'hub') == []
    v05 = diagnose(rows, V05)
    assert codes(v05, 'ghcr') == [] and codes(v05, 'harbor') == [] and codes(v05, 'hub') == ['credentials_unused']
    assert codes(v05, 'gitlab') == [] and codes(v05, 'lscr') == []


def test_v01_a_refused_field_of_a_provider_that_never_registers_is_no_second_problem():
    """Storing an lscr row again without the web form's newName would not make v0.1 use it: one not_registered,
    the provider's own."""
    stored = row('lscr', auth=dict(GOOD['lscr'], newName='lscr'))
    found = diagnose({'lscr': stored}, V01)['lscr']
    assert [p['code'] for p in found] == ['not_registered'] and '"name" is not allowed' in found[0]['message']
    assert codes(diagnose({'lscr': stored}, V05), 'lscr') == []


def test_the_converge_warns_of_every_provider_v01_fails_to_register():
    """limits_of, the converge's warnings, reads the same facts as the diagnosis: ghcr, gitlab and lscr set on v0.1
    are named, a reset one is not; v0.5 warns of none of them."""
    from ansible_collections.squirrel.ssm.plugins.module_utils.registries import resolve
    from ansible_collections.squirrel.ssm.plugins.module_utils.ssm_versions import limits_of
    wanted = [resolve(dict(provider=p, credentials=GOOD[p])) for p in ('lscr', 'ghcr', 'quay', 'gitlab')]
    warned = [w for w in limits_of(V01, wanted) if 'fails to register' in w]
    assert warned == ['%s fails to register ghcr, gitlab, lscr with credentials ("name" is not allowed): they are '
                      'stored, but its update checks do not use them' % V01.label]
    wanted[-1] = resolve(dict(provider='gitlab', state='reset'))
    assert 'fails to register ghcr, lscr with' in ' '.join(limits_of(V01, wanted))
    assert not [w for w in limits_of(V05, wanted) if 'fails to register' in w]


def test_rows_ssm_does_not_use_are_not_checked_for_fields():
    found = diagnose({'ghcr': row('ghcr', auth={'username': 'me'}, auth_set=False)}, V05)
    assert codes(found, 'ghcr') == ['leftover_secret']


def test_verification_codes():
    def verify_codes(provider, status):
        return [p['code'] for p in verification_problems(provider, provider, status, 'what the check said')]
    assert verify_codes('ghcr', 'rejected') == ['credentials_rejected']
    assert verify_codes('ghcr', 'unreachable') == ['registry_unreachable']
    assert verify_codes('acr', 'not_verifiable') == ['not_verifiable']
    assert verify_codes('custom', 'anonymous_only') == ['anonymous_only']
    assert verify_codes('ghcr', 'accepted') == [] and verify_codes('ghcr', 'not_checked') == []
    assert set(VERIFY_CODES.values()) <= set(CODES)


def test_every_code_is_documented():
    import os
    doc = os.path.join(os.path.dirname(__file__), '..', '..', '..', '..', 'docs', 'problems.md')
    text = open(doc).read()
    missing = [code for code in CODES if '`%s`' % code not in text]
    assert not missing, missing


# What a user types for each placeholder (between the quotes the fix prints around it).
FILLED = {'password': 'p: #1, x', 'token': 't: #2', 'clientsecret': 's: #3', 'secretaccesskey': 'k/+: #4',
          'auth': 'Zml4ZXI6cGFzcw==', 'privatekey': PEM.replace('\n', '\\n'), 'url': 'https://r.example:5000',
          'authurl': 'https://gitlab.example.com', 'login': 'fixer', 'username': 'fix-user', 'namespace': 'fixorg',
          'account': 'fixbot', 'region': 'eu-west-3', 'clientid': 'fix-id', 'accesskeyid': 'AKIAFIXEXAMPLE0000001',
          'clientemail': 'fixer@example.iam.gserviceaccount.com'}


def yaml_loader():
    """Ansible's own YAML loader, to read a fix as a playbook does. ansible-test units keeps controller code
    (ansible.parsing) out of module_utils tests, so there these tests skip; the plain pytest run of make test has it."""
    return pytest.importorskip('ansible.parsing.yaml.loader',
                               reason='needs the controller (ansible.parsing), kept from module_utils tests by '
                                      'ansible-test units').AnsibleLoader


def as_task(fix):
    """The fix as Ansible reads it from a playbook, placeholders filled: (module, args)."""
    loader_class = yaml_loader()
    filled = re.sub(r'"<(\w+)>"', lambda m: '"%s"' % FILLED[m.group(1)], fix)
    assert '<' not in filled.split('  # ')[0], filled
    tasks = loader_class('- ' + filled).get_single_data()
    assert isinstance(tasks, list) and len(tasks) == 1 and list(tasks[0]) == ['squirrel.ssm.ssm_registry'], fix
    return tasks[0]['squirrel.ssm.ssm_registry']


STORED = [  # (row, the stored values its fix must carry)
    (row('harbor', 'custom', {'url': 'https://harbor.example.com', 'login': 'robot'}),
     {'url': 'https://harbor.example.com', 'login': 'robot'}),
    (row('harbor', 'custom', {'url': 'https://harbor.example.com', 'login': 'robot', 'password': SECRET,
                              'auth': 'cm9ib3Q6cA=='}), {'url': 'https://harbor.example.com', 'login': 'robot'}),
    (row('my mirror: eu', 'custom', {'url': 'http://m.example.com:5000/v2/', 'login': 'pull', 'password': 1}),
     {'url': 'http://m.example.com:5000', 'login': 'pull'}),
    (row('gitlab', auth={'url': 'https://registry.gitlab.example.com', 'token': SECRET}),
     {'url': 'https://registry.gitlab.example.com'}),
    (row('gitlab', auth={'authurl': 'https://gitlab.example.com', 'url': 123}), {'authurl': 'https://gitlab.example.com'}),
    (row('ecr', auth={'accesskey': 'AKIAIOSFODNN7EXAMPLE', 'secretaccesskey': SECRET, 'region': 'Europe'}),
     {'accesskeyid': 'AKIAIOSFODNN7EXAMPLE'}),
    (row('gitea', auth={'url': 'gitea.example.com', 'auth': 'not base64'}), {'url': 'gitea.example.com'}),
    (row('gitea', auth={'url': 'ftp://gitea.example.com', 'login': 'me', 'password': SECRET}), {'login': 'me'}),
    (row('hub', auth={'login': 'yes', 'token': SECRET, 'note': 'x'}), {'login': 'yes'}),
    (row('hub', auth={'login': 'me', 'auth': 'bWU6cA==', 'password': SECRET}), {'login': 'me'}),
    (row('quay', auth={'namespace': 'my org', 'account': 'ro+bot', 'token': SECRET}), {'namespace': 'my org'}),
    (row('ghcr', auth={'username': 'o{{ctocat }}'}), {'username': 'o{{ctocat }}'}),
    (row('gcr', auth={'clientemail': 'a@b.example', 'privatekey': 12}), {'clientemail': 'a@b.example'}),
    (row('acr', auth={'clientid': '', 'clientsecret': SECRET, 'tenant': 'x'}), {}),
    (row('lscr', auth={'token': SECRET}), {}),
]


@pytest.mark.parametrize('stored,kept', STORED, ids=[r['name'] + str(i) for i, (r, k) in enumerate(STORED)])
@pytest.mark.parametrize('version', [V05, V01])
def test_a_fix_is_a_task_the_module_accepts_with_the_rows_own_values(stored, kept, version):
    """Every fix printed for the row, read as Ansible reads a task with only its placeholders filled, passes the
    module's own validation before any request, and keeps the row's good non-secret values."""
    from ansible_collections.squirrel.ssm.plugins.module_utils.registries import resolve
    found = diagnose({stored['name']: stored}, version)[stored['name']]
    assert found
    for one in found:
        args = as_task(one['fix'])
        wanted = resolve(args)
        assert wanted.name == stored['name']
        if wanted.state == 'present':
            for field, value in kept.items():
                assert wanted.credentials[field] == value, (one['code'], field)
            assert SECRET not in one['fix']


def test_credentials_rejected_keeps_the_login_and_checks_the_new_secret():
    stored = {'url': 'https://harbor.example.com', 'login': 'robot', 'password': SECRET}
    fix = verification_problems('custom', 'harbor', 'rejected', 'refused', stored)[0]['fix']
    args = as_task(fix)
    assert args['credentials'] == {'url': 'https://harbor.example.com', 'login': 'robot', 'password': 'p: #1, x'}
    assert args['verify_credentials'] is True and SECRET not in fix


def test_a_row_the_module_cannot_address_gets_no_task():
    for name in ('team/mirror', 'harbor ', ' harbor'):
        rows = {name: row(name, 'custom', {'url': 'http://m.example.com', 'login': 'me'})}
        for one in diagnose(rows, V05)[name]:
            assert 'squirrel.ssm.ssm_registry:' not in one['fix'], one


@pytest.mark.parametrize('value', ['plain', 'yes', 'No', 'null', '123', '1e3', 'a: b', 'a #b', '{x}', '[y]', "it's",
                                   '"q"', 'back\\slash', 'tab\there', 'über', '{{ lookup("pipe", "id") }}', '{% x %}',
                                   '@at', '*star', '&amp', '!bang', '%pct', '- dash', '~', ''])
def test_yaml_reads_back_every_value_as_the_same_string(value):
    loader_class = yaml_loader()
    from ansible_collections.squirrel.ssm.plugins.module_utils.diagnosis import _yaml
    assert loader_class(_yaml({'v': value})).get_single_data() == {'v': value}


def test_rows_written_by_the_web_ui_are_problems_only_where_ssm_does_not_use_them():
    """tests/webui: what SSM's own web client stores. v0.5 uses every row (hub's credentials aside, which it never
    uses, and the quay row the UI reset, whose secret it keeps); v0.1 refuses the custom rows' newName and "" fields."""
    rows = rows_after()
    found = diagnose(rows, V05)
    assert dict((name, codes(found, name)) for name in rows) == {
        'Harbor Prod': [], 'mirror': [], 'ghcr': [], 'hub': ['credentials_unused'], 'gitlab': [], 'quay': ['leftover_secret']}
    found = diagnose(rows, V01)
    assert dict((name, codes(found, name)) for name in rows) == {
        'Harbor Prod': ['custom_ignored', 'not_registered'], 'mirror': ['not_registered'], 'ghcr': ['not_registered'],
        'hub': [], 'gitlab': ['not_registered'], 'quay': ['leftover_secret']}
    refused = [p for p in found['mirror'] if p['code'] == 'not_registered'][0]
    assert 'login' in refused['message'] and 'newName' in refused['message']
    task = refused['fix'].split('  #')[0]
    assert 'newName' not in task and '<auth>' in task and 'login' not in task and 'http://mirror.example.com:5000' in task
    assert 'ui-' not in json.dumps(found)


def sample_rows(count=40, seed=17):
    """Rows as any client may have stored them: for each provider, fields from its own, a form field of SSM's web UI
    (newName) and a stray one, each absent, good, empty, padded or a number; credentials in use or not."""
    import random
    chooser = random.Random(seed)
    for provider in sorted(GOOD):
        names = list(PROVIDERS[provider].fields) + ['newName', 'note']
        for index in range(count):
            auth = {}
            for name in names:
                good = GOOD[provider].get(name, 'x')
                value = chooser.choice([None, None, good, good, '', ' %s ' % good, 1234])
                if value is not None:
                    auth[name] = value
            name = provider if PROVIDERS[provider].builtin else chooser.choice(['harbor', 'my mirror: eu'])
            yield row(name, provider, auth, auth_set=chooser.random() < 0.8)


@pytest.mark.parametrize('version', [V05, V01])
def test_every_printed_fix_is_a_task_the_module_accepts_or_no_task(version):
    """Whatever a row holds, each fix the diagnosis prints either is one task that passes the module's validation
    once its placeholders are filled, or holds no task at all."""
    from ansible_collections.squirrel.ssm.plugins.module_utils.registries import resolve
    checked = 0
    for stored in sample_rows():
        for one in diagnose({stored['name']: stored}, version)[stored['name']]:
            if 'squirrel.ssm.ssm_registry:' in one['fix'] and one['fix'].startswith('squirrel.ssm.'):
                resolve(as_task(one['fix']))
                checked += 1
            else:
                assert 'squirrel.ssm.ssm_registry: {' not in one['fix'], one
    assert checked > 200
