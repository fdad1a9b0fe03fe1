# -*- coding: utf-8 -*-
# Copyright: (c) squirrel.ssm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Check container-registry credentials against the registry that will use them: the one entry point of the
registry_login_* files, which modules import.

SSM stores whatever it is given and never tries it, so a typo only shows up weeks later as update checks that
silently stopped.  check_credentials logs in the way each provider expects, before anything is written: the
``docker login`` flow (registry_login_docker), boto3 for ecr (registry_login_ecr), ACR's own token endpoints or
azure-identity for acr (registry_login_acr).  A library a check needs but lacks raises MissingLibrary, so that the
module can answer with ``missing_required_lib``.  Messages are scrubbed of every secret value, whatever built them.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import binascii

from ansible_collections.squirrel.ssm.plugins.module_utils.providers import SECRET_NAMES, shown
from ansible_collections.squirrel.ssm.plugins.module_utils.ssm_api import scrub, tls_verify
from ansible_collections.squirrel.ssm.plugins.module_utils.registry_login_common import (
    ACCEPTED, ANONYMOUS_ONLY, NOT_CHECKED, NOT_VERIFIABLE, REJECTED, STATUSES, UNREACHABLE, CheckResult, Http,
    Incomplete, MissingLibrary, Unreachable)
from ansible_collections.squirrel.ssm.plugins.module_utils.registry_login_docker import (
    DOCKER_LOGIN_PROVIDERS, URL_PROVIDERS, check_docker_login)
from ansible_collections.squirrel.ssm.plugins.module_utils.registry_login_acr import check_acr
from ansible_collections.squirrel.ssm.plugins.module_utils.registry_login_ecr import check_ecr, ecr_keys_from_aws
from ansible_collections.squirrel.ssm.plugins.module_utils.registry_login_gcr import load_gcr_key_file

__all__ = ["ACCEPTED", "ANONYMOUS_ONLY", "NOT_CHECKED", "NOT_VERIFIABLE", "REJECTED", "STATUSES", "UNREACHABLE",
           "CHECK_OPTIONS", "CheckResult", "MissingLibrary", "check_credentials", "ecr_keys_from_aws",
           "load_gcr_key_file"]

# The options of squirrel.ssm.ssm_registry that point the check at an address; a caller without them passes ().
CHECK_OPTIONS = ("registry_url", "acr_login_server", "acr_authority_host", "acr_tenant_id")


def check_credentials(provider, credentials, registry_url=None, acr_login_server=None, acr_tenant_id=None,
                      timeout=10, validate_certs=True, ca_path=None, aws_endpoint_url=None, acr_authority_host=None,
                      registry_ca_path=None, session=None, hint_options=CHECK_OPTIONS, hint_fields="credentials.%s"):
    """Log in to the registry of `provider` with `credentials` (SSM field names).

    Returns a CheckResult; raises MissingLibrary when the check needs a Python
    library that is not installed.  Messages name only what the caller has:
    `hint_options` are its options among CHECK_OPTIONS, `hint_fields` phrases
    a credential field (ssm_registry_info has no registry_url and checks what
    SSM stores).
    """
    creds = {k: v for k, v in (credentials or {}).items() if v is not None}
    if provider not in DOCKER_LOGIN_PROVIDERS + ("ecr", "acr"):
        return CheckResult(NOT_CHECKED, "provider %s has no credential check" % (provider,))
    if not any(creds.get(f) for f in SECRET_NAMES):
        return CheckResult(NOT_CHECKED, "no credentials to check for %s" % (provider,))
    # The same rule as for SSM; the registry's own CA (registry_ca_path), never SSM's ca_path: a CA bundle
    # replaces the default trust store, so SSM's private CA would make ghcr.io untrusted.
    verify = tls_verify(validate_certs, registry_ca_path or ca_path)
    secrets = _secret_values(creds, provider)
    http = None
    try:
        if provider == "ecr":
            result = check_ecr(creds, timeout, verify, aws_endpoint_url)
        else:
            http = Http(session, timeout, verify)
            if provider == "acr":
                result = check_acr(http, creds, acr_login_server or registry_url, acr_tenant_id,
                                   acr_authority_host, hint_options)
            else:
                result = check_docker_login(http, provider, creds, registry_url)
    except Unreachable as exc:
        hint = _address_hint(provider, exc.what, hint_options, hint_fields)
        result = CheckResult(UNREACHABLE, "%s: %s" % (exc, hint))
    except Incomplete as exc:
        result = CheckResult(REJECTED, str(exc))
    finally:
        if http is not None:
            http.close()
    result.message = scrub(result.message, secrets)
    return result


def _address_hint(provider, what, options, fields):
    """What to check when `what` (registry, token server, ...) cannot be reached: the stored field that sets
    the address and the caller's own options that do, never an option the caller lacks."""
    if what == "Azure AD":
        names = [o for o in ("acr_authority_host", "acr_tenant_id") if o in options]
    elif what == "ACR login server":
        names = [o for o in ("acr_login_server",) if o in options]
    elif provider == "ecr":
        names = [fields % ("region",)]
    else:
        names = ([fields % ("url",)] if provider in URL_PROVIDERS else []) + [o for o in ("registry_url",) if o in options]
    joined = (" and " if what == "Azure AD" else " or ").join(names)
    return "check %s" % (joined,) if names else "check the network from this host"


def _secret_values(creds, provider=None):
    # Every value not known to be harmless: stored rows may hold fields the table does not list.
    values = [str(value) for name, value in creds.items() if value and not shown(provider, name, value)]
    if creds.get("auth"):
        try:
            values.append(base64.b64decode(str(creds["auth"])).decode("utf-8").split(":", 1)[-1])
        except (binascii.Error, ValueError):
            pass
    return values
