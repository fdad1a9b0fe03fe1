# -*- coding: utf-8 -*-
# Copyright: (c) squirrel.ssm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Check container-registry credentials against the registry that will use them.

SSM stores whatever it is given and never tries it, so a typo only shows up
weeks later as update checks that silently stopped.  This module logs in the
way each provider expects, before anything is written:

* the portable ``docker login`` flow (custom, gitea, forgejo, hub, ghcr, lscr,
  quay, gitlab, gcr with ``_json_key``): ping ``/v2/``, follow its Basic or
  Bearer challenge, and judge ONLY the answer given to the credentials.
  Registries hand out anonymous tokens, so a token obtained without
  credentials, or a 200 on ``/v2/`` after one, proves nothing;
* boto3 ``get_authorization_token`` for ecr;
* ACR's ``/oauth2/token`` (Basic) or, with a tenant, azure-identity and
  ``/oauth2/exchange`` (at the authority ``acr_authority_host``, for
  sovereign clouds).

boto3, google-auth and azure-identity are imported only by the function that
needs them; a missing one raises MissingLibrary so that the module can answer
with ``missing_required_lib``.  Messages never carry a secret: they are built
from host names and status codes, and scrubbed of every secret value anyway.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import binascii
import importlib
import json
import re
import traceback
from urllib.parse import urljoin, urlsplit

from ansible_collections.squirrel.ssm.plugins.module_utils.providers import SECRET_NAMES, shown
from ansible_collections.squirrel.ssm.plugins.module_utils.ssm_api import scrub, tls_verify

try:
    import requests
    import requests.auth

    HAS_REQUESTS = True
    REQUESTS_IMPORT_ERROR = None
except ImportError:
    requests = None
    HAS_REQUESTS = False
    REQUESTS_IMPORT_ERROR = traceback.format_exc()


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
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"
AZURE_MANAGEMENT_SCOPE = "https://management.azure.com/.default"
AZURE_DEFAULT_AUTHORITY = "https://login.microsoftonline.com"


class MissingLibrary(Exception):
    """A Python library needed for this check is not installed.

    ``library`` is the pip name to give to ``missing_required_lib`` and
    ``traceback`` the text of the failed import (for ``exception=``).
    """

    def __init__(self, library, tb=None):
        super().__init__("the Python library %s is required for this check" % (library,))
        self.library = library
        self.traceback = tb or traceback.format_exc()


# The outcome of a check, one word each; diagnosis.py turns the bad ones into problem codes.
ACCEPTED = "accepted"              # the registry accepted the credentials
REJECTED = "rejected"              # the registry refused them, or they lack a field any login needs
UNREACHABLE = "unreachable"        # the registry (or its token server) could not be reached at that address
ANONYMOUS_ONLY = "anonymous_only"  # the registry answers without credentials: there is nothing to check
NOT_VERIFIABLE = "not_verifiable"  # credentials are there, but this check cannot judge them (inputs, protocol)
NOT_CHECKED = "not_checked"        # nothing to check: no credentials, or a provider without a check
STATUSES = (ACCEPTED, REJECTED, UNREACHABLE, ANONYMOUS_ONLY, NOT_VERIFIABLE, NOT_CHECKED)
# The options of squirrel.ssm.ssm_registry that point the check at an address; a caller without them passes ().
CHECK_OPTIONS = ("registry_url", "acr_login_server", "acr_authority_host", "acr_tenant_id")


class CheckResult:
    """Outcome of one check: `status` (one of STATUSES) and a secret-free `message`.

    verified is derived for compatibility: True (accepted), False (rejected or
    unreachable), None (nothing could be judged).
    """

    def __init__(self, status, message):
        if status not in STATUSES:
            raise ValueError("unknown check status %s" % (status,))
        self.status = status
        self.message = message

    @property
    def verified(self):
        return {ACCEPTED: True, REJECTED: False, UNREACHABLE: False}.get(self.status)

    @property
    def unreachable(self):
        return self.status == UNREACHABLE

    @property
    def anonymous(self):
        return self.status == ANONYMOUS_ONLY

    def __repr__(self):
        return "CheckResult(status=%r, message=%r)" % (self.status, self.message)


class _Unreachable(Exception):
    """Raised by the HTTP helpers when an address cannot be reached; `what` (registry, token server, ACR login
    server, Azure AD, AWS ECR endpoint) decides what the hint names."""

    def __init__(self, what, address, reason, message=None):
        super().__init__(message or "cannot reach %s %s (%s)" % (what, address, reason))
        self.what = what


