# -*- coding: utf-8 -*-
# Copyright: (c) 2026, squirrel.ssm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A registry row from what the user wants to what SSM stores: resolve and check what is wanted, compare with what
SSM stores, plan the one write (if any) that closes the gap, verify the credentials; then write, confirm where SSM
answers its 500-after-write, and make SSM load what was written. converge() is ssm_registry's whole run."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.squirrel.ssm.plugins.module_utils.ssm_module import SSMModule  # first: the Python floor

import os

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.squirrel.ssm.plugins.module_utils.ssm_api import SSMError
from ansible_collections.squirrel.ssm.plugins.module_utils.registry_login import (
    REJECTED, UNREACHABLE, MissingLibrary, check_credentials, ecr_keys_from_aws, load_gcr_key_file)
from ansible_collections.squirrel.ssm.plugins.module_utils.providers import (
    PROVIDERS, InvalidCredentials, diff_view, mask, secret_values, userinfo_values, validate_credentials)
from ansible_collections.squirrel.ssm.plugins.module_utils.ssm_versions import (
    CLEARING_BODY, abandoned, cleared, facts, is_reload_row, is_write_defect, limits_of, uses_as_wanted)

# What SSM's web client sends as authScheme when it creates a custom registry; the same lets the UI show it.
CUSTOM_AUTH_SCHEME = [
    {'name': 'url', 'type': 'string'},
    {'name': 'Connection Type', 'type': 'choice', 'values': [
        [{'name': 'login', 'type': 'string'}, {'name': 'password', 'type': 'string'}],
        [{'name': 'auth', 'type': 'string'}],
    ]},
]

# What only the credential check needs; SSM never stores these.
CHECK_KEYS = ('registry_url', 'acr_login_server', 'acr_tenant_id', 'acr_authority_host', 'registry_ca_path')
# Where credentials can come from instead of literal fields: a GCR key file, AWS's own sources.
SOURCE_KEYS = ('gcr_key_file', 'ecr_keys_from')


class PlanError(Exception):
    pass


class Wanted:
    def __init__(self, where, provider, name, state, credentials, deprecations, check_inputs=None):
        self.where, self.provider, self.name, self.state = where, provider, name, state
        self.credentials, self.deprecations, self.check_inputs = credentials, deprecations, check_inputs or {}


class Change:
    """One registry's outcome: `action` and the request it needs (`method` None when nothing is written).
    A reset of a row that still holds values overwrites them first (`clear_first`): SSM's PATCH keeps them."""

    def __init__(self, name, provider, action, method=None, body=None, before=None, after=None, row=None,
                 wanted=None, version=None):
        self.wanted = wanted  # the Wanted it serves; None for what purge does
        self.version = version  # the VersionFacts it was planned for
        self.name = name
        self.provider = provider
        self.action = action
        self.method = method
        self.body = body
        self.before = before
        self.after = after
        self.row = row
        self.clear_first = method == 'PATCH' and not cleared((row or {}).get('auth'))

    @property
    def methods(self):
        """Every HTTP method the change sends, in order."""
        if self.method is None:
            return []
        return ['POST', 'PATCH'] if self.clear_first else [self.method]

    @property
    def changed(self):
        return self.method is not None


