"""The export's decisions, without SSM: which rows the file declares, which it leaves out and why, YAML scalars that
read back as stored, and variable names for the secrets file."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import copy

import pytest
import yaml

from ansible_collections.squirrel.ssm.plugins.action.ssm_registry_export import (
    classify, render, scalar, variable_names)
from ansible_collections.squirrel.ssm.plugins.module_utils.registries import plan, resolve
from ansible_collections.squirrel.ssm.plugins.module_utils.ssm_versions import VERSIONS
from ansible_collections.squirrel.ssm.tests.cases import GOOD
from ansible_collections.squirrel.ssm.tests.webui import rows_after

SECRET = 'unit-export-secret-6'


def row(name, provider=None, auth=None, auth_set=True):
    stored = dict(name=name, provider=provider or name, authSet=auth_set)
    if auth is not None:
        stored['auth'] = auth
    return stored


def every_provider():
    return dict(('my-custom' if p == 'custom' else p, row('my-custom' if p == 'custom' else p, p, copy.deepcopy(GOOD[p])))
                for p in GOOD)


def test_every_provider_is_declared_as_stored_in_the_table_order():
    entries, skipped, anonymous = classify(every_provider(), VERSIONS['0.5'])
    assert [e.name for e in entries] == sorted(every_provider()) and skipped == [] and anonymous == []
    for entry in entries:
        assert entry.fields == GOOD[entry.provider]
    assert [e.notes for e in entries if e.name == 'hub'][0][0].startswith('credentials_unused')


@pytest.mark.parametrize('name, stored, codes', [
    ('hotio', row('hotio', auth_set=False), ['legacy_provider']),
    ('quay', row('quay', auth=dict(GOOD['quay'], token=SECRET), auth_set=False), ['leftover_secret']),
    ('lscr', row('lscr', auth=dict(GOOD['lscr'], token=SECRET, url='https://lscr.io')), ['unknown_field']),
    ('gitea', row('gitea', auth={'url': 123, 'login': 'a', 'password': SECRET}), ['wrong_type']),
    ('ghcr', row('ghcr', auth={'username': 'octocat'}), ['missing_field']),
    ('ghcr', row('ghcr', auth={'username': 'octocat', 'token': SECRET + '\n'}), ['invalid_value']),
    ('team/mirror', row('team/mirror', 'custom', dict(GOOD['custom'], password=SECRET)), ['unreachable_name']),
    ('squirrel-ssm-reload-00ff', row('squirrel-ssm-reload-00ff', 'custom', GOOD['custom']), ['reload_registry']),
    ('bare', row('bare', 'custom', auth_set=False), ['no_credentials']),
    ('harbor ', row('harbor ', 'custom', dict(GOOD['custom'], password=SECRET)), ['converge_refuses']),
    (' harbor', row(' harbor', 'custom', dict(GOOD['custom'], password=SECRET)), ['converge_refuses']),
    ('hub', row('hub', auth={'login': 'me', 'password': SECRET, 'token': SECRET + '-2'}), ['converge_refuses']),
])
def test_rows_the_collection_cannot_manage_are_left_out_with_the_reason(name, stored, codes):
    entries, skipped, dummy = classify({name: stored}, VERSIONS['0.5'])
    assert entries == [] and [(s['name'], s['codes']) for s in skipped] == [(name, codes)]
    assert SECRET not in repr(skipped) and skipped[0]['reason']


def test_anonymous_built_in_rows_need_no_entry():
    rows = {'ecr': row('ecr', auth_set=False), 'gitlab': row('gitlab', auth=dict(GOOD['gitlab'], token=SECRET))}
    entries, skipped, anonymous = classify(rows, VERSIONS['0.5'])
    assert anonymous == ['ecr'] and skipped == [] and [e.name for e in entries] == ['gitlab']


@pytest.mark.parametrize('auth', [
    {'url': 'https://registry.gitlab.example.com', 'token': SECRET},
    {'authurl': 'https://gitlab.example.com', 'token': SECRET},
    {'token': SECRET},
])
def test_a_value_the_row_lacks_is_never_filled_from_a_default(auth):
    """A self-hosted GitLab without authurl: gitlab.com's default would point it elsewhere. Left out, with its fix."""
    entries, skipped, dummy = classify({'gitlab': row('gitlab', auth=auth)}, VERSIONS['0.5'])
    assert entries == [] and skipped[0]['codes'] == ['gitlab_url_missing'] and 'fix: squirrel.ssm' in skipped[0]['reason']
    assert SECRET not in repr(skipped)


def journey_entries(version):
    rows = rows_after()
    entries, skipped, anonymous = classify(rows, version)
    return rows, dict((e.name, e) for e in entries), skipped