class _Incomplete(Exception):
    """The credentials lack a field (or a field cannot be decoded)."""


def _bare(exc):
    """`raise _bare(exc)` is `raise exc from None` (no chained traceback) in a syntax that Python 2.7 still
    compiles, so that a target below the collection's Python floor gets ssm_module's message, not a SyntaxError."""
    exc.__cause__ = None
    exc.__suppress_context__ = True
    return exc


def _import(module, library):
    """Import `module` on demand; a failure becomes MissingLibrary(library)."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise _bare(MissingLibrary(library, traceback.format_exc()))


# ---------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------

def _address(url):
    """scheme://host:port of a URL, the port always explicit (for messages)."""
    parts = urlsplit(url)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return "%s://%s" % (parts.scheme, _host(url))
    host = parts.hostname or ""
    if ":" in host:  # IPv6 literal
        host = "[%s]" % (host,)
    return "%s://%s:%s" % (parts.scheme, host, port)


def _host(url):
    """host[:port] of a URL, without any user:password@ part."""
    return urlsplit(url).netloc.rpartition("@")[2]


def _short(url):
    """URL without query string (token realms may carry parameters)."""
    parts = urlsplit(url)
    return "%s://%s%s" % (parts.scheme, _host(url), parts.path)


def _base_url(address):
    """Normalise a registry address: https unless it says http, no /v2 suffix."""
    address = address.strip()
    if "://" not in address:
        address = "https://" + address
    address = address.rstrip("/")
    if address.endswith("/v2"):
        address = address[:-3].rstrip("/")
    return address


def _network_reason(exc, timeout):
    """One short, secret-free phrase for a requests/botocore network error."""
    # botocore keeps the underlying urllib3 error apart from its own text.
    text = "%s %s" % (exc, getattr(exc, 'kwargs', {}).get('error', ''))
    if "timed out" in text.lower() or exc.__class__.__name__.endswith("Timeout"):
        return "timed out after %ss" % (timeout,)
    tls = re.search(r"\[SSL: [A-Z0-9_]+\] ([^(']+?)\s*(?:\(_ssl|'|$)", text)
    if tls:
        return "TLS error: " + tls.group(1)
    if "SSL" in text or "certificate" in text.lower():
        return "TLS error"
    if "refused" in text.lower():
        return "connection refused"
    if re.search(r"Name or service not known|NameResolution|getaddrinfo|nodename nor servname|"
                 r"Temporary failure in name resolution|No address associated", text):
        return "name does not resolve"
    if "Invalid URL" in text or "No connection adapters" in text:
        return "invalid URL"
    return exc.__class__.__name__


def _scrub(message, secrets):
    """Last line of defence: no secret value may appear in a message, in any encoding (ssm_api.scrub)."""
    return scrub(message, secrets)


if HAS_REQUESTS:
    class _HeaderAuth(requests.auth.AuthBase):
        """Set (or deliberately leave out) the Authorization header.

        Passing an auth object also stops requests from filling in
        credentials from ~/.netrc, which would falsify the anonymous ping and
        replace the credentials under test.
        """

        def __init__(self, value=None):
            self.value = value

        def __call__(self, r):
            if self.value:
                r.headers["Authorization"] = self.value
            return r


class _Http:
    """requests with the caller's TLS and timeout settings; network errors
    become _Unreachable naming the address."""

    def __init__(self, session, timeout, verify):
        if not HAS_REQUESTS:
            raise MissingLibrary("requests", REQUESTS_IMPORT_ERROR)
        self.own_session = session is None
        self.session = session or requests.Session()
        self.timeout = timeout
        self.verify = verify

    def request(self, method, url, what, authorization=None, **kwargs):
        try:
            return self.session.request(method, url, timeout=self.timeout, verify=self.verify,
                                        auth=_HeaderAuth(authorization), **kwargs)
        except requests.exceptions.RequestException as exc:
            raise _bare(_Unreachable(what, _address(url), _network_reason(exc, self.timeout)))

    def close(self):
        if self.own_session:
            self.session.close()


def _json(resp):
    try:
        data = resp.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _basic(user, secret):
    return "Basic " + base64.b64encode(("%s:%s" % (user, secret)).encode("utf-8")).decode("ascii")


# ---------------------------------------------------------------------------
# WWW-Authenticate
# ---------------------------------------------------------------------------

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


# ---------------------------------------------------------------------------
# Credentials as SSM stores them -> what a registry expects
# ---------------------------------------------------------------------------

