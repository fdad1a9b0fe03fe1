#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, squirrel.ssm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: ssm_registry
short_description: Configure the container registries of Squirrel Servers Manager
version_added: 1.0.0
description:
  - Sets, resets or deletes the credentials SSM uses to reach a container registry (Settings > Registries),
    for every provider SSM knows - C(acr), C(custom), C(ecr), C(forgejo), C(gcr), C(ghcr), C(gitea), C(gitlab),
    C(hub), C(lscr) and C(quay).
  - SSM stores whatever it is sent; this module checks the fields of each provider first, and writes nothing
    when any of them is wrong.
  - Writes only when what SSM stores differs from what is wanted. Secrets are never shown, not even in a diff.
  - Manage one registry with O(provider), O(name), O(state) and O(credentials), or a whole set with
    O(registries) and O(purge).
author:
  - squirrel.ssm contributors (@squirrel-ssm)
extends_documentation_fragment:
  - squirrel.ssm.connection
  - squirrel.ssm.credentials
attributes:
  check_mode:
    support: full
    description: Nothing is written; C(changed) and the diff say what would be.
  diff_mode:
    support: full
    description: Before and after of each registry; a secret field shows that it changes, never its value.
  idempotent:
    support: full
    description: A second run with the same input writes nothing and reports no change.
