# -*- coding: utf-8 -*-
# Copyright: (c) squirrel.ssm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ACR: its ``/oauth2/token`` (Basic) or, with a tenant, azure-identity and ``/oauth2/exchange`` (at the
authority ``acr_authority_host``, for sovereign clouds).  azure-identity is imported only here, on demand."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

from ansible_collections.squirrel.ssm.plugins.module_utils.registry_login_common import (
    ACCEPTED, NOT_VERIFIABLE, REJECTED, CheckResult, Unreachable, address_of, base_url, basic_auth, from_none,
    host_of, import_library, json_object, network_reason, require)

AZURE_MANAGEMENT_SCOPE = "https://management.azure.com/.default"
AZURE_DEFAULT_AUTHORITY = "https://login.microsoftonline.com"


def check_acr(http, creds, login_server, tenant, authority, options):
    clientid, clientsecret = require(creds, "acr", "clientid", "clientsecret")
    if not login_server:
        if "acr_login_server" in options:
            return CheckResult(NOT_VERIFIABLE, "acr_login_server (e.g. myregistry.azurecr.io) is needed to check "
                                               "acr credentials: SSM does not store it")
        return CheckResult(NOT_VERIFIABLE, "the ACR login server (<name>.azurecr.io) is needed to check acr "
                                           "credentials and SSM does not store it: check them with "
                                           "squirrel.ssm.ssm_registry and its acr_login_server")
    base = base_url(login_server)
    host = host_of(base)
    if tenant:
        return _check_acr_aad(http, base, host, clientid, clientsecret, tenant, authority)
    resp = http.request("GET", base + "/oauth2/token", "ACR login server",
                        authorization=basic_auth(clientid, clientsecret),
                        params={"service": host, "scope": "registry:catalog:*"})
    if 200 <= resp.status_code < 300 and json_object(resp).get("access_token"):
        return CheckResult(ACCEPTED, "ACR login server %s accepted the service principal of acr (Basic, issued a "
                                     "token)" % (host,))
    return CheckResult(REJECTED, "ACR login server %s rejected the service principal of acr (/oauth2/token "
                                 "answered %s)" % (host, resp.status_code))


def _check_acr_aad(http, base, host, clientid, clientsecret, tenant, authority):
    identity = import_library("azure.identity", "azure-identity")
    aexc = import_library("azure.core.exceptions", "azure-identity")
    authority = authority or AZURE_DEFAULT_AUTHORITY
    where = "Azure AD %s" % (address_of(base_url(authority)),)
    try:
        credential = identity.ClientSecretCredential(
            tenant, clientid, clientsecret, authority=authority, disable_instance_discovery=True,
            connection_verify=http.verify, connection_timeout=http.timeout, read_timeout=http.timeout,
            retry_total=0)
    except ValueError as exc:
        return CheckResult(NOT_VERIFIABLE, "cannot check acr through Azure AD: %s" % (exc,))
    try:
        aad_token = credential.get_token(AZURE_MANAGEMENT_SCOPE).token
    except aexc.ClientAuthenticationError as exc:
        text = str(exc)
        if re.search(r"Connection|Max retries|SSL|timed out|resolve", text) and not re.search(r"AADSTS|invalid_", text):
            raise from_none(Unreachable("Azure AD", address_of(base_url(authority)),
                                        network_reason(exc, http.timeout)))
        code = re.search(r"AADSTS\d+|invalid_[a-z_]+|unauthorized_client", text)
        return CheckResult(REJECTED, "%s rejected the service principal of acr "
                                     "(%s)" % (where, code.group(0) if code else 'authentication failed'))
    except (aexc.ServiceRequestError, aexc.ServiceResponseError) as exc:
        raise from_none(Unreachable("Azure AD", address_of(base_url(authority)),
                                    network_reason(exc, http.timeout)))
    finally:
        credential.close()
    # Trade the AAD token for an ACR refresh token: proves the login server
    # knows this tenant and accepts the principal.
    resp = http.request("POST", base + "/oauth2/exchange", "ACR login server",
                        data={"grant_type": "access_token", "service": host, "tenant": tenant,
                              "access_token": aad_token})
    if 200 <= resp.status_code < 300 and json_object(resp).get("refresh_token"):
        return CheckResult(ACCEPTED, "ACR login server %s accepted the service principal of acr (Azure AD token "
                                     "exchanged for a refresh token)" % (host,))
    return CheckResult(REJECTED, "ACR login server %s refused the Azure AD token of acr (/oauth2/exchange "
                                 "answered %s)" % (host, resp.status_code))
