# -*- coding: utf-8 -*-
# Copyright: (c) 2026, squirrel.ssm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one way this collection talks to SSM: connection options, HTTP, authentication and error mapping."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import json
import math
import os
import re
import time
import traceback

from ansible.module_utils.basic import env_fallback
from ansible.module_utils.six.moves.urllib.parse import quote, quote_plus, urlsplit

from ansible_collections.squirrel.ssm.plugins.module_utils.ssm_versions import (
    RELOAD_REGISTRY_AUTH, facts, reload_row_name)

REQUESTS_IMPORT_ERROR = None
try:
    import requests
except ImportError:
    requests = None
    REQUESTS_IMPORT_ERROR = traceback.format_exc()

CONNECTION_SPEC = dict(
    ssm_url=dict(type='str', required=True, fallback=(env_fallback, ['SSM_URL'])),
    ssm_api_key=dict(type='str', no_log=True, fallback=(env_fallback, ['SSM_API_KEY'])),
    ssm_username=dict(type='str', fallback=(env_fallback, ['SSM_USERNAME'])),
    ssm_password=dict(type='str', no_log=True, fallback=(env_fallback, ['SSM_PASSWORD'])),
    validate_certs=dict(type='bool', default=True, fallback=(env_fallback, ['SSM_VALIDATE_CERTS'])),
    ca_path=dict(type='path', fallback=(env_fallback, ['SSM_CA_PATH'])),
    timeout=dict(type='float', default=30, fallback=(env_fallback, ['SSM_TIMEOUT'])),
    ssm_api_version=dict(type='str', default='auto', choices=['auto', '0.5', '0.1'],
                         fallback=(env_fallback, ['SSM_API_VERSION'])),
)
CONNECTION_REQUIRED_ONE_OF = [['ssm_api_key', 'ssm_username']]
CONNECTION_REQUIRED_TOGETHER = [['ssm_username', 'ssm_password']]

RELOAD_AUTH_SCHEME = [{'name': 'url', 'type': 'string'}, {'name': 'login', 'type': 'string'},
                      {'name': 'password', 'type': 'string'}]
REGISTRY_PATHS = {'0.5': '/container-registries', '0.1': '/containers/registries'}
RETRY_STATUS = (429, 500, 502, 503, 504)
# SSM's answer to a write of a name it does not store (v0.1 and v0.5); a 404 "Cannot DELETE ..." is a path SSM's
# proxy did not route (a name with "/"), not a row that is gone.
NOT_FOUND = 'Registry not found'


class SSMError(Exception):
    """A failure explained for the user; `status` is the HTTP status, or 'timeout', 'connection' (dropped or
    reset: a blip, retried) or 'unreachable' (refused, or the name does not resolve: not retried; nothing
    was sent, so a write cannot have landed)."""

    def __init__(self, message, status=None):
        super(SSMError, self).__init__(message)
        self.status = status


def secret_forms(secret):
    """Every spelling in which a library may print a secret: as is, escaped (repr, JSON), URL-encoded, and
    base64-encoded at any alignment (a Basic header holds base64 of user:secret)."""
    forms = set([secret, repr(secret)[1:-1], json.dumps(secret)[1:-1], quote(secret, safe=''), quote_plus(secret),
                 quote(secret)])
    raw = secret.encode('utf-8')
    for shift in range(3):
        encoded = base64.b64encode(b'\0' * shift + raw).decode('ascii').rstrip('=')
        end = len(encoded) - (len(encoded) % 4 or 4) if (shift + len(raw)) % 3 else len(encoded)
        middle = encoded[4 if shift else 0:end]
        if len(middle) >= 4:
            forms.add(middle)
    return sorted((form for form in forms if len(form) >= 3), key=len, reverse=True)


def scrub(message, secrets):
    """The one filter for text taken from a library (requests, urllib3, boto3, google-auth, azure): no
    secret may leave in any encoding. Short secrets (under 3 characters) are not searched for: they would
    garble words, and messages are built from addresses and statuses in the first place."""
    message = str(message)
    for secret in secrets:
        if isinstance(secret, str) and len(secret.strip()) >= 3:
            for value in set([secret, secret.strip()]):
                for form in secret_forms(value):
                    message = message.replace(form, '********')
    return message


