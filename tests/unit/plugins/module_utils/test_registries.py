"""The stored-versus-wanted comparison: which write, if any, each case needs, decided before any request."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.squirrel.ssm.plugins.module_utils.providers import MASK
from ansible_collections.squirrel.ssm.plugins.module_utils.registries import (
    CUSTOM_AUTH_SCHEME, PlanError, plan, plan_purge, resolve, row_view)

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
