#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, squirrel.ssm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: ssm_registry_info
short_description: List the container registries of Squirrel Servers Manager
version_added: 1.0.0
description:
  - Lists the registries SSM stores (Settings > Registries), with every secret value masked.
  - Rows of providers SSM no longer knows (such as C(hotio) or the misspelt C(forjejo)) are listed too.
author:
  - squirrel.ssm contributors (@squirrel-ssm)
extends_documentation_fragment:
  - squirrel.ssm.connection
attributes:
  check_mode:
    support: full
    description: It only reads, so it runs in check mode as it does otherwise.
  diff_mode:
    support: none
    description: It changes nothing, so there is no diff to show.
  idempotent:
    support: full
    description: It changes nothing.
options:
  name:
    description:
      - Only the registry of this name.
    type: str
  provider:
    description:
      - Only registries of this provider (any provider name, legacy ones included).
    type: str
  verify_credentials:
    description:
      - Log in to each listed registry with the credentials SSM stores for it, as
        O(squirrel.ssm.ssm_registry#module:verify_credentials) does, and add RV(registries[].verify_status),
        RV(registries[].verified) and RV(registries[].verify_msg) to each row. This is the test of the connection
        that SSM lacks, for every registry at once. Nothing is written.
      - RV(registries[].verify_status) tells a registry that refused the credentials (V(rejected)) from one that
        could not be reached (V(unreachable)); a CI gate fails on both (see EXAMPLES).
      - Rows without credentials in use or of providers SSM no longer knows are not checked
        (RV(registries[].verify_status=not_checked)); C(acr) rows, whose login server SSM does not store, cannot be
        (V(not_verifiable)). RV(registries[].verified) is V(null) for both.
    type: bool
    default: false
  diagnose:
    description:
      - Check every listed row against the provider's rules and the facts of the SSM version, and add
        RV(registries[].problems) to each row and RV(problems_found) to the result. It needs no extra request.
      - Every problem code, its cause, what SSM does with such a row and how to fix it are listed in
        L(docs/problems.md,https://github.com/squirrel-ssm/squirrel.ssm/blob/main/docs/problems.md).
      - With O(verify_credentials), the check adds its own codes (C(credentials_rejected),
        C(registry_unreachable), C(anonymous_only), C(not_verifiable)).
    type: bool
    default: true
  registry_ca_path:
    description:
      - With O(verify_credentials), a CA bundle (PEM) the checks trust for the registries' TLS certificates, as
        O(squirrel.ssm.ssm_registry#module:registry_ca_path). O(ca_path) is for SSM only.
    type: path
seealso:
  - module: squirrel.ssm.ssm_registry
  - name: The problem codes of the diagnosis
    description: Every code RV(registries[].problems) can hold, its cause, what SSM does and the fix.
    link: https://github.com/squirrel-ssm/squirrel.ssm/blob/main/docs/problems.md
'''

EXAMPLES = r'''
- name: Every registry of SSM
  squirrel.ssm.ssm_registry_info:
    ssm_url: http://ssm.example:8000
    ssm_api_key: "{{ vault_ssm_api_key }}"
  register: ssm

- name: Which registries have credentials
  ansible.builtin.debug:
    msg: "{{ ssm.registries | selectattr('auth_set') | map(attribute='name') | list }}"

- name: Fail when SSM stores a row that breaks its update checks
  squirrel.ssm.ssm_registry_info:
  register: ssm
  failed_when: >-
    ssm.registries | map(attribute='problems') | flatten
    | selectattr('severity', 'equalto', 'error') | list | length > 0

- name: Test the stored credentials; fail on any that a registry refuses or where none can be reached
  squirrel.ssm.ssm_registry_info:
    verify_credentials: true
  register: ssm_check
  failed_when: >-
    ssm_check.registries | selectattr('verify_status', 'in', ['rejected', 'unreachable']) | list | length > 0

- name: Custom registries only
  squirrel.ssm.ssm_registry_info:
    provider: custom
'''

RETURN = r'''
registries:
  description: Every stored row that matches the filters, sorted by name. Never a secret value.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Name of the registry in SSM.
      type: str
      returned: always
      sample: ghcr
    provider:
      description: Its provider, as SSM stores it (legacy rows keep their old provider name).
      type: str
      returned: always
      sample: ghcr
    full_name:
      description: SSM's display name of the provider, when SSM has one.
      type: str
      returned: always
    auth_set:
      description: Whether credentials are stored.
      type: bool
      returned: always
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
    problems:
      description: What is wrong with the row, as SSM stores it (see O(diagnose) and docs/problems.md). Never a
        stored value.
      type: list
      elements: dict
      returned: when O(diagnose) is true
      sample: [{code: leftover_secret, severity: warning, message: SSM does not use credentials for quay ...,
                fix: 'squirrel.ssm.ssm_registry: {provider: quay, state: reset}'}]
      contains:
        code:
          description: The problem code (docs/problems.md).
          type: str
        severity:
          description: C(error) (SSM cannot use the row, or it can crash SSM), C(warning) or C(info).
          type: str
        message:
          description: What is wrong, naming fields, never their values.
          type: str
        fix:
          description:
            - The squirrel.ssm.ssm_registry task that repairs it, on one line that works as printed (put it under
              C(tasks) after C(- )). It carries every field the provider needs, with the row's own values where they
              are not secret and valid, and a quoted placeholder such as C("<password>") for each secret and each
              value the row lacks or holds wrongly; type the value between the quotes.
            - Where no task can repair the row (a provider SSM no longer knows, a name SSM's API cannot reach, the
              network), what to do instead.
          type: str
    verified:
      description: Whether the registry accepted the stored credentials (false when it refused them or could not
        be reached); null when nothing could be judged. RV(registries[].verify_status) tells these cases apart.
      type: bool
      returned: when O(verify_credentials) is true
    verify_status:
      description:
        - The outcome of the credential check, in one word. The ones that are not V(accepted) or V(not_checked)
          add the problem of the same name to RV(registries[].problems).
        - V(accepted) the registry accepted the stored credentials.
        - V(rejected) the registry refused them, or they lack a field any login needs (C(credentials_rejected)).
        - V(unreachable) the registry or its token server could not be reached from this host at the stored
          address (C(registry_unreachable)).
        - V(anonymous_only) the registry answers without credentials, so they could not be checked
          (C(anonymous_only)).
        - V(not_verifiable) credentials are stored but this check cannot judge them, as for C(acr) (whose login
          server SSM does not store) or when a Python library is missing (C(not_verifiable)).
        - V(not_checked) there is nothing to check, with no credentials in use or a provider SSM no longer knows.
        - A CI gate fails on V(rejected) and V(unreachable); see EXAMPLES, and the README's I(Fail the job on a bad
          credential), which names each failing registry.
      type: str
      returned: when O(verify_credentials) is true
      choices: [accepted, rejected, unreachable, anonymous_only, not_verifiable, not_checked]
      sample: accepted
    verify_msg:
      description: What the registry answered. Never a secret.
      type: str
      returned: when O(verify_credentials) is true
problems_found:
  description: How many problems the listed rows have, all severities.
  returned: when O(diagnose) is true
  type: int
  sample: 0
'''

from ansible_collections.squirrel.ssm.plugins.module_utils.ssm_module import SSMModule
from ansible.module_utils.basic import missing_required_lib
from ansible_collections.squirrel.ssm.plugins.module_utils.providers import PROVIDERS
from ansible_collections.squirrel.ssm.plugins.module_utils.diagnosis import diagnose, verification_problems
from ansible_collections.squirrel.ssm.plugins.module_utils.ssm_versions import facts, read_stored
from ansible_collections.squirrel.ssm.plugins.module_utils.registries import missing_ca_bundle, row_view, verify_fields
from ansible_collections.squirrel.ssm.plugins.module_utils.registry_login import (
    NOT_CHECKED, NOT_VERIFIABLE, CheckResult, MissingLibrary, check_credentials)


def verdict(ssm, row):
    """The check of the credentials SSM stores for `row`: a CheckResult."""
    provider, auth = row.get('provider'), row.get('auth')
    if provider not in PROVIDERS:
        return CheckResult(NOT_CHECKED, 'provider %s is not one SSM still knows: not checked' % provider)
    if not row.get('authSet') or not auth:
        return CheckResult(NOT_CHECKED, 'no credentials in use (auth_set false)' if auth else 'no credentials stored')
    try:
        # This module has none of ssm_registry's options that point the check elsewhere: hints name the stored fields.
        # The credentials are those SSM reads from the row (a UI row's form artefacts are none).
        return check_credentials(provider, read_stored(provider, auth, facts(ssm.client.version)).fields,
                                 timeout=ssm.params['timeout'],
                                 registry_ca_path=ssm.params['registry_ca_path'], hint_options=(),
                                 hint_fields='the %s SSM stores')
    except MissingLibrary as e:
        return CheckResult(NOT_VERIFIABLE, missing_required_lib(e.library))


def main():
    ssm = SSMModule(dict(name=dict(type='str'), provider=dict(type='str'), diagnose=dict(type='bool', default=True),
                         verify_credentials=dict(type='bool', default=False), registry_ca_path=dict(type='path')))
    missing = missing_ca_bundle(ssm.params['registry_ca_path'], 'the registries\' certificates')
    if missing:
        ssm.fail(missing)
    rows = ssm.rows()
    wanted = [row for name, row in sorted(rows.items())
              if ssm.params['name'] in (None, name) and ssm.params['provider'] in (None, row.get('provider'))]
    found = diagnose(rows, facts(ssm.client.version)) if ssm.params['diagnose'] else {}
    registries = []
    for row in wanted:
        view = row_view(row)
        if ssm.params['diagnose']:
            view['problems'] = found[row['name']]
        if ssm.params['verify_credentials']:
            checked = verdict(ssm, row)
            view.update(verify_fields(checked))
            if ssm.params['diagnose']:
                view['problems'].extend(verification_problems(row.get('provider'), row['name'], checked.status,
                                                              checked.message, row.get('auth')))
        registries.append(view)
    result = dict(registries=registries)
    if ssm.params['diagnose']:
        result['problems_found'] = sum(len(view['problems']) for view in registries)
    ssm.exit(changed=False, **result)


if __name__ == '__main__':
    main()