def tls_verify(validate_certs, ca_path):
    """The one TLS rule, for SSM and for the registry checks: validate_certs false turns the check off, whatever
    the CA path; otherwise the CA bundle of the CA path when given, else the default trust store (certifi, or
    REQUESTS_CA_BUNDLE when set)."""
    if not validate_certs:
        return False
    return ca_path or True


class ConnectionInputError(Exception):
    """A connection option that cannot work; the message names it and never shows a secret."""


def check_connection(params):
    """Check and normalise the connection options of params (a task's parameters) before any request (and before
    any header is built); the dict returned holds those options only.

    ssm_url and ssm_username lose surrounding whitespace; so does ssm_api_key, which travels in an HTTP header
    that cannot carry it (a key read with `echo KEY | ansible-vault encrypt_string` or a YAML | block ends in a
    newline). ssm_password is sent as it is: whitespace may be part of a password."""
    params = dict((key, params[key]) for key in CONNECTION_SPEC if key in params)
    url = (params.get('ssm_url') or '').strip()
    parts = urlsplit(url)
    try:
        port_ok = parts.port is None or 0 < parts.port < 65536
    except ValueError:
        port_ok = False
    if not url:
        raise ConnectionInputError('ssm_url (SSM_URL) is empty: give the address of SSM\'s web UI, for example '
                                   'http://ssm.example:8000')
    if parts.scheme.lower() not in ('http', 'https') or not parts.hostname:
        raise ConnectionInputError('ssm_url (SSM_URL) must be an http:// or https:// URL with a host, for example '
                                   'http://ssm.example:8000')
    if not port_ok:
        raise ConnectionInputError('ssm_url (SSM_URL) has a port that is not a number between 1 and 65535')
    if parts.query or parts.fragment or parts.username is not None or parts.password is not None:
        raise ConnectionInputError('ssm_url (SSM_URL) must be the plain address of SSM\'s web UI: no ?query, '
                                   '#fragment or user:password@ (give ssm_api_key or ssm_username and ssm_password)')
    params['ssm_url'] = url
    key = params.get('ssm_api_key')
    if key is not None:
        key = key.strip()
        if not key and not params.get('ssm_username'):
            raise ConnectionInputError('ssm_api_key (SSM_API_KEY) is empty: give the key of Settings > Authentication '
                                       '> API KEY, or log in with ssm_username and ssm_password (SSM_USERNAME, '
                                       'SSM_PASSWORD) instead')
        if not re.match(r'^[\x21-\x7e]*$', key):
            raise ConnectionInputError('ssm_api_key (SSM_API_KEY) holds characters an HTTP header cannot carry '
                                       '(spaces, control or non-ASCII characters): is it the key of Settings > '
                                       'Authentication > API KEY?')
        params['ssm_api_key'] = key or None
    if params.get('ssm_username') is not None:
        params['ssm_username'] = params['ssm_username'].strip()
    timeout = params.get('timeout')
    if timeout is not None and not (timeout > 0 and math.isfinite(timeout)):
        raise ConnectionInputError('timeout (SSM_TIMEOUT) must be a number of seconds greater than 0, got %s'
                                   % timeout)
    ca_path = params.get('ca_path')
    if ca_path and params.get('validate_certs', True):
        if not os.path.exists(ca_path):
            raise ConnectionInputError('ca_path (SSM_CA_PATH) %s does not exist: give the CA bundle (PEM) that '
                                       'signed the certificate of SSM' % ca_path)
        if not os.access(ca_path, os.R_OK):
            raise ConnectionInputError('ca_path (SSM_CA_PATH) %s cannot be read' % ca_path)
    return params


