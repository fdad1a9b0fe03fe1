# -*- coding: utf-8 -*-
# Copyright: (c) squirrel.ssm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every registry login shares: the outcome of a check, its errors, the libraries imported on demand, and
HTTP with the caller's TLS and timeout settings."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import importlib
import re
import traceback
from urllib.parse import urlsplit

try:
    import requests
    import requests.auth
    HAS_REQUESTS = True
    REQUESTS_IMPORT_ERROR = None
except ImportError:
    requests = None
    HAS_REQUESTS = False
    REQUESTS_IMPORT_ERROR = traceback.format_exc()


class MissingLibrary(Exception):
    """A Python library needed for this check is not installed.

    ``library`` is the pip name to give to ``missing_required_lib`` and
    ``traceback`` the text of the failed import (for ``exception=``).
    """

    def __init__(self, library, tb=None):
        super().__init__("the Python library %s is required for this check" % (library,))
        self.library = library
        self.traceback = tb or traceback.format_exc()


def from_none(exc):
    """`raise from_none(exc)` is `raise exc from None` (no chained traceback) in a syntax that Python 2.7 still
    compiles, so that a target below the collection's Python floor gets ssm_module's message, not a SyntaxError."""
    exc.__cause__ = None
    exc.__suppress_context__ = True
    return exc


def import_library(module, library):
    """Import `module` on demand; a failure becomes MissingLibrary(library)."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise from_none(MissingLibrary(library, traceback.format_exc()))


# The outcome of a check, one word each; diagnosis.py turns the bad ones into problem codes.
ACCEPTED = "accepted"              # the registry accepted the credentials
REJECTED = "rejected"              # the registry refused them, or they lack a field any login needs
UNREACHABLE = "unreachable"        # the registry (or its token server) could not be reached at that address
ANONYMOUS_ONLY = "anonymous_only"  # the registry answers without credentials: there is nothing to check
NOT_VERIFIABLE = "not_verifiable"  # credentials are there, but this check cannot judge them (inputs, protocol)
NOT_CHECKED = "not_checked"        # nothing to check: no credentials, or a provider without a check
STATUSES = (ACCEPTED, REJECTED, UNREACHABLE, ANONYMOUS_ONLY, NOT_VERIFIABLE, NOT_CHECKED)


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


class Unreachable(Exception):
    """Raised when an address cannot be reached; `what` (registry, token server, ACR login server, Azure AD,
    AWS ECR endpoint) decides what the hint names."""

    def __init__(self, what, address, reason, message=None):
        super().__init__(message or "cannot reach %s %s (%s)" % (what, address, reason))
        self.what = what


class Incomplete(Exception):
    """The credentials lack a field (or a field cannot be decoded)."""


def require(credentials, provider, *fields):
    missing = [f for f in fields if not credentials.get(f)]
    if missing:
        raise Incomplete("the credentials of %s lack %s" % (provider, ', '.join(missing)))
    return [credentials[f] for f in fields]


def address_of(url):
    """scheme://host:port of a URL, the port always explicit (for messages)."""
    parts = urlsplit(url)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return "%s://%s" % (parts.scheme, host_of(url))
    host = parts.hostname or ""
    if ":" in host:  # IPv6 literal
        host = "[%s]" % (host,)
    return "%s://%s:%s" % (parts.scheme, host, port)


def host_of(url):
    """host[:port] of a URL, without any user:password@ part."""
    return urlsplit(url).netloc.rpartition("@")[2]


def base_url(address):
    """Normalise a registry address: https unless it says http, no /v2 suffix."""
    address = address.strip()
    if "://" not in address:
        address = "https://" + address
    address = address.rstrip("/")
    if address.endswith("/v2"):
        address = address[:-3].rstrip("/")
    return address


def network_reason(exc, timeout):
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


class Http:
    """requests with the caller's TLS and timeout settings; network errors
    become Unreachable naming the address."""

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
            raise from_none(Unreachable(what, address_of(url), network_reason(exc, self.timeout)))

    def close(self):
        if self.own_session:
            self.session.close()


def json_object(resp):
    try:
        data = resp.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def basic_auth(user, secret):
    return "Basic " + base64.b64encode(("%s:%s" % (user, secret)).encode("utf-8")).decode("ascii")
