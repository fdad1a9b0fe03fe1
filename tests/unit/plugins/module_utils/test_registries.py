"""The stored-versus-wanted comparison: which write, if any, each case needs, decided before any request."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.squirrel.ssm.plugins.module_utils.providers import MASK
from ansible_collections.squirrel.ssm.plugins.module_utils.registries import (
    CUSTOM_AUTH_SCHEME, PlanError, plan, plan_purge, resolve, row_view)
from ansible_collections.squirrel.ssm.plugins.module_utils.ssm_versions import VERSIONS, read_stored

GHCR = {'username': 'octocat', 'token': 'ghcr-secret-1'}


def row(name, provider=None, auth=None):
    stored = dict(name=name, provider=provider or name, authSet=auth is not None, canAuth=True, canAnonymous=False)
    if auth is not None:
        stored['auth'] = auth
    return stored


def rows(*stored):
    return dict((r['name'], r) for r in stored)


@pytest.mark.parametrize('item,stored,action,method', [
    (dict(provider='ghcr', credentials=GHCR), rows(row('ghcr')), 'updated', 'POST'),
    (dict(provider='ghcr', credentials=GHCR), rows(row('ghcr', auth=GHCR)), 'unchanged', None),
    (dict(provider='ghcr', credentials=GHCR), rows(row('ghcr', auth=dict(GHCR, token='old'))), 'updated', 'POST'),
    (dict(provider='ghcr', credentials=GHCR), rows(row('ghcr', auth=dict(GHCR, extra='x'))), 'updated', 'POST'),
    (dict(provider='ghcr'), rows(row('ghcr', auth=GHCR)), 'unchanged', None),
    (dict(provider='ghcr', state='reset'), rows(row('ghcr', auth=GHCR)), 'reset', 'PATCH'),
    (dict(provider='ghcr', state='reset'), rows(row('ghcr')), 'unchanged', None),
    (dict(provider='custom', name='r', credentials={'url': 'http://r'}), rows(), 'created', 'PUT'),
    (dict(provider='custom', name='r', credentials={'url': 'http://r'}),
     rows(row('r', 'custom', {'url': 'http://r'})), 'unchanged', None),
    (dict(provider='custom', name='r', state='absent'), rows(row('r', 'custom')), 'deleted', 'DELETE'),
    (dict(provider='custom', name='r', state='absent'), rows(), 'unchanged', None),
])
def test_plan(item, stored, action, method):
    change = plan(resolve(item), stored)
    assert (change.action, change.method) == (action, method)
    if method == 'PUT':
        assert change.body == {'auth': {'url': 'http://r'}, 'authScheme': CUSTOM_AUTH_SCHEME}


@pytest.mark.parametrize('item,stored,message', [
    (dict(provider='custom', name='ghcr', credentials={'url': 'http://r'}), rows(row('ghcr')), 'belongs to a ghcr'),
    (dict(provider='custom', name='hotio', state='reset'), rows(row('hotio')), 'SSM no longer knows'),
    (dict(provider='acr', credentials={'clientid': 'c', 'clientsecret': 'secret'}), rows(), 'SSM has no acr row'),
    (dict(provider='custom', name='nope', state='reset'), rows(), 'no registry nope'),
])
def test_plan_refuses(item, stored, message):
    with pytest.raises(PlanError, match=message):
        plan(resolve(item), stored)


def test_purge_spares_wanted_and_legacy_rows():
    stored = rows(row('ghcr', auth=GHCR), row('quay'), row('mine', 'custom', {'url': 'http://m'}),
                  row('forjejo', auth={'password': 'p'}), row('hub', auth={'auth': 'x'}))
    assert [(c.name, c.action) for c in plan_purge({'hub'}, stored)] == [('ghcr', 'reset'), ('mine', 'deleted')]


def test_diff_and_result_never_hold_a_secret():
    change = plan(resolve(dict(provider='ghcr', credentials=GHCR)), rows(row('ghcr', auth=dict(GHCR, token='old'))))
    assert change.before['credentials'] == {'username': 'octocat', 'token': MASK}
    assert change.after['credentials'] == {'username': 'octocat', 'token': MASK + ' (changed)'}
    view = row_view(change.row, change)
    assert view['credentials'] == {'username': 'octocat', 'token': MASK} and view['auth_set'] is True


UI_HARBOR = {'newName': 'Harbor Prod', 'url': 'https://harbor.example.com', 'login': 'robot', 'password': 'ui-secret-1'}
HARBOR = dict((k, v) for k, v in UI_HARBOR.items() if k != 'newName')


@pytest.mark.parametrize('provider,stored,wanted,v05,v01', [
    # SSM's web form sends its name field with a new custom registry's credentials: v0.5 reads past it, v0.1 refuses it.
    ('custom', UI_HARBOR, HARBOR, None, 'POST'),
    # A field typed in the form and emptied again is sent as "": the same.
    ('custom', dict(HARBOR, auth=''), HARBOR, None, 'POST'),
    ('hub', {'login': 'me', 'password': '', 'token': 'ui-secret-2'}, {'login': 'me', 'password': 'ui-secret-2'}, None, 'POST'),
    # hub's method 2 in the form stores token, which SSM reads as password (both versions): the collection's spelling.
    ('hub', {'login': 'me', 'token': 'ui-secret-2'}, {'login': 'me', 'password': 'ui-secret-2'}, None, None),
    # An anonymous custom registry whose auth was typed and emptied: v0.1's schema allows auth "" without a login.
    ('custom', {'url': 'http://r', 'auth': ''}, {'url': 'http://r'}, None, None),
    # What is not a form artefact still counts.
    ('custom', dict(HARBOR, extra='x'), HARBOR, 'POST', 'POST'),
    ('hub', {'login': 'me', 'token': 'old'}, {'login': 'me', 'password': 'ui-secret-2'}, 'POST', 'POST'),
])
def test_rows_written_by_the_web_ui_compare_as_ssm_reads_them(provider, stored, wanted, v05, v01):
    name = 'Harbor Prod' if provider == 'custom' else provider
    item = dict(provider=provider, credentials=wanted, name=name if provider == 'custom' else None)
    for version, method in ((VERSIONS['0.5'], v05), (VERSIONS['0.1'], v01)):
        change = plan(resolve(item), rows(row(name, provider, stored)), version)
        assert change.method == method, (version.api, change.action)
        if method:
            assert change.body == {'auth': wanted}


def test_read_stored_names_what_it_reads_past_and_what_v01_refuses():
    v05 = read_stored('custom', dict(UI_HARBOR, auth=''), VERSIONS['0.5'])
    assert (v05.fields, v05.ignored, v05.refused) == (HARBOR, ['auth', 'newName'], [])
    v01 = read_stored('custom', dict(UI_HARBOR, auth=''), VERSIONS['0.1'])
    assert (v01.fields, v01.ignored, v01.refused) == (HARBOR, [], ['auth', 'newName'])
    legacy = read_stored('hotio', {'newName': 'x', 'password': ''}, VERSIONS['0.5'])
    assert legacy.fields == {'newName': 'x', 'password': ''}