class SSMClient:
    """One requests session (keep-alive) for a whole module run."""

    def __init__(self, ssm_url, ssm_api_key=None, ssm_username=None, ssm_password=None, validate_certs=True,
                 ca_path=None, timeout=30, ssm_api_version='auto', warn=None, **ignored):
        url = ssm_url.rstrip('/')
        self.api = url if url.endswith('/api') else url + '/api'
        self.api_key = ssm_api_key
        self.username = ssm_username
        self.password = ssm_password
        self.timeout = timeout
        # Blips are retried for a bounded time: long enough for a restart of SSM, short for a pipeline.
        self.retry_seconds = min(20, 3 * timeout)
        self.version = None if ssm_api_version == 'auto' else ssm_api_version
        self.logged_in = False
        self.session = requests.Session()
        # Passed on every request: requests lets REQUESTS_CA_BUNDLE override a session's own verify.
        self.verify = tls_verify(validate_certs, ca_path)
        self.session.headers['Accept'] = 'application/json'
        if not validate_certs:
            requests.packages.urllib3.disable_warnings()  # one warning of ours instead of one per request
            if warn:
                warn('validate_certs is false: the TLS certificate of %s is not checked%s' % (
                    self.api, ' (ca_path is ignored)' if ca_path else ''))
        if self.api_key and not self.username:
            self.session.headers['Authorization'] = 'Bearer %s' % self.api_key

    # -- HTTP ---------------------------------------------------------------------------------

    def _reason(self, exc):
        """The short cause of a library error, scrubbed of every connection secret in any encoding."""
        return scrub(_reason(exc), [self.api_key, self.password])

    def _send(self, method, path, body=None):
        url = self.api + path
        try:
            return self.session.request(method, url, json=body, timeout=self.timeout, verify=self.verify)
        except requests.exceptions.SSLError as e:
            if _plain_http_answer(e):
                raise SSMError('SSM at %s does not speak TLS on that port (it answered in plain HTTP): should '
                               'ssm_url (SSM_URL) start with http:// rather than https://?' % self.api)
            raise SSMError('TLS error talking to SSM at %s: %s. Give the CA bundle that signed its certificate '
                           'in ca_path (SSM_CA_PATH), or set validate_certs: false (SSM_VALIDATE_CERTS)'
                           % (self.api, self._reason(e)))
        except requests.exceptions.Timeout:
            raise SSMError('SSM at %s did not answer %s %s within %s seconds: check that SSM is up, or raise '
                           'timeout (SSM_TIMEOUT)' % (self.api, method, path, self.timeout), status='timeout')
        except requests.exceptions.ConnectionError as e:
            reason = self._reason(e)
            # Nothing listens, or the name does not resolve: no retry can help, fail at once. A dropped or reset
            # connection is a blip, retried like a time-out.
            status = 'unreachable' if reason in UNREACHABLE_REASONS else 'connection'
            raise SSMError('cannot reach SSM at %s: %s. Check ssm_url (SSM_URL)' % (self.api, reason), status=status)
        except requests.exceptions.RequestException as e:
            raise SSMError('request to SSM at %s failed: %s' % (self.api, self._reason(e)))
        except (UnicodeError, ValueError) as e:
            # http.client refuses a header or URL it cannot encode; check_connection should have caught it.
            raise SSMError('request to SSM at %s could not be sent (%s): check ssm_url (SSM_URL) and '
                           'ssm_api_key (SSM_API_KEY)' % (self.api, e.__class__.__name__))

    def request(self, method, path, body=None):
        """Send one call and return the envelope's data. Reads are retried on blips; a write
        is retried only by callers that re-read first (it may have landed)."""
        # A DELETE is idempotent: sent again after it landed, it finds the row gone (see delete()).
        retry = method in ('GET', 'DELETE')
        if not self.logged_in and self.username:
            self.login()
        deadline = time.time() + self.retry_seconds
        delay = 0.5
        while True:
            try:
                response = self._send(method, path, body)
                if response.status_code not in RETRY_STATUS:
                    return self._data(method, path, response)
                error = self._refusal(method, path, response)
            except SSMError as e:
                if e.status not in ('connection', 'timeout'):
                    raise
                error = e
            if not retry or time.time() + delay > deadline:
                raise error
            time.sleep(delay)
            delay = min(delay * 2, 4)

    def login(self):
        response = self._send('POST', '/users/login', dict(username=self.username, password=self.password))
        if response.status_code == 401 and _html(response):
            raise self._unauthorized(response)
        if response.status_code == 401:
            message = 'SSM rejected the login of %s (401 %s): check ssm_username (SSM_USERNAME) and ssm_password ' \
                      '(SSM_PASSWORD)' % (self.username, scrub(_message(response) or 'Unauthorized', [self.password]))
            if self.password != self.password.strip():
                message += '; ssm_password starts or ends with whitespace (a newline from echo, a file or a YAML ' \
                           'block?), which is sent as part of it'
            raise SSMError(message, status=401)
        self._data('POST', '/users/login', response)
        self.logged_in = True

    def _data(self, method, path, response):
        if response.status_code == 401:
            raise self._unauthorized(response)
        if response.status_code == 404 and re.search(r'Cannot %s /api/' % method, response.text or ''):
            # SSM's web proxy removes /api before SSM's server sees a path: a server that sees it is reached
            # without the proxy (its own port, 3000).
            raise SSMError('SSM at %s answered 404 "Cannot %s /api%s": ssm_url (SSM_URL) %s does not look like '
                           'SSM\'s web address. It reaches SSM\'s server itself, which serves its API without the '
                           '/api prefix that SSM\'s web proxy removes. Give the address a browser opens SSM\'s web '
                           'UI at (its proxy, for example http://ssm.example:8000), not the server\'s own port (3000)'
                           % (self.api, method, path, self.api[:-len('/api')]), status='not_web_address')
        try:
            envelope = response.json()
        except ValueError:
            envelope = None
        if not isinstance(envelope, dict) or 'success' not in envelope:
            kind = 'an HTML page' if 'html' in response.headers.get('Content-Type', '') else 'something else'
            raise SSMError('SSM at %s answered %s %s with %s (HTTP %s), not SSM\'s API JSON: check that ssm_url '
                           '(SSM_URL) is the address of SSM\'s web UI (its API is served under /api)'
                           % (self.api, method, path, kind, response.status_code), status=response.status_code)
        if response.status_code >= 400 or not envelope.get('success'):
            raise self._refusal(method, path, response)
        return envelope.get('data')

    def _refusal(self, method, path, response):
        return SSMError('SSM refused %s %s (HTTP %s): %s' % (
            method, path, response.status_code,
            scrub(_message(response) or response.reason, [self.api_key, self.password])), status=response.status_code)

    def _unauthorized(self, response):
        if _html(response):
            # SSM answers 401 in JSON (v0.5) or as bare text (v0.1): an HTML page comes from something in front of it.
            return SSMError('%s answered 401 with an HTML page, not SSM\'s API: something in front of SSM (a reverse '
                            'proxy or single sign-on gateway with its own login) refused the request before it reached '
                            'SSM. Point ssm_url (SSM_URL) at an address that lets /api through to SSM, or let the '
                            'proxy pass the API\'s requests; the %s is not what was refused'
                            % (self.api, 'login' if self.username else 'API key'), status=401)
        if self.username:
            return SSMError('SSM at %s answered 401 for the session of %s: check ssm_username (SSM_USERNAME) and '
                            'ssm_password (SSM_PASSWORD)' % (self.api, self.username), status=401)
        message = 'SSM at %s rejected the API key (401): check ssm_api_key (SSM_API_KEY); every user finds ' \
                  'theirs in Settings > Authentication > API KEY' % self.api
        if not facts(self.version).accepts_api_key or not response.headers.get('Content-Type', '').startswith('application/json'):
            message += '. SSM v0.1 accepts no API key on its registry routes: give ssm_username and ssm_password'
        return SSMError(message, status=401)

    # -- registries ---------------------------------------------------------------------------

    def _registry_path(self, name=None):
        path = REGISTRY_PATHS[self.version or '0.5']
        return path if name is None else '%s/%s' % (path, quote(name, safe=''))

    def registries(self):
        """Every stored row, keyed by name. SSM v0.1 is recognised by a 404 on the v0.5 path."""
        try:
            data = self.request('GET', self._registry_path())
        except SSMError as e:
            if e.status != 404:
                raise
            if self.version is not None:
                raise self._wrong_pin()
            self.version = '0.1'
            data = self.request('GET', self._registry_path())
        if self.version is None:
            self.version = '0.5'
        rows = (data or {}).get('registries') if isinstance(data, dict) else data
        if not isinstance(rows, list):
            raise SSMError('SSM at %s answered the registry list without a list of registries' % self.api)
        return dict((row.get('name'), row) for row in rows if isinstance(row, dict))

    def _wrong_pin(self):
        """ssm_api_version names an API this SSM does not serve: say so, and what the other path shows, rather
        than the server's own 404 text (which names a container or a route, not the pin)."""
        pinned = self.version
        other = '0.1' if pinned == '0.5' else '0.5'
        try:
            self.request('GET', REGISTRY_PATHS[other])
            looks = 'it answers like SSM %s (its registry list is at %s)' % (other, REGISTRY_PATHS[other])
            advice = "set ssm_api_version to '%s', or leave it out to detect the API" % other
        except SSMError:
            looks = 'it does not answer on the path of SSM %s (%s) either' % (other, REGISTRY_PATHS[other])
            advice = "check that ssm_url (SSM_URL) is the address of SSM's web UI"
        return SSMError("ssm_api_version (SSM_API_VERSION) is pinned to '%s', but SSM at %s has no registry API of SSM "
                        "%s (404 on %s); %s: %s" % (pinned, self.api, pinned, REGISTRY_PATHS[pinned], looks, advice),
                        status=404)

    def create(self, name, auth, auth_scheme):
        self.request('PUT', self._registry_path(name), dict(auth=auth, authScheme=auth_scheme))

    def update(self, name, auth):
        self.request('POST', self._registry_path(name), dict(auth=auth))

    def reset(self, name):
        self.request('PATCH', self._registry_path(name))

    def delete(self, name):
        """Delete a row; False when it was already gone (another run, or this DELETE sent again, removed it)."""
        try:
            self.request('DELETE', self._registry_path(name))
        except SSMError as e:
            if e.status == 404 and NOT_FOUND in str(e):
                return False
            raise
        return True

    def reload_registries(self, rows):
        """Make SSM load its registries again, by a write that changes nothing it uses (ssm_versions)."""
        if facts(self.version).reload_by == 'reset-anonymous':
            anonymous = sorted(name for name, row in rows.items() if not row.get('authSet'))
            if anonymous:
                self.reset(anonymous[0])
                return anonymous[0]
            with_credentials = sorted(rows)[0]
            self.update(with_credentials, rows[with_credentials].get('auth') or {})
            return with_credentials
        # SSM v0.5 loads them only at start and after a registry is created or deleted: create a short-lived
        # custom registry, clearly named, and delete it, whatever happens in between. Its name holds until when this
        # run may use it: the PUT, then the DELETE with its retries.
        name = reload_row_name(2 * self.timeout + self.retry_seconds + 60)
        try:
            self.create(name, dict(RELOAD_REGISTRY_AUTH), RELOAD_AUTH_SCHEME)
        except SSMError as e:
            created = e
        else:
            created = None
        try:
            self.delete(name)  # also after a failed PUT, which may have landed; False: it never did
        except SSMError as e:
            raise SSMError('%s the short-lived registry %s, but deleting it failed: %s. SSM registered it as a '
                           'custom registry; the next run of squirrel.ssm.ssm_registry removes it (or: '
                           'squirrel.ssm.ssm_registry: {provider: custom, name: %s, state: absent})' % (
                               'SSM may have loaded its registries again by creating' if created else
                               'SSM loaded its registries again (the new credentials are in use) by creating',
                               name, e, name), status=e.status)
        if created is not None:
            raise SSMError('making SSM load its registries again failed: creating the short-lived registry %s: %s. SSM '
                           'uses the new credentials after its next restart, or the next time a registry is created '
                           'or deleted' % (name, created), status=created.status)
        return name


