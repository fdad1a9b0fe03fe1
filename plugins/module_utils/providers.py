# -*- coding: utf-8 -*-
# Copyright: (c) 2026, squirrel.ssm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The per-provider credential rules of SSM: one table that validation, docs and tests read.

Each provider's rules are an Ansible argument spec, applied with ansible-core's own
ArgumentSpecValidator, so that messages read like Ansible's.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import binascii
import re

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.six.moves.urllib.parse import urlparse

COLLECTION = 'squirrel.ssm'
MASK = '********'


def _string(value):
    if isinstance(value, (dict, list, bool)) or value is None:
        raise TypeError('expected a string')
    value = str(value)
    if not value.strip():
        raise ValueError('it is empty')
    return value


def text(value):
    """A non-empty string without surrounding whitespace: SSM stores anything, and an empty field or a token
    with the newline of `echo`, a file or a YAML block scalar silently breaks update checks. Refused rather than
    stripped: what is stored is then exactly what was given, and a password may not be changed behind its
    owner's back."""
    value = _string(value)
    if value != value.strip():
        raise ValueError('it has leading or trailing whitespace (a newline from a file, echo or a YAML block '
                         'scalar?): SSM would store it as part of the value; remove it, for example with | trim')
    return value


def http_url(value):
    value = text(value)
    parsed = urlparse(value)
    if parsed.scheme.lower() not in ('http', 'https') or not parsed.hostname:
        raise ValueError('it is not an http:// or https:// URL')
    if parsed.query or parsed.fragment or '?' in value or '#' in value:
        raise ValueError('it has a query (?...) or a fragment (#...): SSM appends paths to it, give the base URL')
    if parsed.username is not None or parsed.password is not None:
        raise ValueError('it holds a user:password@ part: give the credentials in their own fields')
    return value


class EndsInV2(ValueError):
    """A custom registry URL that ends in /v2 (the diagnosis reports it with a code of its own)."""


def registry_url(value):
    """custom: SSM appends /v2 itself, so a URL that already ends in /v2 would be asked for /v2/v2."""
    value = http_url(value)
    if value.rstrip('/').lower().endswith('/v2'):
        raise EndsInV2('it ends in /v2, which SSM appends itself: give the URL without /v2')
    return value


def registry_address(value):
    """Gitea and Forgejo: SSM prefixes https:// when the scheme is missing, so a bare host is fine."""
    value = text(value)
    if '://' in value:
        return http_url(value)
    if not re.match(r'^[A-Za-z0-9.-]+(:\d+)?(/[^\s?#]*)?$', value):
        raise ValueError('it is neither a host name nor an http(s) URL')
    return value


def docker_auth(value):
    """Base64 of login:password, as in ~/.docker/config.json. The message never shows the value."""
    value = text(value)
    try:
        decoded = base64.b64decode(value, validate=True).decode('utf-8')
    except (binascii.Error, ValueError):
        raise ValueError('it is not valid base64')
    login, sep, password = decoded.partition(':')
    if not sep or not login or not password:
        raise ValueError('it does not decode to login:password')
    return value


def aws_region(value):
    value = text(value)
    if not re.match(r'^[a-z]{2}(-[a-z]+)+-\d+$', value):
        raise ValueError('it is not an AWS region code such as eu-west-1')
    return value


def aws_access_key_id(value):
    value = text(value)
    if not re.match(r'^[A-Z0-9]{16,128}$', value):
        raise ValueError('it is not an AWS access key ID (16 or more upper-case letters and digits, e.g. AKIA...)')
    if value.startswith('ASIA'):
        raise ValueError('it is a temporary key (ASIA...); SSM cannot store the session token it needs, use a long-term key (AKIA...)')
    return value


def email(value):
    value = text(value)
    if not re.match(r'^[^@\s]+@[^@\s]+\.[^@\s]+$', value):
        raise ValueError('it is not an e-mail address (the client_email of the service-account key)')
    return value


def pem_private_key(value):
    value = _string(value).replace('\\n', '\n')  # a PEM key ends with a newline
    if not re.search(r'-----BEGIN [A-Z ]*PRIVATE KEY-----\s[\s\S]+\s-----END [A-Z ]*PRIVATE KEY-----', value):
        raise ValueError('it is not a PEM private key (the private_key of the service-account key)')
    return value