def _require(credentials, provider, *fields):
    missing = [f for f in fields if not credentials.get(f)]
    if missing:
        raise _Incomplete("the credentials of %s lack %s" % (provider, ', '.join(missing)))
    return [credentials[f] for f in fields]


def _has_secret(credentials):
    return any(credentials.get(f) for f in SECRET_NAMES)


def _login_pair(provider, creds):
    """(user, Authorization header value) for the docker login flow."""
    if provider in ("custom", "gitea", "forgejo", "hub") and creds.get("auth"):
        # `auth` is base64(login:password); send it as SSM would, as is.
        auth = str(creds["auth"]).strip()
        try:
            user = base64.b64decode(auth, validate=True).decode("utf-8").split(":", 1)
        except (binascii.Error, ValueError):
            raise _bare(_Incomplete("the auth of %s is not the base64 of login:password" % (provider,)))
        if len(user) != 2:
            raise _Incomplete("the auth of %s is not the base64 of login:password" % (provider,))
        return user[0], "Basic " + auth
    if provider in ("custom", "gitea", "forgejo", "hub"):
        password = creds.get("password") or (creds.get("token") if provider == "hub" else None)
        if not password:
            raise _Incomplete("the credentials of %s lack password" % (provider,))
        login, = _require(creds, provider, "login")
        return login, _basic(login, password)
    if provider in ("ghcr", "lscr"):
        user, token = _require(creds, provider, "username", "token")
        return user, _basic(user, token)
    if provider == "quay":
        namespace, account, token = _require(creds, provider, "namespace", "account", "token")
        user = "%s+%s" % (namespace, account)  # robot account
        return user, _basic(user, token)
    if provider == "gitlab":
        token, = _require(creds, provider, "token")
        user = creds.get("username") or ""  # empty for a personal or deploy token
        return user, _basic(user, token)
    if provider == "gcr":
        email, key = _require(creds, provider, "clientemail", "privatekey")
        key_json = json.dumps({"type": "service_account", "client_email": email, "private_key": key})
        return "_json_key", _basic("_json_key", key_json)
    raise _Incomplete("no login flow for provider %s" % (provider,))


def _registry_of(provider, creds, registry_url):
    address = registry_url or (creds.get("url") if provider in URL_PROVIDERS else None)
    address = address or DEFAULT_REGISTRIES.get(provider)
    if not address:
        raise _Incomplete("the credentials of %s lack url" % (provider,))
    return _base_url(address)


# ---------------------------------------------------------------------------
# The docker login flow
# ---------------------------------------------------------------------------

def _docker_login(http, registry, user, authorization, provider):
    host = _host(registry)
    ping = registry + "/v2/"
    resp = http.request("GET", ping, "registry")
    if resp.status_code == 200:
        return CheckResult(ANONYMOUS_ONLY, "registry %s is open (/v2/ answered 200 without credentials): nothing "
                                           "to check" % (host,))
    if resp.status_code != 401:
        # An address that answers, but not as a registry: no registry was reached there.
        message = "registry %s answered %s to /v2/: %s does not look like a container registry" % (
            host, resp.status_code, registry)
        raise _Unreachable("registry", host, resp.status_code, message)
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
    server = "token server %s" % (_short(realm),)
    if not 200 <= resp.status_code < 300:
        return CheckResult(REJECTED, "registry %s rejected the credentials of %s (%s answered "
                                     "%s)" % (host, provider, server, resp.status_code))
    data = _json(resp)
    token = data.get("token") or data.get("access_token")
    if not isinstance(token, str) or not token:
        return CheckResult(REJECTED, "registry %s rejected the credentials of %s (%s answered %s without a "
                                     "token)" % (host, provider, server, resp.status_code))
    return CheckResult(ACCEPTED, "registry %s accepted the credentials of %s (%s issued a "
                                 "token)" % (host, provider, server))


# ---------------------------------------------------------------------------
# Cloud providers
# ---------------------------------------------------------------------------

