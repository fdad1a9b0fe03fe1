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
    name: &entry_name
      description: Name of the registry.
      type: str
      returned: always
    provider: &entry_provider
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
    name: *entry_name
    provider: *entry_provider
    action:
      description: V(deleted) or V(reset).
      type: str
      returned: always
'''

from ansible_collections.squirrel.ssm.plugins.module_utils.registries import CHECK_KEYS, converge
from ansible_collections.squirrel.ssm.plugins.module_utils.providers import PROVIDERS, credentials_argument_spec

STATES = ['present', 'reset', 'absent']


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


def main():
    converge(argument_spec())


if __name__ == '__main__':
    main()