def resolve(item, index=None):
    """Validate one item against its provider's rules; no request is made here."""
    shown = item.get('name') or item.get('provider')
    where = 'registries[%d] (%s)' % (index, shown) if index is not None else 'registry %s' % shown
    provider = item.get('provider')
    if provider not in PROVIDERS:
        raise PlanError('%s: provider must be one of %s, got %s' % (where, ', '.join(sorted(PROVIDERS)), provider))
    state = item.get('state') or 'present'
    name = item.get('name')
    if name is not None and name != name.strip():
        raise PlanError('%s: name of a %s registry has leading or trailing spaces: SSM would store them as part '
                        'of the name' % (where, provider))
    if provider == 'custom' and not name:
        raise PlanError('%s: name is required for provider custom (a custom registry has a name of its own)' % where)
    name = name or provider
    if '/' in name:
        raise PlanError('%s: the name %s contains "/", which SSM cannot be reached with through its web proxy (the '
                        'proxy decodes %%2F and SSM answers 404): choose a name without "/"' % (where, name))
    if PROVIDERS[provider].builtin and name != provider:
        raise PlanError('%s: provider %s is built in: SSM has exactly one %s row, named %s, so name must be %s '
                        'or left out' % (where, provider, provider, provider, provider))
    if state == 'absent' and PROVIDERS[provider].builtin:
        raise PlanError('%s: SSM cannot delete the built-in registry %s; state: reset clears its credentials and '
                        'makes it anonymous again' % (where, name))
    if item.get('credentials') is not None and not isinstance(item['credentials'], dict):
        raise PlanError('%s: credentials must be a dict of the fields of provider %s' % (where, provider))
    credentials, deprecations = None, []
    given = _with_sources(item, provider, where) if state == 'present' else None
    if state == 'present' and (given is not None or not PROVIDERS[provider].builtin):
        try:
            credentials, deprecations = validate_credentials(provider, given, where)
        except InvalidCredentials as e:
            raise PlanError(str(e))
    check_inputs = dict((key, item[key]) for key in CHECK_KEYS if item.get(key))
    missing = missing_ca_bundle(check_inputs.get('registry_ca_path'), 'the certificate of the %s registry' % provider)
    if missing:
        raise PlanError('%s: %s' % (where, missing))
    return Wanted(where, provider, name, state, credentials, deprecations, check_inputs)


def missing_ca_bundle(path, signed):
    """What is wrong with registry_ca_path (the CA bundle that signed `signed`), None when nothing is."""
    if path and not (os.path.isfile(path) or os.path.isdir(path)):
        return 'registry_ca_path %s does not exist: give the CA bundle (PEM) that signed %s' % (path, signed)
    return None


def _with_sources(item, provider, where):
    """The credentials of an item, with the fields loaded from gcr_key_file or ecr_keys_from."""
    credentials = item.get('credentials')
    for key, for_provider, load in (('gcr_key_file', 'gcr', load_gcr_key_file),
                                    ('ecr_keys_from', 'ecr', _ecr_keys)):
        if not item.get(key):
            continue
        if provider != for_provider:
            raise PlanError('%s: %s is for provider %s, not %s' % (where, key, for_provider, provider))
        try:
            loaded = load(item[key])
        except MissingLibrary as e:
            raise PlanError('%s: %s: %s' % (where, key, missing_required_lib(e.library)))
        except ValueError as e:
            raise PlanError('%s: %s: %s' % (where, key, e))
        given = dict((name, value) for name, value in (credentials or {}).items() if value is not None)
        both = sorted(set(given) & set(loaded) - set(['region']))
        if both:
            raise PlanError('%s: give either %s or the field(s) %s, not both' % (where, key, ', '.join(both)))
        loaded.update(given)  # a region given in the task wins over the profile's
        credentials = loaded
    return credentials


def _ecr_keys(source):
    return ecr_keys_from_aws(None if source == 'environment' else source)