def quay_part(value):
    value = text(value)
    if '+' in value:
        raise ValueError("it contains '+': a robot account name namespace+account goes into namespace and account separately")
    return value


class Field:
    def __init__(self, description, required=False, secret=False, type=text, default=None, aliases=None,
                 deprecated_aliases=None):
        self.description = description
        self.required = required
        self.secret = secret
        self.type = type
        self.default = default
        self.aliases = aliases or []
        self.deprecated_aliases = deprecated_aliases or []

    def spec(self):
        spec = dict(type=self.type, required=self.required, no_log=self.secret)
        if self.default is not None:
            spec['default'] = self.default
        if self.aliases:
            spec['aliases'] = list(self.aliases)
        if self.deprecated_aliases:
            spec['deprecated_aliases'] = [dict(name=name, version='2.0.0', collection_name=COLLECTION)
                                          for name in self.deprecated_aliases]
        return spec


class Provider:
    def __init__(self, name, title, fields, builtin=True, check='', required_together=None,
                 mutually_exclusive=None, required_one_of=None):
        self.name = name
        self.title = title
        self.fields = fields
        self.builtin = builtin
        self.check = check
        self.required_together = required_together or []
        self.mutually_exclusive = mutually_exclusive or []
        self.required_one_of = required_one_of or []

    def argument_spec(self):
        return dict((name, field.spec()) for name, field in self.fields.items())

    def validator(self):
        return ArgumentSpecValidator(self.argument_spec(), mutually_exclusive=self.mutually_exclusive,
                                     required_together=self.required_together,
                                     required_one_of=self.required_one_of)

    @property
    def secret_fields(self):
        return set(name for name, field in self.fields.items() if field.secret)

    def accepted_names(self):
        names = set(self.fields)
        for field in self.fields.values():
            names.update(field.aliases)
        return names


def _url_login_password_auth(url_field, anonymous=False):
    """custom, gitea and forgejo share their fields: login+password together, or auth alone. Only a custom
    registry may be anonymous (url alone): a Gitea or Forgejo row without credentials serves nothing."""
    return dict(
        required_one_of=[] if anonymous else [['login', 'auth']],
        fields=dict(
            url=url_field,
            login=Field('Login (user name) on the registry; goes with I(password).'),
            password=Field('Password or token of I(login).', secret=True),
            auth=Field('Base64 of C(login:password), instead of I(login) and I(password).', secret=True,
                       type=docker_auth),
        ),
        required_together=[['login', 'password']],
        mutually_exclusive=[['auth', 'login'], ['auth', 'password']],
    )


PROVIDERS = dict((provider.name, provider) for provider in [
    Provider('acr', 'ACR (Azure Container Registry)', dict(
        clientid=Field('Service principal client ID.', required=True),
        clientsecret=Field('Service principal secret.', required=True, secret=True),
    )),
    Provider('custom', 'CUSTOM (self-hosted Docker registry)', builtin=False, **_url_login_password_auth(
        Field('Registry URL, for example C(http://localhost:5000); SSM appends C(/v2) itself.', required=True,
              type=registry_url), anonymous=True)),
    Provider('ecr', 'ECR (Amazon Elastic Container Registry)', dict(
        accesskeyid=Field('AWS access key ID (the guide calls it I(accesskey)).', required=True,
                          type=aws_access_key_id, aliases=['accesskey']),
        secretaccesskey=Field('AWS secret access key.', required=True, secret=True),
        region=Field('AWS region code, for example C(eu-west-1).', required=True, type=aws_region),
    )),
    Provider('forgejo', 'Forgejo', **_url_login_password_auth(
        Field('Forgejo URL, for example C(https://forgejo.example.com); SSM adds C(https://) when the scheme '
              'is missing.', required=True, type=registry_address))),
    Provider('gcr', 'GCR (Google Container Registry)', dict(
        clientemail=Field('Service account C(client_email).', required=True, type=email),
        privatekey=Field('Service account C(private_key) (PEM).', required=True, secret=True, type=pem_private_key),
    )),
    Provider('ghcr', 'GHCR (GitHub Container Registry)', dict(
        username=Field('GitHub user name.', required=True),
        token=Field('GitHub personal access token (C(read:packages)).', required=True, secret=True),
    )),
    Provider('gitea', 'Gitea', **_url_login_password_auth(
        Field('Gitea URL, for example C(https://gitea.example.com); SSM adds C(https://) when the scheme '
              'is missing.', required=True, type=registry_address))),
    Provider('gitlab', 'GitLab Container Registry', dict(
        url=Field('Registry base URL.', type=http_url, default='https://registry.gitlab.com'),
        authurl=Field('GitLab authentication base URL.', type=http_url, default='https://gitlab.com'),
        token=Field('GitLab personal access token (C(read_registry)).', required=True, secret=True),
    )),
    Provider('hub', 'HUB (Docker Hub)', dict(
        login=Field('Docker ID (not the e-mail address); goes with I(password).'),
        password=Field('Docker Hub access token or password. I(token) is its deprecated spelling.', secret=True,
                       aliases=['token'], deprecated_aliases=['token']),
        auth=Field('Base64 of C(login:password), instead of I(login) and I(password).', secret=True,
                   type=docker_auth),
    ), required_together=[['login', 'password']], mutually_exclusive=[['auth', 'login'], ['auth', 'password']],
        required_one_of=[['login', 'auth']]),
    Provider('lscr', 'LSCR (LinuxServer Container Registry)', dict(
        username=Field('GitHub user name.', required=True),
        token=Field('GitHub personal access token (C(read:packages)).', required=True, secret=True),
    )),
    Provider('quay', 'Quay', dict(
        namespace=Field('Robot account namespace (the part before C(+)).', required=True, type=quay_part),
        account=Field('Robot account name (the part after C(+)).', required=True, type=quay_part),
        token=Field('Robot account token.', required=True, secret=True),
    )),
])

