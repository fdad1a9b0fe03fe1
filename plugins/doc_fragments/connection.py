# -*- coding: utf-8 -*-
# Copyright: (c) 2026, squirrel.ssm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class ModuleDocFragment(object):
    # How every module of the collection reaches SSM. Keep in step with CONNECTION_SPEC in module_utils/ssm_api.py.
    DOCUMENTATION = r'''
attributes:
  action_group:
    support: full
    membership:
      - squirrel.ssm.ssm
    description: Use C(module_defaults) with C(group/squirrel.ssm.ssm) to set the connection once.
requirements:
  - Python >= 3.7 on the target (the host the module runs on); an older Python gets a message naming the floor.
  - requests >= 2.25 on the target.
options:
  ssm_url:
    description:
      - The address of SSM's web UI, for example C(http://ssm.example:8000).
      - The API is C(<ssm_url>/api); a trailing C(/api) is not doubled.
      - It must be C(http://) or C(https://) with a host, and no query, fragment or C(user:password@); surrounding
        whitespace is removed. A malformed address fails the task before any request.
      - If not set, the environment variable E(SSM_URL) is used.
    type: str
    required: true
  ssm_api_key:
    description:
      - An SSM API key (Settings > Authentication > API KEY), sent as a Bearer token.
      - One of O(ssm_api_key) or O(ssm_username) and O(ssm_password) is required.
      - SSM v0.1 accepts no API key on its registry routes; use O(ssm_username) and O(ssm_password) there.
      - Surrounding whitespace is removed (the newline of C(echo KEY | ansible-vault encrypt_string) or of a YAML
        C(|) block), since an HTTP header cannot carry it. A key holding spaces, control or non-ASCII characters fails
        the task naming this option, before any request.
      - If not set, the environment variable E(SSM_API_KEY) is used.
    type: str
  ssm_username:
    description:
      - The e-mail address of an SSM user, to log in once and reuse the session cookie.
      - When both an API key and a username are given, the username and password are used.
      - Surrounding whitespace is removed.
      - If not set, the environment variable E(SSM_USERNAME) is used.
    type: str
  ssm_password:
    description:
      - The password of O(ssm_username).
      - Sent exactly as given (whitespace may be part of a password); when SSM rejects a password that starts or
        ends with whitespace, the message says so.
      - If not set, the environment variable E(SSM_PASSWORD) is used.
    type: str
  validate_certs:
    description:
      - Whether to check SSM's TLS certificate. Turning it off prints a warning.
      - V(false) turns the check off, whatever O(ca_path) says (which is then ignored, and the warning says so);
        V(true) checks against O(ca_path) when it is set, else against the default trust store (certifi, or
        E(REQUESTS_CA_BUNDLE) when set).
      - The registry checks of O(squirrel.ssm.ssm_registry#module:verify_credentials) follow the same rule with
        their own CA path, C(registry_ca_path), and always check certificates; this option concerns SSM only.
      - If not set, the environment variable E(SSM_VALIDATE_CERTS) is used.
    type: bool
    default: true
  ca_path:
    description:
      - A CA bundle (PEM) to check SSM's certificate with, for an SSM behind a private CA. It replaces the
        default trust store for SSM only, and must exist when O(validate_certs) is true.
      - Ignored when O(validate_certs) is false.
      - If not set, the environment variable E(SSM_CA_PATH) is used.
    type: path
  timeout:
    description:
      - Seconds to wait for each answer of SSM; must be greater than 0.
      - If not set, the environment variable E(SSM_TIMEOUT) is used.
    type: float
    default: 30
  ssm_api_version:
    description:
      - Which SSM API to speak. V(auto) tries SSM v0.5's paths and falls back to v0.1's on a 404.
      - If not set, the environment variable E(SSM_API_VERSION) is used.
    type: str
    choices: [auto, '0.5', '0.1']
    default: auto
'''