def plan(wanted, rows, version=None):
    """Compare one wanted registry with SSM's rows, as `version` (a VersionFacts; v0.5 by default) reads them;
    refuse what SSM would store wrongly."""
    version = version or facts(None)
    row = rows.get(wanted.name)
    if row is not None:
        stored_provider = row.get('provider')
        if stored_provider not in PROVIDERS:
            raise PlanError('%s: the SSM row %s has provider %s, which SSM no longer knows; the collection does not '
                            'write to it (delete or fix it in SSM)' % (wanted.where, wanted.name, stored_provider))
        if stored_provider != wanted.provider:
            raise PlanError('%s: the name %s belongs to a %s registry in SSM, not to a %s one; choose another name'
                            % (wanted.where, wanted.name, stored_provider, wanted.provider))
    stored = (row or {}).get('auth') or None
    auth_set = bool(row and row.get('authSet'))

    def change(action, method=None, body=None, after=None):
        return Change(wanted.name, wanted.provider, action, method, body,
                      before=_diff_side(wanted, row, stored, None) if row else {},
                      after=_diff_side(wanted, row or {}, after, stored) if wanted.state != 'absent' else {},
                      row=row, wanted=wanted, version=version)

    if wanted.state == 'absent':
        return change('deleted', 'DELETE') if row else change('unchanged')
    if row is None and wanted.provider != 'custom':
        raise PlanError('%s: SSM has no %s row (SSM creates it when it starts); is %s an SSM server of a version '
                        'that knows %s?' % (wanted.where, wanted.name, wanted.name, wanted.provider))
    if wanted.state == 'reset':
        if row is None:
            raise PlanError('%s: there is no registry %s in SSM to reset' % (wanted.where, wanted.name))
        return change('unchanged', after=stored) if is_reset(row) else change('reset', 'PATCH', after=None)
    if wanted.credentials is None:
        return change('unchanged', after=stored)
    if row is None:
        return change('created', 'PUT', dict(auth=wanted.credentials, authScheme=CUSTOM_AUTH_SCHEME),
                      after=wanted.credentials)
    if auth_set and uses_as_wanted(wanted.provider, stored, wanted.credentials, version):
        return change('unchanged', after=stored)
    return change('updated', 'POST', dict(auth=wanted.credentials), after=wanted.credentials)


def untouchable(rows):
    """The names of the rows purge leaves alone because no request can change them: rows of providers SSM no
    longer knows (its API deletes only custom rows), and names with "/" (SSM's web proxy routes them nowhere)."""
    return set(name for name, row in rows.items() if row.get('provider') not in PROVIDERS or '/' in str(name))


def plan_purge(wanted_names, rows):
    """With purge: custom rows not wanted are deleted, built-in rows not wanted with credentials are reset.
    Rows no request can change (untouchable) and the short-lived reload rows (plan_leftovers) are not purged."""
    changes = []
    skipped = untouchable(rows)
    for name, row in sorted(rows.items()):
        provider = row.get('provider')
        if name in wanted_names or name in skipped or is_reload_row(name):
            continue
        stored = row.get('auth') or None
        before = dict(name=name, provider=provider, credentials=mask(provider, stored))
        if provider == 'custom':
            changes.append(Change(name, provider, 'deleted', 'DELETE', before=before, after={}, row=row))
        elif not is_reset(row):
            changes.append(Change(name, provider, 'reset', 'PATCH', before=before,
                                  after=dict(name=name, provider=provider, credentials={}), row=row))
    return changes


def plan_leftovers(rows):
    """The deletes of the short-lived reload rows that interrupted runs left behind; a row a concurrent run may
    still be using is kept (ssm_versions.abandoned)."""
    return [Change(name, 'custom', 'deleted', 'DELETE', after={}, row=row,
                   before=dict(name=name, provider='custom', credentials=mask('custom', row.get('auth'))))
            for name, row in sorted(rows.items()) if is_reload_row(name) and abandoned(name)]


def is_reset(row):
    """A reset row: SSM does not use credentials for it, and none of its old values is stored."""
    return not row.get('authSet') and cleared(row.get('auth'))


def may_have_landed(error, change):
    """A write whose answer was lost, or that SSM failed on its side, may still have been stored; a create
    that SSM refuses because the name exists met a concurrent run. Both are settled by reading again."""
    if error.status in ('connection', 'timeout', 429, 500, 502, 503, 504):
        return True
    return change.method == 'PUT' and error.status == 400 and 'already exist' in str(error)