BUILTIN_PROVIDERS = sorted(name for name, provider in PROVIDERS.items() if provider.builtin)

# Names a field or alias has in any provider. A name is secret in every provider that has it.
SECRET_NAMES = set()
for _provider in PROVIDERS.values():
    for _name, _field in _provider.fields.items():
        if _field.secret:
            SECRET_NAMES.update([_name] + _field.aliases)
KNOWN_NAMES = set()
for _provider in PROVIDERS.values():
    KNOWN_NAMES.update(_provider.accepted_names())


def credentials_argument_spec():
    """What the module accepts under credentials before it knows the provider: every name of
    every provider, with no_log on the secret ones, so that no failure can echo a secret."""
    return dict((name, dict(type='raw', no_log=name in SECRET_NAMES)) for name in sorted(KNOWN_NAMES))


class InvalidCredentials(Exception):
    pass


_CONVERT = re.compile(r"^argument '(\w+)' is of type \S+ and we were unable to convert to \w+: (.*)$", re.S)


def _own_words(provider, message):
    """Ansible's `argument 'x' is of type str and we were unable to convert to text: it is empty` in the
    collection's words: `x: it is empty`; an empty secret most often comes from an unset environment variable
    (lookup('ansible.builtin.env', ...) gives '' for one), and the message says so."""
    match = _CONVERT.match(message)
    if not match:
        return message
    name, reason = match.groups()
    if reason == 'it is empty':
        reason += (" (an unset environment variable? lookup('ansible.builtin.env', 'NAME') gives an empty "
                   "string for a variable that is not set)")
    return '%s: %s' % (name, reason)


def validate_credentials(provider_name, credentials, where):
    """Return (stored fields, deprecations) or raise InvalidCredentials naming `where`, the provider and the field."""
    provider = PROVIDERS[provider_name]
    given = dict((key, value) for key, value in (credentials or {}).items() if value is not None)
    for name, field in sorted(provider.fields.items()):
        spellings = [spelling for spelling in [name] + field.aliases if spelling in given]
        if len(spellings) > 1:
            # Ansible would keep one of them silently; which one the user meant is not ours to guess.
            raise InvalidCredentials('%s: credentials for provider %s: %s are two spellings of the same field %s; '
                                     'give only one' % (where, provider_name, ' and '.join(spellings), name))
    result = provider.validator().validate(given)
    if result.error_messages:
        messages = []
        for error in result.errors:
            message = str(error)
            if type(error).__name__ == 'UnsupportedError':
                unknown = ', '.join(sorted(set(given) - provider.accepted_names()))
                message = 'field(s) %s do not belong to %s; its fields are %s' % (
                    unknown, provider_name, ', '.join(sorted(provider.fields)))
            messages.append(_own_words(provider, message))
        raise InvalidCredentials('%s: credentials for provider %s: %s' % (where, provider_name, '; '.join(messages)))
    wanted = dict((name, result.validated_parameters[name]) for name in provider.fields
                  if result.validated_parameters.get(name) is not None)
    return wanted, result._deprecations


