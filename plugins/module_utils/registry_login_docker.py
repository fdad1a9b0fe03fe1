# -*- coding: utf-8 -*-
# Copyright: (c) squirrel.ssm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The portable ``docker login`` flow (custom, gitea, forgejo, hub, ghcr, lscr, quay, gitlab, gcr with
``_json_key``): ping ``/v2/``, follow its Basic or Bearer challenge, and judge ONLY the answer given to the
credentials.  Registries hand out anonymous tokens, so a token obtained without credentials, or a 200 on
``/v2/`` after one, proves nothing."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import binascii
import json
import re
from urllib.parse import urljoin, urlsplit

from ansible_collections.squirrel.ssm.plugins.module_utils.registry_login_common import (
    ACCEPTED, ANONYMOUS_ONLY, NOT_VERIFIABLE, REJECTED, CheckResult, Incomplete, Unreachable, base_url, basic_auth,
    from_none, host_of, json_object, require)

CLIENT_ID = "squirrel.ssm"
# Registry host of each built-in provider (registry_url overrides them).
DEFAULT_REGISTRIES = {
    "hub": "https://registry-1.docker.io",
    "ghcr": "https://ghcr.io",
    "lscr": "https://lscr.io",
    "quay": "https://quay.io",
    "gcr": "https://gcr.io",
    "gitlab": "https://registry.gitlab.com",
}
# Providers whose registry address is the stored `url`.
URL_PROVIDERS = ("custom", "gitea", "forgejo", "gitlab")
DOCKER_LOGIN_PROVIDERS = ("custom", "gitea", "forgejo", "hub", "ghcr", "lscr", "quay", "gitlab", "gcr")

_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
# Unquoted values should be tokens; servers also send bare URLs, so accept
# anything up to the next comma or space.
_PARAM_RE = re.compile(r'[\s,]*(' + _TOKEN + r')\s*=\s*("(?:[^"\\]|\\.)*"|[^\s,"]+)\s*(?:,|$)')
_SCHEME_RE = re.compile(r'[\s,]*(' + _TOKEN + r')(?:\s+|\s*,|\s*$)')


def parse_www_authenticate(value):
    """Parse a WWW-Authenticate value into {scheme (lower case): {param: value}}.

    Quoted values may hold commas and escaped quotes (a Bearer scope such as
    "repository:a/b:pull,push", a realm with a query string), and several
    challenges may share one header (requests joins repeated headers with ", ").
    """
    challenges = {}
    current = None
    pos = 0
    value = value or ""
    while pos < len(value):
        match = _PARAM_RE.match(value, pos) if current is not None else None
        if match:
            raw = match.group(2)
            if raw.startswith('"'):
                raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
            current.setdefault(match.group(1).lower(), raw)
            pos = match.end()
            continue
        match = _SCHEME_RE.match(value, pos)
        if not match or match.end() == pos:
            break
        current = challenges.setdefault(match.group(1).lower(), {})
        pos = match.end()
    return challenges


def _login_pair(provider, creds):
    """(user, Authorization header value) for the docker login flow, from the credentials as SSM stores them."""
    if provider in ("custom", "gitea", "forgejo", "hub") and creds.get("auth"):
        # `auth` is base64(login:password); send it as SSM would, as is.
        auth = str(creds["auth"]).strip()
        try:
            user = base64.b64decode(auth, validate=True).decode("utf-8").split(":", 1)
        except (binascii.Error, ValueError):
            raise from_none(Incomplete("the auth of %s is not the base64 of login:password" % (provider,)))
        if len(user) != 2:
            raise Incomplete("the auth of %s is not the base64 of login:password" % (provider,))
        return user[0], "Basic " + auth
    if provider in ("custom", "gitea", "forgejo", "hub"):
        password = creds.get("password") or (creds.get("token") if provider == "hub" else None)
        if not password:
            raise Incomplete("the credentials of %s lack password" % (provider,))
        login, = require(creds, provider, "login")
        return login, basic_auth(login, password)
    if provider in ("ghcr", "lscr"):
        user, token = require(creds, provider, "username", "token")
        return user, basic_auth(user, token)
    if provider == "quay":
        namespace, account, token = require(creds, provider, "namespace", "account", "token")
        user = "%s+%s" % (namespace, account)  # robot account
        return user, basic_auth(user, token)
    if provider == "gitlab":
        token, = require(creds, provider, "token")
        user = creds.get("username") or ""  # empty for a personal or deploy token
        return user, basic_auth(user, token)
    if provider == "gcr":
        email, key = require(creds, provider, "clientemail", "privatekey")
        key_json = json.dumps({"type": "service_account", "client_email": email, "private_key": key})
        return "_json_key", basic_auth("_json_key", key_json)
    raise Incomplete("no login flow for provider %s" % (provider,))