def replan(change, rows):
    """What is left to do for `change` after SSM was read again."""
    if change.wanted is not None:
        return plan(change.wanted, rows, change.version)
    row = rows.get(change.name)
    if row is None or (change.method == 'PATCH' and is_reset(row)):
        return Change(change.name, change.provider, change.action, before=change.before, after=change.after, row=row)
    return change


def write(client, change, attempts=3):
    """Apply one change so that SSM ends in the wanted state: after a failure that may have landed, read
    SSM again and do only what is still missing. Returns (the change that settled it, unconfirmed): SSM
    v0.5 answers 500 after it has stored a POST or PATCH, and such a write is confirmed by `confirm`,
    with one read for the whole run, instead of being retried blindly."""
    for attempt in range(attempts):
        try:
            return change, apply(client, change)
        except SSMError as error:
            if attempt == attempts - 1 or not may_have_landed(error, change):
                raise
        settled = replan(change, client.registries())
        if not settled.changed:
            settled.action = change.action  # it landed: report what was done
            return settled, False
        change = settled
    return change, False


def apply(client, change):
    """Send the change's requests; True when SSM gave its known 500-after-write to any of them."""
    unconfirmed = False
    cleared_now = False
    for method in change.methods:
        try:
            if method == 'PUT':
                client.create(change.name, change.body['auth'], change.body['authScheme'])
            elif method == 'POST' and change.clear_first:
                client.update(change.name, CLEARING_BODY['auth'])
            elif method == 'POST':
                client.update(change.name, change.body['auth'])
            elif method == 'PATCH':
                client.reset(change.name)
            elif method == 'DELETE':
                client.delete(change.name)
            cleared_now = cleared_now or (method == 'POST' and change.clear_first)
        except SSMError as error:
            if is_write_defect(error):
                unconfirmed = True
                cleared_now = cleared_now or (method == 'POST' and change.clear_first)
            elif not (method == 'POST' and change.clear_first and error.status == 400):
                # An SSM that validates auth refuses the clearing body; its PATCH then removes the values.
                if method == 'PATCH' and (cleared_now or (change.row or {}).get('authSet')
                                          and cleared((change.row or {}).get('auth'))):
                    error.half_reset = True  # SSM holds the row in use with no values: see the module
                raise
    return unconfirmed


def confirm(client, changes):
    """Read SSM once and check that every write it answered with its 500-after-write defect is stored."""
    rows = client.registries()
    missing = [change for change in changes if replan(change, rows).changed]
    if missing:
        raise SSMError('SSM answered HTTP 500 to %s, and reading the registries back shows %s not done'
                       % (', '.join('%s %s' % (DOING[c.action], c.name) for c in missing),
                          'it' if len(missing) == 1 else 'them'))
    return rows


DOING = dict(created='creating', updated='updating', reset='resetting', deleted='deleting')


def _diff_side(wanted, row, credentials, compared_to):
    side = dict(name=wanted.name, provider=wanted.provider)
    if compared_to is None:
        side['credentials'] = mask(wanted.provider, credentials)
    else:
        side['credentials'] = diff_view(wanted.provider, credentials or {}, compared_to)
    return side


def row_view(row, change=None):
    """A row as modules return it: never a secret value. After a change, the row as SSM now stores it."""
    provider = row.get('provider') if row else change.provider
    auth = (row or {}).get('auth') or None
    auth_set = bool(row and row.get('authSet'))
    view = dict(name=(row or {}).get('name') or change.name, provider=provider,
                full_name=(row or {}).get('fullName'),
                can_auth=(row or {}).get('canAuth', True), can_anonymous=(row or {}).get('canAnonymous', False))
    if change is not None and change.method in ('PUT', 'POST'):
        auth, auth_set = change.body['auth'], True
    elif change is not None and change.method == 'PATCH':
        auth, auth_set = None, False
    view['auth_set'] = auth_set
    view['credentials'] = mask(provider, auth)
    # An old reset (SSM's PATCH) left the values stored: SSM does not use them, but they are still there.
    view['leftover_credentials'] = not auth_set and not cleared(auth)
    return view