def shown(provider_name, name, value):
    """Whether a stored field may be shown as it is: only a field the table lists as not secret for this
    provider, holding a plain value. Anything else (a secret, a field another client wrote, any field of a
    provider SSM no longer knows, a nested value) is masked: SSM returns stored credentials in clear."""
    provider = PROVIDERS.get(provider_name)
    field = provider.fields.get(name) if provider is not None else None
    return field is not None and not field.secret and isinstance(value, (str, int, float, bool))


URL_TYPES = (http_url, registry_url, registry_address)
# The user:password@ part of a URL, with or without a scheme (gitea and forgejo store bare hosts too).
USERINFO = re.compile(r'^((?:[A-Za-z][A-Za-z0-9+.-]*:)?//|)([^/?#]*@)')


def without_userinfo(value):
    """A URL with its user:password@ part masked: the collection refuses one, but another client may store it."""
    return USERINFO.sub(lambda found: found.group(1) + MASK + '@', value) if isinstance(value, str) else value


def userinfo_values(credentials):
    """The user:password@ parts of every field of a task's credentials: refused, but echoed by Ansible's
    invocation at -v unless they are no_log values."""
    found = []
    url_fields = set(name for provider in PROVIDERS.values() for name, field in provider.fields.items()
                     if field.type in URL_TYPES)
    for name, value in (credentials.items() if isinstance(credentials, dict) else []):
        userinfo = USERINFO.match(value) if name in url_fields and isinstance(value, str) else None
        if userinfo:
            found.append(userinfo.group(2)[:-1])
            found.extend(part for part in userinfo.group(2)[:-1].split(':')[1:] if part)
    return found


def mask(provider_name, credentials):
    """Stored or wanted credentials with every value masked but those of the provider's known harmless
    fields (URLs without their user:password@ part); rows of providers SSM no longer knows show only their field
    names."""
    if not isinstance(credentials, dict):
        return {} if not credentials else MASK
    return dict((name, _url_shown(provider_name, name, value) if shown(provider_name, name, value) else MASK)
                for name, value in credentials.items())


def _url_shown(provider_name, name, value):
    return without_userinfo(value) if PROVIDERS[provider_name].fields[name].type in URL_TYPES else value


def secret_values(provider_name, credentials):
    provider = PROVIDERS.get(provider_name)
    names = provider.secret_fields if provider else SECRET_NAMES | (set(credentials or {}) - KNOWN_NAMES)
    return [value for name, value in (credentials or {}).items() if name in names and isinstance(value, str) and value]


def diff_view(provider_name, credentials, compared_to=None):
    """Masked credentials for a diff: a secret shows that it changes, never its value."""
    view = mask(provider_name, credentials)
    if compared_to is not None:
        for name in view:
            if view[name] == MASK and credentials.get(name) != compared_to.get(name):
                view[name] = MASK + ' (changed)'
    return view


def credentials_doc():
    """The DOCUMENTATION of the credentials option, from the table (used by the doc fragment)."""
    providers_of = {}
    for provider in PROVIDERS.values():
        for name, field in provider.fields.items():
            providers_of.setdefault(name, []).append(provider.name)
            for alias in field.aliases:
                providers_of.setdefault(alias, []).append(provider.name)
    lines = []
    for name in sorted(KNOWN_NAMES):
        descriptions = []
        for provider_name in providers_of[name]:
            provider = PROVIDERS[provider_name]
            field = provider.fields.get(name)
            if field is None:
                target = [n for n, f in provider.fields.items() if name in f.aliases][0]
                descriptions.append('%s: alias of I(%s)%s.' % (
                    provider_name, target, ' (deprecated)' if name in provider.fields[target].deprecated_aliases else ''))
            else:
                descriptions.append('%s: %s%s%s' % (
                    provider_name, field.description, ' Required.' if field.required else '',
                    ' Default C(%s).' % field.default if field.default else ''))
        if name in SECRET_NAMES:
            descriptions.append('Secret: never logged nor returned.')
        lines.append((name, descriptions))
    return lines
