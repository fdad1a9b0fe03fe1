# -*- coding: utf-8 -*-
# Copyright: (c) 2026, squirrel.ssm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# Generated from plugins/module_utils/providers.py by tools/gendocs.py: edit the table, not this.

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class ModuleDocFragment(object):
    DOCUMENTATION = r'''
options:
  credentials:
    description:
    - The fields SSM stores for the provider, named exactly as SSM and its guide name them.
    - Each provider accepts only its own fields; they are checked before any request to SSM, and a bad field fails
      the task naming the provider and the field.
    - Secret fields are never logged, returned, nor shown in a diff.
    - 'acr: clientid, clientsecret (secret).'
    - 'custom: auth (secret), login, password (secret), url.'
    - 'ecr: accesskeyid, region, secretaccesskey (secret).'
    - 'forgejo: auth (secret), login, password (secret), url.'
    - 'gcr: clientemail, privatekey (secret).'
    - 'ghcr: token (secret), username.'
    - 'gitea: auth (secret), login, password (secret), url.'
    - 'gitlab: authurl, token (secret), url.'
    - 'hub: auth (secret), login, password (secret).'
    - 'lscr: token (secret), username.'
    - 'quay: account, namespace, token (secret).'
    type: dict
    suboptions: &provider_fields
      accesskey:
        description:
        - 'ecr: alias of I(accesskeyid).'
        type: raw
      accesskeyid:
        description:
        - 'ecr: AWS access key ID (the guide calls it I(accesskey)). Required.'
        type: raw
      account:
        description:
        - 'quay: Robot account name (the part after C(+)). Required.'
        type: raw
      auth:
        description:
        - 'custom: Base64 of C(login:password), instead of I(login) and I(password).'
        - 'forgejo: Base64 of C(login:password), instead of I(login) and I(password).'
        - 'gitea: Base64 of C(login:password), instead of I(login) and I(password).'
        - 'hub: Base64 of C(login:password), instead of I(login) and I(password).'
        - 'Secret: never logged nor returned.'
        type: raw
      authurl:
        description:
        - 'gitlab: GitLab authentication base URL. Default C(https://gitlab.com).'
        type: raw
      clientemail:
        description:
        - 'gcr: Service account C(client_email). Required.'
        type: raw
      clientid:
        description:
        - 'acr: Service principal client ID. Required.'
        type: raw
      clientsecret:
        description:
        - 'acr: Service principal secret. Required.'
        - 'Secret: never logged nor returned.'
        type: raw
      login:
        description:
        - 'custom: Login (user name) on the registry; goes with I(password).'
        - 'forgejo: Login (user name) on the registry; goes with I(password).'
        - 'gitea: Login (user name) on the registry; goes with I(password).'
        - 'hub: Docker ID (not the e-mail address); goes with I(password).'
        type: raw
      namespace:
        description:
        - 'quay: Robot account namespace (the part before C(+)). Required.'
        type: raw
      password:
        description:
        - 'custom: Password or token of I(login).'
        - 'forgejo: Password or token of I(login).'
        - 'gitea: Password or token of I(login).'
        - 'hub: Docker Hub access token or password. I(token) is its deprecated spelling.'
        - 'Secret: never logged nor returned.'
        type: raw
      privatekey:
        description:
        - 'gcr: Service account C(private_key) (PEM). Required.'
        - 'Secret: never logged nor returned.'
        type: raw
      region:
        description:
        - 'ecr: AWS region code, for example C(eu-west-1). Required.'
        type: raw
      secretaccesskey:
        description:
        - 'ecr: AWS secret access key. Required.'
        - 'Secret: never logged nor returned.'
        type: raw
      token:
        description:
        - 'ghcr: GitHub personal access token (C(read:packages)). Required.'
        - 'gitlab: GitLab personal access token (C(read_registry)). Required.'
        - 'hub: alias of I(password) (deprecated).'
        - 'lscr: GitHub personal access token (C(read:packages)). Required.'
        - 'quay: Robot account token. Required.'
        - 'Secret: never logged nor returned.'
        type: raw
      url:
        description:
        - 'custom: Registry URL, for example C(http://localhost:5000); SSM appends C(/v2) itself. Required.'
        - 'forgejo: Forgejo URL, for example C(https://forgejo.example.com); SSM adds C(https://) when the scheme
          is missing. Required.'
        - 'gitea: Gitea URL, for example C(https://gitea.example.com); SSM adds C(https://) when the scheme is missing.
          Required.'
        - 'gitlab: Registry base URL. Default C(https://registry.gitlab.com).'
        type: raw
      username:
        description:
        - 'ghcr: GitHub user name. Required.'
        - 'lscr: GitHub user name. Required.'
        type: raw
  registries:
    description:
    - A whole set of registries, managed in one task with one read of SSM.
    - Every item is checked before the first write; one bad item means nothing is written.
    - Mutually exclusive with O(provider), O(name), O(state), O(credentials) and the check inputs.
    type: list
    elements: dict
    suboptions:
      provider:
        description:
        - The provider of the registry.
        type: str
        required: true
        choices:
        - acr
        - custom
        - ecr
        - forgejo
        - gcr
        - ghcr
        - gitea
        - gitlab
        - hub
        - lscr
        - quay
      name:
        description:
        - Name in SSM; defaults to the provider, required for C(custom).
        type: str
      state:
        description:
        - V(present), V(reset) or V(absent), as O(state).
        type: str
        default: present
        choices:
        - present
        - reset
        - absent
      credentials:
        description:
        - The fields of the provider, as O(credentials).
        type: dict
        suboptions: *provider_fields
      registry_url:
        description:
        - As O(registry_url), for this item.
        type: str
      acr_login_server:
        description:
        - As O(acr_login_server), for this item.
        type: str
      acr_tenant_id:
        description:
        - As O(acr_tenant_id), for this item.
        type: str
      acr_authority_host:
        description:
        - As O(acr_authority_host), for this item.
        type: str
      registry_ca_path:
        description:
        - As O(registry_ca_path), for this item.
        type: path
      gcr_key_file:
        description:
        - As O(gcr_key_file), for this item.
        type: path
      ecr_keys_from:
        description:
        - As O(ecr_keys_from), for this item.
        type: str
'''