def _check_ecr(creds, timeout, verify, endpoint_url):
    key, secret, region = _require(creds, "ecr", "accesskeyid", "secretaccesskey", "region")
    boto3 = _import("boto3", "boto3")
    bexc = _import("botocore.exceptions", "botocore")
    bconfig = _import("botocore.config", "botocore")
    # Explicit keys only: env/profile credentials must not stand in for them.
    session = boto3.session.Session(aws_access_key_id=key, aws_secret_access_key=secret, region_name=region)
    config = bconfig.Config(connect_timeout=timeout, read_timeout=timeout, retries={"total_max_attempts": 1})
    client = session.client("ecr", endpoint_url=endpoint_url, verify=None if verify is True else verify,
                            config=config)
    where = "AWS ECR (%s, %s)" % (region, _address(client.meta.endpoint_url))
    try:
        client.get_authorization_token()
    except bexc.ClientError as exc:
        return CheckResult(REJECTED, "%s rejected the access keys of ecr (%s)" % (where, _aws_error_code(exc)))
    except (bexc.ConnectionError, bexc.HTTPClientError) as exc:
        raise _bare(_Unreachable("AWS ECR endpoint", _address(client.meta.endpoint_url),
                                 _network_reason(exc, timeout)))
    return CheckResult(ACCEPTED, "%s accepted the access keys of ecr (issued an authorization token)" % (where,))


def _aws_error_code(exc):
    """The AWS error code of a ClientError.  ECR answers JSON, but an error
    given in the query protocol's XML (an STS-style auth failure, as moto
    and some proxies send) reaches botocore unparsed: read its <Code>."""
    error = exc.response.get("Error", {})
    code = str(error.get("Code") or "")
    if not code or code.isdigit():
        found = re.search(r"<Code>([A-Za-z0-9_.]+)</Code>", str(error.get("Message") or ""))
        code = found.group(1) if found else "HTTP %s" % (code or 'error',)
    return code


def _check_acr(http, creds, login_server, tenant, authority, options=CHECK_OPTIONS):
    clientid, clientsecret = _require(creds, "acr", "clientid", "clientsecret")
    if not login_server:
        if "acr_login_server" in options:
            return CheckResult(NOT_VERIFIABLE, "acr_login_server (e.g. myregistry.azurecr.io) is needed to check "
                                               "acr credentials: SSM does not store it")
        return CheckResult(NOT_VERIFIABLE, "the ACR login server (<name>.azurecr.io) is needed to check acr "
                                           "credentials and SSM does not store it: check them with "
                                           "squirrel.ssm.ssm_registry and its acr_login_server")
    base = _base_url(login_server)
    host = _host(base)
    if tenant:
        return _check_acr_aad(http, base, host, clientid, clientsecret, tenant, authority)
    resp = http.request("GET", base + "/oauth2/token", "ACR login server", authorization=_basic(clientid, clientsecret),
                        params={"service": host, "scope": "registry:catalog:*"})
    if 200 <= resp.status_code < 300 and _json(resp).get("access_token"):
        return CheckResult(ACCEPTED, "ACR login server %s accepted the service principal of acr (Basic, issued a "
                                     "token)" % (host,))
    return CheckResult(REJECTED, "ACR login server %s rejected the service principal of acr (/oauth2/token "
                                 "answered %s)" % (host, resp.status_code))


def _check_acr_aad(http, base, host, clientid, clientsecret, tenant, authority):
    identity = _import("azure.identity", "azure-identity")
    aexc = _import("azure.core.exceptions", "azure-identity")
    authority = authority or AZURE_DEFAULT_AUTHORITY
    where = "Azure AD %s" % (_address(_base_url(authority)),)
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
            raise _bare(_Unreachable("Azure AD", _address(_base_url(authority)),
                                     _network_reason(exc, http.timeout)))
        code = re.search(r"AADSTS\d+|invalid_[a-z_]+|unauthorized_client", text)
        return CheckResult(REJECTED, "%s rejected the service principal of acr "
                                     "(%s)" % (where, code.group(0) if code else 'authentication failed'))
    except (aexc.ServiceRequestError, aexc.ServiceResponseError) as exc:
        raise _bare(_Unreachable("Azure AD", _address(_base_url(authority)),
                                 _network_reason(exc, http.timeout)))
    finally:
        credential.close()
    # Trade the AAD token for an ACR refresh token: proves the login server
    # knows this tenant and accepts the principal.
    resp = http.request("POST", base + "/oauth2/exchange", "ACR login server",
                        data={"grant_type": "access_token", "service": host, "tenant": tenant,
                              "access_token": aad_token})
    if 200 <= resp.status_code < 300 and _json(resp).get("refresh_token"):
        return CheckResult(ACCEPTED, "ACR login server %s accepted the service principal of acr (Azure AD token "
                                     "exchanged for a refresh token)" % (host,))
    return CheckResult(REJECTED, "ACR login server %s refused the Azure AD token of acr (/oauth2/exchange "
                                 "answered %s)" % (host, resp.status_code))


