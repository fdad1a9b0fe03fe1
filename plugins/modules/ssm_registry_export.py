#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, squirrel.ssm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: ssm_registry_export
short_description: Write what Squirrel Servers Manager stores as a registries file, secrets vault-encrypted
version_added: 1.0.0
description:
  - Reads the registries one SSM stores and writes them as a vars file in the input form of the
    C(squirrel.ssm.registries) role (C(ssm_registries), C(ssm_registries_purge)), ready to review, commit and
    converge from. This is how an SSM configured by hand is adopted.
  - Non-secret fields are written in clear. Every secret field (the collection's provider table says which) is
    written as an ansible-vault encrypted value (C(!vault |)), encrypted with Ansible's own vault code and the vault
    secret you give, or, with O(secrets=file), as a reference C({{ vault_ssm_<name>_<field> }}) to a separate
    secrets file that is vault-encrypted as a whole.
  - Registries are sorted by name, each with one comment line, so that the file diffs well in git.
  - Rows the collection cannot manage are left out and listed in comments, each with the exact reason (the problem
    codes of the diagnosis, see C(docs/problems.md)). Rows of providers SSM no longer knows; rows whose fields do
    not follow the provider's rules (fields it does not know, missing, of the wrong type, conflicting); rows whose
    credentials were left behind by an old reset; rows whose name SSM's proxy cannot route; gitlab rows without
    C(url) or C(authurl) (no default is filled in, as gitlab.com's would point a self-hosted GitLab elsewhere); any
    other row the converge would refuse, such as a name with surrounding spaces (C(converge_refuses)); the
    short-lived C(squirrel-ssm-reload-*) rows the collection uses to make SSM reload. Built-in registries without
    credentials need no entry and are named in one comment line.
  - Rows written by SSM's web UI are exported as SSM uses them, without the form's C(newName) and the fields it sent
    empty, Docker Hub's C(token) as C(password); on SSM v0.5 converging from the file writes nothing to them
    (C(docs/compatibility.md)).
  - The file writes C(ssm_registries_purge=false), with a comment saying why. Converging from it then changes
    nothing that is not listed, in particular not the rows left out. Set it to V(true) once you have reviewed the
    list, to make SSM match it exactly.
  - Files are written with mode C(0600) and never overwritten unless O(force=true). The result never holds a
    secret, only names, counts, reasons and paths.
author:
  - squirrel.ssm contributors (@squirrel-ssm)
extends_documentation_fragment:
  - squirrel.ssm.connection
attributes:
  action:
    support: full
    description: Runs as an action plugin, on the controller.
  check_mode:
    support: full
    description: Reads SSM and writes nothing; the result says which files would be written and what they would hold,
      secrets masked.
  diff_mode:
    support: none
    description: The result's RV(preview) shows the file, with every secret masked.
  idempotent:
    support: partial
    description: A second run refuses to overwrite the file, unless O(force=true); with it, an SSM that did not
      change finds the file up to date, so nothing is written and C(changed) is false.
options:
  path:
    description:
      - The vars file to write, on the controller, for example C(ssm-registries.yml). Relative paths are relative
        to the directory C(ansible-playbook) runs in.
    type: path
    required: true
  force:
    description:
      - Overwrite O(path) (and O(secrets_path)) when they exist. Without it, an existing file fails the task before
        anything is read from SSM.
      - A symbolic link is followed. The file it points to is written (whole, mode C(0600)) and the link stays.
    type: bool
    default: false
  secrets:
    description:
      - V(vault) writes each secret inline, as an ansible-vault encrypted value (C(!vault |)).
      - V(file) writes each secret as a variable reference (C({{ vault_ssm_<name>_<field> }}), names made of the
        registry name and the field, lower case, unique) and the values into O(secrets_path), a separate file
        encrypted as a whole with ansible-vault. Give both files to C(ansible-playbook) (C(-e @file)).
    type: str
    choices: [vault, file]
    default: vault
  secrets_path:
    description:
      - With O(secrets=file), the vault-encrypted secrets file to write. Required then.
    type: path
  vault_id:
    description:
      - The vault id to encrypt with, among the vault secrets C(ansible-playbook) loaded (C(--vault-id NAME@prompt),
        C(--vault-id NAME@FILE), C(--vault-password-file FILE) for the id C(default)). By default the one
        C(ansible-vault encrypt) would choose (the first given). An id other than C(default) is written into each
        encrypted value's header (format 1.2), so that Ansible knows which password opens it.
      - With O(vault_password), the id written into the headers.
    type: str
  vault_password:
    description:
      - A vault password to encrypt with, instead of the vault secrets loaded by C(ansible-playbook), for runs
        where no one can answer a prompt. Never logged.
    type: str
notes:
  - This is an action plugin; the module file holds its documentation only. The export must run on the controller,
    because that is where Ansible's vault lives (the secrets loaded by C(--vault-id) or C(--vault-password-file))
    and where the file is meant to be committed. A module runs on the target and cannot import Ansible's vault
    code (C(ansible.parsing)), nor should it receive the stored secrets in clear to write them there. SSM is read
    from the controller with the same client, connection options and C(SSM_*) fallbacks as the other modules, so
    the controller needs C(requests).
  - Vault encryption salts every value anew. So that an export run again with O(force=true) diffs only where SSM
    changed, an encrypted value of the file it replaces is kept when it holds exactly the same secret, with the same
    vault id and password (likewise the whole secrets file with O(secrets=file)); a file that ends up the same is
    not written again, and the task reports no change.
  - SSM returns stored secrets in clear, which is what makes the export possible. Protect the API key accordingly.
seealso:
  - module: squirrel.ssm.ssm_registry_info
  - module: squirrel.ssm.ssm_registry
  - name: Adopt an existing SSM
    description: Export, review, commit, converge.
    link: https://github.com/squirrel-ssm/squirrel.ssm/blob/main/docs/adopt.md
'''

EXAMPLES = r'''
- name: Export what SSM stores, secrets encrypted with the vault password ansible-playbook was given
  squirrel.ssm.ssm_registry_export:
    ssm_url: http://ssm.example:8000
    ssm_api_key: "{{ vault_ssm_api_key }}"
    path: ssm-registries.yml
    force: true

- name: Export with references, the secrets in their own vault-encrypted file
  squirrel.ssm.ssm_registry_export:
    path: ssm-registries-public.yml
    secrets: file
    secrets_path: ssm-registries-secrets.yml
    vault_password: "{{ vault_export_password }}"
    force: true
'''

RETURN = r'''
path:
  description: The absolute path of the vars file written (or that would be, in check mode).
  returned: always
  type: str
secrets_path:
  description: With O(secrets=file), the absolute path of the secrets file.
  returned: when O(secrets=file)
  type: str
exported:
  description: The names of the registries written to the file, sorted.
  returned: always
  type: list
  elements: str
  sample: [ghcr, gitlab, harbor]
left_out:
  description: The rows left out, each with why. Never a stored value.
  returned: always
  type: list
  elements: dict
  sample: [{name: hotio, provider: hotio, codes: [legacy_provider], reason: provider hotio is not one SSM still knows ...}]
  contains:
    name:
      description: The row's name.
      type: str
    provider:
      description: The row's provider, as SSM stores it.
      type: str
    codes:
      description: The problem codes that keep it out (docs/problems.md), or C(reload_registry), C(no_credentials),
        C(converge_refuses).
      type: list
      elements: str
    reason:
      description: The reason, and how to fix it.
      type: str
anonymous:
  description: Built-in registries without credentials, which need no entry.
  returned: always
  type: list
  elements: str
secrets_encrypted:
  description: How many secret values were vault-encrypted.
  returned: always
  type: int
ssm_api_version:
  description: The SSM API the export read (C(0.5) or C(0.1)).
  returned: always
  type: str
preview:
  description: In check mode, the vars file that would be written, every encrypted value replaced by a mask.
  returned: in check mode
  type: str
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.squirrel.ssm.plugins.module_utils.ssm_api import (
    CONNECTION_REQUIRED_ONE_OF, CONNECTION_REQUIRED_TOGETHER, CONNECTION_SPEC)

EXPORT_SPEC = dict(
    path=dict(type='path', required=True),
    force=dict(type='bool', default=False),
    secrets=dict(type='str', default='vault', choices=['vault', 'file']),
    secrets_path=dict(type='path'),
    vault_id=dict(type='str'),
    vault_password=dict(type='str', no_log=True),
)
EXPORT_REQUIRED_IF = [('secrets', 'file', ['secrets_path'])]


def argument_spec():
    spec = dict(CONNECTION_SPEC)
    spec.update(EXPORT_SPEC)
    return spec


def main():
    module = AnsibleModule(argument_spec=argument_spec(), required_if=EXPORT_REQUIRED_IF,
                           required_one_of=CONNECTION_REQUIRED_ONE_OF, required_together=CONNECTION_REQUIRED_TOGETHER,
                           supports_check_mode=True)
    module.fail_json(msg='squirrel.ssm.ssm_registry_export runs on the controller, as an action plugin: call it as a '
                         'task (its action plugin is missing from this installation of the collection)')


if __name__ == '__main__':
    main()