def test_ui_rows_are_exported_as_ssm_v05_uses_them_and_converge_writes_nothing():
    rows, entries, skipped = journey_entries(VERSIONS['0.5'])
    assert sorted(entries) == ['Harbor Prod', 'ghcr', 'gitlab', 'hub', 'mirror']
    assert [(s['name'], s['codes']) for s in skipped] == [('quay', ['leftover_secret'])]
    assert entries['Harbor Prod'].fields == {'url': 'https://harbor.example.com', 'login': 'robot$ci',
                                             'password': 'ui-harbor-secret-1'}
    assert entries['mirror'].fields == {'url': 'http://mirror.example.com:5000', 'auth': 'cm9ib3Q6dWktbWlycm9yLXNlY3JldC0y'}
    assert entries['hub'].fields == {'login': 'johndoe', 'password': 'ui-hub-secret-4'}
    assert [n.split(':')[0] for n in entries['hub'].notes] == ['credentials_unused']
    assert not [e.notes for name, e in entries.items() if name != 'hub' and e.notes]
    for entry in entries.values():
        item = dict(provider=entry.provider, credentials=entry.fields)
        if entry.provider == 'custom':
            item['name'] = entry.name
        assert plan(resolve(item), rows, VERSIONS['0.5']).method is None, entry.name


def test_ui_rows_on_v01_are_exported_clean_and_converge_repairs_only_them():
    rows, entries, skipped = journey_entries(VERSIONS['0.1'])
    assert sorted(entries) == ['Harbor Prod', 'ghcr', 'gitlab', 'hub', 'mirror']
    assert 'newName' not in entries['Harbor Prod'].fields and 'login' not in entries['mirror'].fields
    assert any(n.startswith('not_registered') for n in entries['mirror'].notes)
    writes = {}
    for entry in entries.values():
        item = dict(provider=entry.provider, credentials=entry.fields)
        if entry.provider == 'custom':
            item['name'] = entry.name
        writes[entry.name] = plan(resolve(item), rows, VERSIONS['0.1']).method
    assert dict((name, method) for name, method in writes.items() if method) == {'Harbor Prod': 'POST', 'mirror': 'POST'}


@pytest.mark.parametrize('value', ['octocat', 'robot$ci', 'yes', 'null', '123', '1e5', '0x1F', 'a: b', '#x', '', ' x',
                                   'https://h.example:5000/p', '- x', '{{ lookup("env", "X") }}', 'a\nb', '"q"', "'",
                                   '@at', '*star', '&amp', '!bang', '%pc', 'é', 'true'])
def test_a_scalar_reads_back_as_the_stored_string(value):
    class Unsafe(yaml.SafeLoader):
        pass
    Unsafe.add_constructor('!unsafe', lambda loader, node: loader.construct_scalar(node))
    text = scalar(value)
    assert yaml.load('key: %s' % text, Loader=Unsafe)['key'] == value
    assert text.startswith('!unsafe ') == ('{{' in value)


def test_variable_names_are_sanitised_and_unique():
    rows = {'My.Custom': row('My.Custom', 'custom', GOOD['custom']), 'my-custom': row('my-custom', 'custom', GOOD['custom']),
            'ghcr': row('ghcr', auth=GOOD['ghcr'])}
    entries, dummy, dummy2 = classify(rows, VERSIONS['0.5'])
    names = variable_names(entries)
    assert names == {('My.Custom', 'password'): 'vault_ssm_my_custom_password',
                     ('ghcr', 'token'): 'vault_ssm_ghcr_token',
                     ('my-custom', 'password'): 'vault_ssm_my_custom_password_2'}


def test_the_file_is_the_role_input_and_holds_no_secret():
    rows = every_provider()
    rows['hotio'] = row('hotio', auth={'password': SECRET}, auth_set=False)
    entries, skipped, anonymous = classify(rows, VERSIONS['0.5'])
    text = render(entries, skipped, anonymous, 'http://ssm.example:8000', lambda entry, field: '"<%s>"' % field)
    assert SECRET not in text and not [v for p in GOOD for k, v in GOOD[p].items() if k in ('token', 'password') and v in text]
    data = yaml.safe_load(text)
    assert data['ssm_registries_purge'] is False
    assert [r.get('name', r['provider']) for r in data['ssm_registries']] == sorted(every_provider())
    assert '# - hotio (provider hotio):' in text


def test_a_line_break_in_a_stored_name_stays_inside_its_comment_and_its_value():
    rows = {'two\nlines': row('two\nlines', 'custom', GOOD['custom']), 'hotio\nx': row('hotio\nx', 'hotio', auth_set=False)}
    entries, skipped, anonymous = classify(rows, VERSIONS['0.5'])
    text = render(entries, skipped, anonymous, 'http://ssm.example:8000', lambda entry, field: '"<%s>"' % field)
    assert [r['name'] for r in yaml.safe_load(text)['ssm_registries']] == ['two\nlines']
    assert all(line.startswith(('#', ' ', 'ssm_registries', '---')) for line in text.splitlines())