# ---------------------------------------------------------------------------
# Public entry points
# ---------------------------------------------------------------------------

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
    if not _has_secret(creds):
        return CheckResult(NOT_CHECKED, "no credentials to check for %s" % (provider,))
    # The same rule as for SSM; the registry's own CA (registry_ca_path), never SSM's ca_path: a CA bundle
    # replaces the default trust store, so SSM's private CA would make ghcr.io untrusted.
    verify = tls_verify(validate_certs, registry_ca_path or ca_path)
    secrets = _secret_values(creds, provider)
    http = None
    try:
        if provider == "ecr":
            result = _check_ecr(creds, timeout, verify, aws_endpoint_url)
        else:
            http = _Http(session, timeout, verify)
            if provider == "acr":
                result = _check_acr(http, creds, acr_login_server or registry_url, acr_tenant_id,
                                    acr_authority_host, hint_options)
            else:
                registry = _registry_of(provider, creds, registry_url)
                user, authorization = _login_pair(provider, creds)
                result = _docker_login(http, registry, user, authorization, provider)
    except _Unreachable as exc:
        hint = _address_hint(provider, exc.what, hint_options, hint_fields)
        result = CheckResult(UNREACHABLE, "%s: %s" % (exc, hint))
    except _Incomplete as exc:
        result = CheckResult(REJECTED, str(exc))
    finally:
        if http is not None:
            http.close()
    result.message = _scrub(result.message, secrets)
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


def load_gcr_key_file(path):
    """Read a service-account JSON key file into SSM's gcr fields.

    The key is checked with google-auth (the private key must load); any
    problem is a ValueError whose message holds no key material.
    """
    service_account = _import("google.oauth2.service_account", "google-auth")
    try:
        with open(path, "r", encoding="utf-8") as handle:
            info = json.load(handle)
    except OSError as exc:
        raise _bare(ValueError("cannot read the GCR key file %s: %s" % (path, exc.strerror or exc.__class__.__name__)))
    except ValueError:
        raise _bare(ValueError("the GCR key file %s is not JSON (expected a service-account key)" % (path,)))
    if not isinstance(info, dict) or info.get("type", "service_account") != "service_account":
        raise ValueError("the GCR key file %s is not a service-account key (type service_account)" % (path,))
    missing = [f for f in ("client_email", "private_key") if not isinstance(info.get(f), str) or not info.get(f)]
    if missing:
        raise ValueError("the GCR key file %s lacks %s" % (path, ', '.join(missing)))
    # google-auth wants a token_uri; SSM does not store it, so any default will do.
    checked = dict(info)
    checked.setdefault("token_uri", GOOGLE_TOKEN_URI)
    try:
        service_account.Credentials.from_service_account_info(checked)
    except (ValueError, TypeError, IndexError) as exc:
        raise _bare(ValueError("the private_key in the GCR key file %s cannot be loaded (%s): is it a complete "
                               "PEM private key?" % (path, exc.__class__.__name__)))
    return {"clientemail": info["client_email"], "privatekey": info["private_key"]}


def ecr_keys_from_aws(profile=None):
    """Long-term AWS access keys from a profile or the environment, via boto3.

    Returns {"accesskeyid", "secretaccesskey"} and "region" when the session
    has one.  Temporary credentials are refused: SSM can only store keys.
    """
    boto3 = _import("boto3", "boto3")
    bexc = _import("botocore.exceptions", "botocore")
    source = "AWS profile %s" % (profile,) if profile else "the AWS environment (variables, default profile)"
    try:
        session = boto3.session.Session(profile_name=profile)
        found = session.get_credentials()
    except bexc.BotoCoreError as exc:
        raise _bare(ValueError("cannot read AWS credentials from %s: %s" % (source, exc.__class__.__name__)))
    if found is None:
        raise ValueError("no AWS credentials found in %s" % (source,))
    frozen = found.get_frozen_credentials()
    if frozen.token:
        raise ValueError("%s gives temporary credentials (with a session token): SSM can only store long-term "
                         "access keys (an access key id and its secret access key)" % (source,))
    if not frozen.access_key or not frozen.secret_key:
        raise ValueError("%s gives incomplete AWS credentials" % (source,))
    keys = {"accesskeyid": frozen.access_key, "secretaccesskey": frozen.secret_key}
    if session.region_name:
        keys["region"] = session.region_name
    return keys