def verify_fields(result):
    """A credential check's CheckResult as modules return it, beside the row or item it checked."""
    return dict(verified=result.verified, verify_status=result.status, verify_msg=result.message)


# The options of the one-registry form; the registries list holds the same per item.
SINGLE = ('provider', 'name', 'state', 'credentials') + CHECK_KEYS + SOURCE_KEYS


def converge(argument_spec):
    """Run ssm_registry with this argument spec, and exit with its result."""
    ssm = SSMModule(argument_spec, explain=explain,
                    mutually_exclusive=[['registries', key] for key in SINGLE],
                    required_one_of=[['provider', 'registries']])
    params = ssm.params
    wanted = checked_items(ssm)
    rows = ssm.rows()
    version = facts(ssm.client.version)
    try:
        changes = [plan(one, rows, version) for one in wanted]
    except PlanError as e:
        ssm.fail(str(e))
    names = set(one.name for one in wanted)
    purged = plan_purge(names, rows) if params['purge'] else []
    if params['purge']:
        warn_untouchable(ssm, rows)
    # Reload rows left by interrupted runs go, whatever the task: SSM registered each as a custom registry.
    leftovers = plan_leftovers(dict((name, row) for name, row in rows.items() if name not in names))
    purged += leftovers
    verdicts = verify_all(ssm, wanted, params['allow_unverified']) if params['verify_credentials'] else {}

    for warning in limits_of(version, wanted):
        ssm.module.warn(warning)
    writes = [c for c in changes + purged if c.changed]
    reload_needed = params['reload_registries'] and version.needs_reload(
        method for c in writes for method in c.methods)
    if not ssm.check_mode:
        apply_all(ssm, writes, reload_needed, rows)
    if leftovers:
        ssm.module.warn('%s %d short-lived registry row(s) that interrupted runs left behind (%s): SSM registered each '
                        'as a custom registry that does not exist' % ('would remove' if ssm.check_mode else 'removed',
                                                                      len(leftovers), ', '.join(c.name for c in leftovers)))

    # Headers name the SSM: a fleet run shows the diffs of many servers one after the other.
    diff = [dict(before=c.before, after=c.after, before_header='%s (SSM at %s)' % (c.name, ssm.url),
                 after_header='%s (SSM at %s)' % (c.name, ssm.url)) for c in changes + purged if c.changed or c.before != c.after]
    changed = any(c.changed for c in changes + purged)
    if params['registries'] is None:
        change = changes[0]
        exists = change.method == 'PUT' or (change.row is not None and change.action != 'deleted')
        registry = row_view(change.row, change) if exists else None
        ssm.exit(changed=changed, diff=diff[0] if diff else dict(before=change.before, after=change.after),
                 action=change.action, registry=registry, reloaded=reload_needed, **verdicts.get(change.name, {}))
    ssm.exit(changed=changed, diff=diff, reloaded=reload_needed,
             results=[dict(name=c.name, provider=c.provider, action=c.action, changed=c.changed,
                           **verdicts.get(c.name, {})) for c in changes],
             purged=[dict(name=c.name, provider=c.provider, action=c.action) for c in purged])


def items_of(params):
    if params.get('registries') is not None:
        return list(enumerate(params['registries']))
    return [(None, dict((key, params.get(key)) for key in SINGLE))]


def resolve_all(params):
    """Every item checked before the first request; raises PlanError naming the first bad item."""
    wanted, names = [], {}
    for index, item in items_of(params):
        if not isinstance(item, dict):
            raise PlanError('registries[%s]: each item must be a dict with provider, name, state, credentials' % index)
        one = resolve(item, index)
        if one.name in names:
            raise PlanError('%s: the registry %s is already given as registries[%d]' % (one.where, one.name, names[one.name]))
        names[one.name] = index
        wanted.append(one)
    return wanted