options:
  provider:
    description:
      - The provider of the registry. Required unless O(registries) is used.
    type: str
    choices: [acr, custom, ecr, forgejo, gcr, ghcr, gitea, gitlab, hub, lscr, quay]
  name:
    description:
      - The name of the registry in SSM.
      - Defaults to O(provider) for the ten built-in providers, which have one row each named after
        the provider. Required for C(custom).
    type: str
  state:
    description:
      - V(present) stores O(credentials) (a missing custom registry is created). A built-in registry given
        no O(credentials) is left as it is.
      - V(reset) removes the credentials, making the registry anonymous again. SSM's own reset (its Reset
        button, C(PATCH)) leaves the old values stored; this module first overwrites them, so that no secret of
        the registry remains in SSM's database. A row reset by SSM alone, whose values are still stored, is
        reset again.
      - V(absent) deletes a custom registry. SSM cannot delete built-in registries; use V(reset) for them.
      - Defaults to V(present).
    type: str
    choices: [present, reset, absent]
  verify_credentials:
    description:
      - Before anything is written, log in to each registry with the credentials about to be stored, with the
        registry's own protocol (the C(docker login) flow; boto3 for C(ecr); Basic or azure-identity for C(acr)).
      - Rejected credentials, and a registry that cannot be reached, fail the task and nothing is written; the
        message begins with C(credentials rejected) or C(registry unreachable), and RV(verify_status) says which.
        An anonymous token is never taken as proof.
      - Check mode verifies too. C(ecr) needs C(boto3); C(acr) with O(acr_tenant_id) needs C(azure-identity).
      - Credentials that cannot be checked also fail the task before anything is written, naming what is missing
        (C(acr) without O(acr_login_server); a registry that is open to anonymous access), unless
        O(allow_unverified) is true.
    type: bool
    default: false
  allow_unverified:
    description:
      - With O(verify_credentials), store credentials that cannot be checked instead of failing; their
        RV(verified) is V(null) and RV(verify_msg) says why. Credentials the registry rejects, and a registry that
        cannot be reached, always fail.
    type: bool
    default: false
  registry_url:
    description:
      - Address of the registry for the credential check only, when it is not the provider's usual host
        (for example C(https://eu.gcr.io), an Artifact Registry host, or a mirror). Never sent to SSM.
    type: str
  acr_login_server:
    description:
      - The ACR login server (C(<name>.azurecr.io)) the credential check logs in to. SSM does not store it.
    type: str
  acr_authority_host:
    description:
      - With O(acr_tenant_id), the Microsoft Entra ID authority the credential check gets its token from, for
        a sovereign cloud (for example C(https://login.chinacloudapi.cn)); C(https://login.microsoftonline.com)
        when not set. Never sent to SSM.
    type: str
  registry_ca_path:
    description:
      - A CA bundle (PEM) the credential check trusts for the registry's TLS certificate, for a registry behind
        a private CA. Never sent to SSM.
      - Without it the check trusts the default store (certifi, or E(REQUESTS_CA_BUNDLE) when set). O(ca_path)
        is for SSM only, because a CA bundle replaces the default store, so SSM's private CA would make public registries
        untrusted. Registry certificates are always checked; O(validate_certs) concerns SSM only.
      - A missing file fails the task before any request.
    type: path
  gcr_key_file:
    description:
      - For C(gcr), a service-account JSON key file to take C(clientemail) and C(privatekey) from, instead of
        giving them in O(credentials). The key is loaded and checked with google-auth, which must be installed.
    type: path
  ecr_keys_from:
    description:
      - For C(ecr), take C(accesskeyid) and C(secretaccesskey) (and C(region) unless given) from AWS's own
        sources through boto3, instead of giving them in O(credentials). V(environment) reads the variables and
        default profile; any other value is the name of an AWS profile.
      - Temporary credentials (with a session token) are refused, since SSM can only store long-term keys.
    type: str
  acr_tenant_id:
    description:
      - With O(verify_credentials), check an C(acr) service principal through Microsoft Entra ID
        (azure-identity) in this tenant, instead of Basic authentication. Never sent to SSM.
    type: str
  reload_registries:
    description:
      - SSM loads its registries (what its update checks use) only at start and after a registry is created or
        deleted, not after credentials are set or reset. After a run that set or reset credentials, make SSM
        load them by creating and deleting a short-lived custom registry named C(squirrel-ssm-reload-<until>-<host>-<pid>-<random>).
        It is deleted even when something fails in between; a DELETE that fails is retried.
      - Whatever this option, every run removes the rows of that name that interrupted runs left behind (their time
        is over, or their process on this host is gone), reports it as a change and warns; a row a concurrent run
        may still use is kept.
      - V(false) leaves SSM using the registries it loaded before, until its next restart or the next time
        a registry is created or deleted.
    type: bool
    default: true
  purge:
    description:
      - With O(registries), make SSM match the list exactly. Custom registries that are not in the list are
        deleted, built-in registries that are not in the list and have credentials are reset.
      - Rows of providers SSM no longer knows (such as C(hotio)) are never touched, since SSM's API cannot delete them,
        nor rows whose name holds C(/), which no request reaches through SSM's web proxy. The module warns, naming
        them, and says how to remove them.
      - The short-lived C(squirrel-ssm-reload-*) rows are not purged; every run removes those that interrupted runs
        left behind (see O(reload_registries)).
    type: bool
    default: false
  purge_all:
    description:
      - With O(purge), confirm a list that keeps no registry (empty, or only V(reset) and V(absent) items), so that
        every custom registry is deleted and every built-in one reset. Without it such a task fails before any
        request, since an empty list is more often a variable that came out empty than a wish.
    type: bool
    default: false
notes:
  - SSM v0.5 (v0.5.2 and its main branch) answers HTTP 500 after it has stored credentials or reset a registry.
    The module reads the registries back once to confirm such writes, and warns once per run.
  - SSM v0.1 registers only the last custom registry and cannot register C(ghcr); the module warns when the
    declared set runs into these limits. See the collection's C(docs/compatibility.md).
  - SSM v0.5 does not use Docker Hub credentials in its update checks (it always registers an anonymous
    Docker Hub); they are stored all the same.
seealso:
  - module: squirrel.ssm.ssm_registry_info
  - name: SSM registries guide
    description: The feature this module automates.
    link: https://squirrelserversmanager.io/docs/user-guides/settings/registry
'''

EXAMPLES = r'''
- name: GitHub Container Registry
  squirrel.ssm.ssm_registry:
    ssm_url: http://ssm.example:8000
    ssm_api_key: "{{ vault_ssm_api_key }}"
    provider: ghcr
    credentials:
      username: octocat
      token: "{{ vault_ghcr_token }}"

- name: A self-hosted registry with basic auth
  squirrel.ssm.ssm_registry:
    provider: custom
    name: harbor
    credentials:
      url: https://harbor.example.com
      login: robot
      password: "{{ vault_harbor_password }}"

- name: A self-hosted registry with base64 auth (login:password, as in ~/.docker/config.json)
  squirrel.ssm.ssm_registry:
    provider: custom
    name: internal
    credentials:
      url: http://registry.internal:5000
      auth: "{{ ('robot:' ~ vault_internal_password) | b64encode }}"

- name: Amazon ECR
  squirrel.ssm.ssm_registry:
    provider: ecr
    credentials:
      accesskeyid: "{{ vault_aws_access_key_id }}"
      secretaccesskey: "{{ vault_aws_secret_access_key }}"
      region: eu-west-1

- name: Azure Container Registry
  squirrel.ssm.ssm_registry:
    provider: acr
    credentials:
      clientid: "{{ vault_acr_client_id }}"
      clientsecret: "{{ vault_acr_client_secret }}"

- name: Google Container Registry, from a service-account key file
  squirrel.ssm.ssm_registry:
    provider: gcr
    credentials:
      clientemail: "{{ (lookup('ansible.builtin.file', 'sa.json') | from_json).client_email }}"
      privatekey: "{{ (lookup('ansible.builtin.file', 'sa.json') | from_json).private_key }}"

- name: Gitea
  squirrel.ssm.ssm_registry:
    provider: gitea
    credentials:
      url: https://gitea.example.com
      login: deploy
      password: "{{ vault_gitea_password }}"

- name: Forgejo
  squirrel.ssm.ssm_registry:
    provider: forgejo
    credentials:
      url: https://forgejo.example.com
      login: deploy
      password: "{{ vault_forgejo_password }}"

- name: GitLab.com (url and authurl default to gitlab.com's)
  squirrel.ssm.ssm_registry:
    provider: gitlab
    credentials:
      token: "{{ vault_gitlab_token }}"

- name: Docker Hub with an access token
  squirrel.ssm.ssm_registry:
    provider: hub
    credentials:
      login: johndoe
      password: "{{ vault_docker_hub_token }}"

- name: LinuxServer Container Registry
  squirrel.ssm.ssm_registry:
    provider: lscr
    credentials:
      username: octocat
      token: "{{ vault_ghcr_token }}"

- name: Quay robot account myorg+ssm
  squirrel.ssm.ssm_registry:
    provider: quay
    credentials:
      namespace: myorg
      account: ssm
      token: "{{ vault_quay_token }}"

- name: Docker Hub back to anonymous access
  squirrel.ssm.ssm_registry:
    provider: hub
    state: reset

- name: Delete a custom registry
  squirrel.ssm.ssm_registry:
    provider: custom
    name: harbor
    state: absent

- name: The whole set in one task; everything else is reset or deleted
  squirrel.ssm.ssm_registry:
    purge: true
    registries:
      - provider: ghcr
        credentials: {username: octocat, token: "{{ vault_ghcr_token }}"}
      - provider: custom
        name: harbor
        credentials: {url: https://harbor.example.com, login: robot, password: "{{ vault_harbor_password }}"}
'''

RETURN = r'''
verified:
  description: With O(verify_credentials), whether the registry accepted the credentials (null, with
    O(allow_unverified), when they could not be checked, such as on an open registry).
  returned: when O(provider) and O(verify_credentials) are used
  type: bool
verify_status:
  description:
    - With O(verify_credentials), the outcome of the credential check, in one word.
    - V(accepted) the registry accepted the credentials; V(rejected) it refused them (or they lack a field any
      login needs); V(unreachable) the registry or its token server could not be reached at that address;
      V(anonymous_only) the registry answers without credentials, so they could not be checked;
      V(not_verifiable) the check cannot judge them (such as C(acr) without O(acr_login_server)).
    - V(rejected) and V(unreachable) always fail the task, and the failed result carries this value too; the
      other two fail it unless O(allow_unverified) is true.
  returned: when O(provider) and O(verify_credentials) are used
  type: str
  choices: [accepted, rejected, unreachable, anonymous_only, not_verifiable]
  sample: accepted
verify_msg:
  description: What the registry answered to the credential check. Never a secret.
  returned: when O(provider) and O(verify_credentials) are used
  type: str
action:
  description: What was done (or, in check mode, would be done) to the registry.
  returned: when O(provider) is used
  type: str
  choices: [created, updated, reset, deleted, unchanged]
  sample: updated
registry:
  description: The registry as SSM stores it after the task, null when it does not exist (O(state=absent)).
    Every secret value is masked.
  returned: when O(provider) is used
  type: dict
  contains:
    name:
      description: Name of the registry in SSM.
      type: str
      returned: always
      sample: ghcr
    provider:
      description: Its provider.
      type: str
      returned: always
      sample: ghcr
    full_name:
      description: SSM's display name of the provider, when SSM has one.
      type: str
      returned: always
      sample: GitHub Container Registry
    auth_set:
      description: Whether credentials are stored.
      type: bool
      returned: always
      sample: true
    leftover_credentials:
      description: True when SSM does not use credentials for this registry (C(auth_set) false) but still
        stores values of them, as SSM's own reset leaves them. Reset it with this collection to remove them.
      type: bool
      returned: always
    can_auth:
      description: Whether the registry accepts credentials.
      type: bool
      returned: always
    can_anonymous:
      description: Whether the registry can be used anonymously.
      type: bool
      returned: always
    credentials:
      description: The stored fields. Only the values of fields the provider's rules list as not secret are
        shown; every other value (secrets, fields another client stored, every field of a provider SSM no
        longer knows) is replaced by C(********).
      type: dict
      returned: always
      sample: {username: octocat, token: '********'}
results:
  description: One entry per item of O(registries), in order.
  returned: when O(registries) is used
  type: list
  elements: dict
  contains:
    name:
      description: Name of the registry.
      type: str
      returned: always
    provider:
      description: Its provider.
      type: str
      returned: always
    action:
      description: What was done (created, updated, reset, deleted, unchanged).
      type: str
      returned: always
    changed:
      description: Whether this item was (or would be) written.
      type: bool
      returned: always
    verified:
      description: With O(verify_credentials), whether the registry accepted the credentials.
      type: bool
      returned: when O(verify_credentials) is used
    verify_status:
      description: With O(verify_credentials), the outcome of the check, as RV(verify_status).
      type: str
      returned: when O(verify_credentials) is used
    verify_msg:
      description: With O(verify_credentials), what the registry answered.
      type: str
      returned: when O(verify_credentials) is used
reloaded:
  description: Whether SSM was made to load its registries again after this run's writes (or, in check mode,
    would be). See O(reload_registries).
  returned: always
  type: bool
purged:
  description: Registries not in O(registries) that O(purge) deleted (custom) or reset (built-in).
  returned: when O(registries) is used
  type: list
  elements: dict
  contains:
    name:
      description: Name of the registry.
      type: str
      returned: always
    provider:
      description: Its provider.
      type: str
      returned: always
    action:
      description: V(deleted) or V(reset).
      type: str
      returned: always
'''

from ansible_collections.squirrel.ssm.plugins.module_utils.ssm_module import SSMModule
from ansible_collections.squirrel.ssm.plugins.module_utils.providers import (
    PROVIDERS, credentials_argument_spec, secret_values, userinfo_values)
from ansible_collections.squirrel.ssm.plugins.module_utils.registries import (
    CHECK_KEYS, DOING, SOURCE_KEYS, PlanError, confirm, may_have_landed, plan, plan_leftovers, plan_purge, resolve,
    row_view, untouchable, write)
from ansible_collections.squirrel.ssm.plugins.module_utils.ssm_versions import facts, limits_of
from ansible_collections.squirrel.ssm.plugins.module_utils.ssm_api import SSMError
from ansible_collections.squirrel.ssm.plugins.module_utils.registry_login import (
    REJECTED, UNREACHABLE, MissingLibrary, check_credentials)
from ansible.module_utils.basic import missing_required_lib

STATES = ['present', 'reset', 'absent']
SINGLE = ('provider', 'name', 'state', 'credentials') + CHECK_KEYS + SOURCE_KEYS


def argument_spec():
    credentials = dict(type='dict', options=credentials_argument_spec())
    check_inputs = dict((key, dict(type='str')) for key in CHECK_KEYS)
    # ecr_keys_from names where keys come from (a profile or "environment"); it holds no secret itself.
    check_inputs.update(gcr_key_file=dict(type='path'), ecr_keys_from=dict(type='str', no_log=False),
                        registry_ca_path=dict(type='path'))
    item = dict(provider=dict(type='str', required=True, choices=sorted(PROVIDERS)), name=dict(type='str'),
                state=dict(type='str', default='present', choices=STATES), credentials=credentials, **check_inputs)
    return dict(provider=dict(type='str', choices=sorted(PROVIDERS)), name=dict(type='str'),
                state=dict(type='str', choices=STATES), credentials=credentials,
                registries=dict(type='list', elements='dict', options=item), purge=dict(type='bool', default=False),
                purge_all=dict(type='bool', default=False),
                verify_credentials=dict(type='bool', default=False), allow_unverified=dict(type='bool', default=False),
                reload_registries=dict(type='bool', default=True), **check_inputs)


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


def main():
    ssm = SSMModule(argument_spec(), explain=explain,
                    mutually_exclusive=[['registries', key] for key in SINGLE],
                    required_one_of=[['provider', 'registries']])
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

    rows = ssm.rows()
    try:
        changes = [plan(one, rows, facts(ssm.client.version)) for one in wanted]
    except PlanError as e:
        ssm.fail(str(e))
    purged = plan_purge(set(one.name for one in wanted), rows) if params['purge'] else []
    left = untouchable(rows) if params['purge'] else {}
    legacy = sorted(name for name in left if rows[name].get('provider') not in PROVIDERS)
    if legacy:
        ssm.module.warn('purge left %d row(s) of providers SSM no longer knows, which it cannot touch: %s. SSM does '
                        'not use them for update checks, and its API refuses to delete a registry that is not '
                        'custom; to remove them, delete them from SSM\'s MongoDB database, e.g. with mongosh on the '
                        'ssm database: db.containerregistries.deleteOne({name: "%s"})' % (
                            len(legacy), ', '.join('%s (provider %s)' % (name, rows[name].get('provider'))
                                                   for name in legacy), legacy[0]))
    slashed = sorted(name for name in left if name not in legacy)
    if slashed:
        ssm.module.warn('purge left %d row(s) whose name holds "/", which no request can reach (SSM\'s web proxy '
                        'decodes %%2F and SSM answers 404): %s. To remove them, delete them from SSM\'s MongoDB '
                        'database, e.g. with mongosh on the ssm database: db.containerregistries.deleteOne({name: '
                        '"%s"})' % (len(slashed), ', '.join(slashed), slashed[0]))
    # Reload rows left by interrupted runs go, whatever the task: SSM registered each as a custom registry.
    names = set(one.name for one in wanted)
    leftovers = plan_leftovers(dict((name, row) for name, row in rows.items() if name not in names))
    purged += leftovers
    verdicts = verify_all(ssm, wanted, params['allow_unverified']) if params['verify_credentials'] else {}

    version = facts(ssm.client.version)
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


def apply_all(ssm, writes, reload_needed, rows):
    """Write every change, confirm with one read what SSM answered with its 500-after-write, then make SSM
    load its registries again (also after a failure part-way: what landed is then in use)."""
    done, unconfirmed, failure, half_reset = [], [], None, False
    for change in writes:
        try:
            settled, doubtful = write(ssm.client, change)
        except (SSMError, PlanError) as e:
            failure = _half_done(change, e, done, writes)
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
            failure = '%s%s' % (failure + '. ' if failure else '', e)
    if reload_needed and done and not half_reset:
        try:
            ssm.client.reload_registries(_as_written(rows, done))
        except SSMError as e:
            failure = '%s%s' % (failure + '. ' if failure else '', 'the registries are written; %s' % e)
    if failure:
        ssm.fail(failure, changed=bool(done))


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
        verdict = dict(verified=result.verified, verify_status=result.status, verify_msg=result.message)
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


if __name__ == '__main__':
    main()