def _registry_of(provider, creds, registry_url):
    address = registry_url or (creds.get("url") if provider in URL_PROVIDERS else None)
    address = address or DEFAULT_REGISTRIES.get(provider)
    if not address:
        raise Incomplete("the credentials of %s lack url" % (provider,))
    return base_url(address)


def check_docker_login(http, provider, creds, registry_url):
    registry = _registry_of(provider, creds, registry_url)
    user, authorization = _login_pair(provider, creds)
    host = host_of(registry)
    ping = registry + "/v2/"
    resp = http.request("GET", ping, "registry")
    if resp.status_code == 200:
        return CheckResult(ANONYMOUS_ONLY, "registry %s is open (/v2/ answered 200 without credentials): nothing "
                                           "to check" % (host,))
    if resp.status_code != 401:
        # An address that answers, but not as a registry: no registry was reached there.
        message = "registry %s answered %s to /v2/: %s does not look like a container registry" % (
            host, resp.status_code, registry)
        raise Unreachable("registry", host, resp.status_code, message)
    challenges = parse_www_authenticate(resp.headers.get("WWW-Authenticate", ""))
    # Same preference as docker: the token flow when offered, else Basic.
    bearer = challenges.get("bearer")
    if bearer is not None:
        return _token_login(http, host, ping, bearer, user, authorization, provider)
    if "basic" in challenges:
        resp = http.request("GET", ping, "registry", authorization=authorization)
        if resp.status_code == 200:
            return CheckResult(ACCEPTED, "registry %s accepted the credentials of %s (Basic auth)" % (host, provider))
        return CheckResult(REJECTED, "registry %s rejected the credentials of %s (/v2/ answered %s to Basic "
                                     "auth)" % (host, provider, resp.status_code))
    return CheckResult(NOT_VERIFIABLE, "registry %s asks for authentication without a Basic or Bearer "
                                       "challenge" % (host,))


def _token_login(http, host, ping, bearer, user, authorization, provider):
    if not bearer.get("realm"):
        return CheckResult(NOT_VERIFIABLE, "registry %s sent a Bearer challenge without a realm" % (host,))
    realm = urljoin(ping, bearer["realm"])
    # No scope: the question is only "are these credentials valid?".
    params = {"client_id": CLIENT_ID, "offline_token": "true"}
    if bearer.get("service"):
        params["service"] = bearer["service"]
    if user:
        params["account"] = user
    resp = http.request("GET", realm, "token server", authorization=authorization, params=params)
    parts = urlsplit(realm)  # named without its query string: a realm may carry parameters
    server = "token server %s://%s%s" % (parts.scheme, host_of(realm), parts.path)
    if not 200 <= resp.status_code < 300:
        return CheckResult(REJECTED, "registry %s rejected the credentials of %s (%s answered "
                                     "%s)" % (host, provider, server, resp.status_code))
    data = json_object(resp)
    token = data.get("token") or data.get("access_token")
    if not isinstance(token, str) or not token:
        return CheckResult(REJECTED, "registry %s rejected the credentials of %s (%s answered %s without a "
                                     "token)" % (host, provider, server, resp.status_code))
    return CheckResult(ACCEPTED, "registry %s accepted the credentials of %s (%s issued a "
                                 "token)" % (host, provider, server))