def explain(params):
    """Re-explain Ansible's own argument failures with the provider rules, which name item and provider."""
    try:
        resolve_all(params)
    except PlanError as e:
        return str(e)
    except Exception:  # pylint: disable=broad-except
        return None
    return None


def checked_items(ssm):
    """The wanted registries, once every input that can be judged without a request is; fails the task otherwise."""
    params = ssm.params
    for dummy, item in items_of(params):
        ssm.module.no_log_values.update(userinfo_values((item or {}).get('credentials') if isinstance(item, dict) else None))
    if params['purge'] and params['registries'] is None:
        ssm.fail('purge goes with registries: it makes SSM match a whole list')
    try:
        wanted = resolve_all(params)
    except PlanError as e:
        ssm.fail(str(e))
    if params['purge'] and not params['purge_all'] and not [one for one in wanted if one.state == 'present']:
        ssm.fail('registries keeps no registry (%s) and purge is true: that would delete every custom registry of SSM '
                 'and reset every built-in one. Nothing was sent to SSM; set purge_all: true if that is meant'
                 % ('it is empty' if not wanted else 'only reset or absent items'))
    for one in wanted:
        # Credentials loaded from files or AWS never passed through the argument spec's no_log.
        ssm.module.no_log_values.update(secret_values(one.provider, one.credentials))
        for deprecation in one.deprecations:
            ssm.module.deprecate('%s: %s' % (one.where, deprecation['msg']), version=deprecation['version'],
                                 collection_name=deprecation['collection_name'])

    if params['verify_credentials'] and not params['allow_unverified']:
        for one in wanted:
            if unverifiable(one):
                ssm.fail('%s: %s; set allow_unverified: true to store credentials that cannot be checked. Nothing '
                         'was written to SSM' % (one.where, unverifiable(one)))
    return wanted


def warn_untouchable(ssm, rows):
    """Name the rows purge cannot remove, and how to remove them."""
    left = untouchable(rows)
    legacy = sorted(name for name in left if rows[name].get('provider') not in PROVIDERS)
    slashed = sorted(name for name in left if name not in legacy)
    remove = ('delete them from SSM\'s MongoDB database, e.g. with mongosh on the ssm database: '
              'db.containerregistries.deleteOne({name: "%s"})')
    if legacy:
        ssm.module.warn(('purge left %d row(s) of providers SSM no longer knows, which it cannot touch: %s. SSM does not '
                         'use them for update checks, and its API refuses to delete a registry that is not custom; to '
                         'remove them, ' + remove) % (len(legacy), ', '.join('%s (provider %s)' % (
                             name, rows[name].get('provider')) for name in legacy), legacy[0]))
    if slashed:
        ssm.module.warn(('purge left %d row(s) whose name holds "/", which no request can reach (SSM\'s web proxy '
                         'decodes %%2F and SSM answers 404): %s. To remove them, ' + remove)
                        % (len(slashed), ', '.join(slashed), slashed[0]))


def apply_all(ssm, writes, reload_needed, rows):
    """Write every change, confirm with one read what SSM answered with its 500-after-write, then make SSM
    load its registries again (also after a failure part-way: what landed is then in use)."""
    done, unconfirmed, failures, half_reset = [], [], [], False
    for change in writes:
        try:
            settled, doubtful = write(ssm.client, change)
        except (SSMError, PlanError) as e:
            failures.append(_half_done(change, e, done, writes))
            half_reset = getattr(e, 'half_reset', False)
            break
        done.append(change)
        if doubtful:
            unconfirmed.append(settled)
    if unconfirmed:
        try:
            confirm(ssm.client, unconfirmed)
            ssm.module.warn('SSM answered HTTP 500 ("Cannot populate path `device`") after storing %d write(s); '
                            'reading the registries back confirmed them. This is a defect of %s, not of your '
                            'input' % (len(unconfirmed), facts(ssm.client.version).label))
        except SSMError as e:
            failures.append(str(e))
    if reload_needed and done and not half_reset:
        try:
            ssm.client.reload_registries(_as_written(rows, done))
        except SSMError as e:
            failures.append('the registries are written; %s' % e)
    if failures:
        ssm.fail('. '.join(failures), changed=bool(done))