def _html(response):
    return 'html' in response.headers.get('Content-Type', '')


def _message(response):
    try:
        message = response.json().get('message')
    except (ValueError, AttributeError):
        return response.text.strip()[:200] if 'html' not in response.headers.get('Content-Type', '') else ''
    return '; '.join(message) if isinstance(message, list) else message


UNREACHABLE_REASONS = ('connection refused', 'name or service not known', 'temporary failure in name resolution',
                       'no route to host', 'nodename nor servname', 'name does not resolve')


def _plain_http_answer(exc):
    """https:// against a plain-HTTP server: OpenSSL reads the HTTP answer as a broken TLS record."""
    text = str(exc)
    return any(marker in text for marker in ('WRONG_VERSION_NUMBER', 'wrong version number', 'record layer failure',
                                             'packet length too long', 'http request'))


def _reason(exc):
    """The innermost cause of a requests error, shorter than its repr chain."""
    text = str(exc)
    for marker in ('Connection refused', 'Name or service not known', 'Temporary failure in name resolution',
                   'No route to host', 'certificate verify failed', 'timed out', 'Remote end closed connection',
                   'Connection reset', 'Connection aborted', 'nodename nor servname'):
        if marker in text:
            return marker.lower()
    if 'NameResolutionError' in text or 'getaddrinfo failed' in text or 'No address associated' in text:
        return 'name does not resolve'
    return text