def _as_written(rows, done):
    """SSM's rows after the writes of this run, as far as reloading needs them (whether credentials are set)."""
    rows = dict(rows)
    for change in done:
        if change.method == 'DELETE':
            rows.pop(change.name, None)
        else:
            rows[change.name] = dict(rows.get(change.name) or {}, name=change.name,
                                     authSet=change.method != 'PATCH', auth=(change.body or {}).get('auth'))
    return rows


# Checks that fail the task whatever allow_unverified says, and how their message begins.
FAILED_CHECKS = {
    REJECTED: 'credentials rejected',
    UNREACHABLE: 'registry unreachable, the credentials could not be checked',
}


def unverifiable(one):
    """Why the credentials of `one` cannot be checked, when that is known before any request."""
    if one.credentials is not None and one.provider == 'acr' and not (
            one.check_inputs.get('acr_login_server') or one.check_inputs.get('registry_url')):
        return 'acr_login_server (the <name>.azurecr.io login server, which SSM does not store) is needed to check ' \
               'acr credentials'
    return None


def verify_all(ssm, wanted, allow_unverified=False):
    """Log in to each registry with the credentials about to be stored; any rejection, and unless
    allow_unverified any credentials that could not be checked, fails the task before the first write.
    Check mode verifies too."""
    verdicts = {}
    for one in wanted:
        if one.credentials is None:
            continue
        try:
            result = check_credentials(one.provider, one.credentials, timeout=ssm.params['timeout'],
                                       **one.check_inputs)
        except MissingLibrary as e:
            ssm.module.fail_json(msg='%s: %s' % (one.where, missing_required_lib(e.library)), exception=e.traceback)
        verdict = verify_fields(result)
        if result.status in FAILED_CHECKS:
            ssm.fail('%s: %s: %s. Nothing was written to SSM' % (
                one.where, FAILED_CHECKS[result.status], result.message), **verdict)
        if result.verified is None and not allow_unverified:
            ssm.fail('%s: the credentials could not be checked (%s): %s; set allow_unverified: true to store them '
                     'unchecked. Nothing was written to SSM' % (one.where, result.status, result.message), **verdict)
        verdicts[one.name] = verdict
    return verdicts


def _half_done(failed, error, done, changes):
    """Say exactly what SSM holds when a write fails part-way through a list."""
    message = '%s %s: %s' % (DOING[failed.action], failed.name, error)
    if getattr(error, 'half_reset', False):
        # Reloading would make SSM check the registry with empty credentials: it keeps those it loaded before.
        message += ('. SSM now stores %s with its old values removed but still marked in use (auth_set true, no '
                    'values)%s: once SSM loads its registries it checks %s with empty credentials. This run did not '
                    'make SSM load them, so it goes on with the credentials it loaded before; running again completes '
                    'the reset' % (failed.name, ', unless the failed PATCH landed' if may_have_landed(error, failed)
                                   else '', failed.name))
    elif isinstance(error, SSMError) and may_have_landed(error, failed):
        message += ' (SSM did not confirm it: %s may or may not be %s; running again converges)' % (
            failed.name, failed.action)
    if done:
        message += '. Already written: %s' % ', '.join('%s (%s)' % (c.name, c.action) for c in done)
    pending = [c.name for c in changes if c.changed and c is not failed and c not in done]
    if pending:
        message += '. Not written: %s' % ', '.join(pending)
    return message
