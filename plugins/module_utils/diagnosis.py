# -*- coding: utf-8 -*-
# Copyright: (c) 2026, squirrel.ssm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The health check of what SSM stores: every rule comes from the provider table (providers.py, applied with
its own argument-spec validation) and the version facts (ssm_versions.py). docs/problems.md lists the codes.

No message holds a stored value: a field is named, never shown (SSM returns secrets in clear)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import re

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.squirrel.ssm.plugins.module_utils.providers import PROVIDERS, EndsInV2
from ansible_collections.squirrel.ssm.plugins.module_utils.ssm_versions import (
    FORM_ARTEFACTS, cleared, is_reload_row, read_stored)

SEVERITIES = ('info', 'warning', 'error')
DOCS = 'docs/problems.md'

# code: (severity, short title) -- the one list of codes; docs/problems.md has a section for each.
CODES = {
    'missing_field': ('error', 'fields the provider needs are missing'),
    'wrong_type': ('error', 'a field is not a string'),
    'invalid_value': ('warning', 'a field does not hold what the provider expects'),
    'unknown_field': ('warning', 'fields the provider does not read'),
    'conflicting_fields': ('warning', 'fields that exclude each other'),
    'gitlab_url_missing': ('error', 'a field whose default SSM does not apply is missing'),
    'url_ends_in_v2': ('error', 'a custom registry URL ends in /v2'),
    'legacy_provider': ('warning', 'a provider SSM no longer knows'),
    'leftover_secret': ('warning', 'a reset left credentials stored'),
    'credentials_unused': ('warning', 'credentials this SSM version stores but does not use'),
    'custom_ignored': ('warning', 'a custom registry this SSM version ignores'),
    'not_registered': ('error', 'a registry this SSM version fails to register'),
    'unreachable_name': ('warning', "a name SSM's web proxy cannot route"),
    'reload_registry': ('warning', 'a short-lived reload registry an interrupted run left behind'),
    'credentials_rejected': ('error', 'the registry refused the stored credentials'),
    'registry_unreachable': ('warning', 'the registry could not be reached to check the credentials'),
    'anonymous_only': ('info', 'the registry answers without credentials'),
    'not_verifiable': ('info', 'the stored credentials could not be checked'),
}

# The structural rules of the validator, by the class of error it reports.
_STRUCTURAL = {
    'RequiredError': 'missing_field',
    'MissingParameterError': 'missing_field',
    'RequiredOneOfError': 'missing_field',
    'RequiredTogetherError': 'missing_field',
    'MutuallyExclusiveError': 'conflicting_fields',
    'UnsupportedError': 'unknown_field',
}


def at_least(severity, threshold):
    return SEVERITIES.index(severity) >= SEVERITIES.index(threshold)


def problem(code, message, fix, severity=None):
    return dict(code=code, severity=severity or CODES[code][0], message=message, fix=fix)


_PLAIN = re.compile(r'^[A-Za-z_][A-Za-z0-9_.+-]*$')
# Plain scalars YAML 1.1 (PyYAML, so Ansible) reads as something other than the string.
_NOT_STRINGS = ('true', 'false', 'yes', 'no', 'on', 'off', 'null', 'y', 'n')
# Ansible templates any string of a task that holds these: a stored value holding them is marked !unsafe.
_JINJA = ('{{', '{%', '{#')


def _yaml(value):
    """A flow-style YAML one-liner that Ansible reads back as `value`: names and simple words plain, anything
    else (URLs, spaces, placeholders such as <token>) double-quoted, so that a value filled in for a placeholder
    may hold ':', '#' or ','; a value Jinja would template is marked !unsafe, which Ansible takes as it is."""
    if isinstance(value, dict):
        return '{' + ', '.join('%s: %s' % (key, _yaml(inner)) for key, inner in value.items()) + '}'
    if isinstance(value, bool):
        return 'true' if value else 'false'
    value = str(value)
    if _PLAIN.match(value) and value.lower() not in _NOT_STRINGS:
        return value
    quoted = json.dumps(value, ensure_ascii=False)
    return '!unsafe ' + quoted if any(mark in value for mark in _JINJA) else quoted


def addressable(name):
    """Whether squirrel.ssm.ssm_registry can write to a row of this name (registries.resolve refuses the others)."""
    return isinstance(name, str) and bool(name) and name == name.strip() and '/' not in name


def task(provider, name, comment=None, **args):
    """The fix as a task: one line that is a task as printed (paste it under `tasks:` after `- `); what else
    may be done goes into a YAML comment, so the line stays a task."""
    body = dict(provider=provider)
    if not PROVIDERS.get(provider) or not PROVIDERS[provider].builtin:
        body['name'] = name
    body.update(args)
    line = 'squirrel.ssm.ssm_registry: ' + _yaml(body)
    return line + '  # ' + comment if comment else line


def _usable(field, value):
    """The stored value if the fix may carry it as it is, after dropping a /v2 that SSM appends itself; else None."""
    if not isinstance(value, str):
        return None
    try:
        return field.type(value)
    except EndsInV2:
        value = value.rstrip('/')[:-len('/v2')]
        return _usable(field, value)
    except (TypeError, ValueError):
        return None


def fix_credentials(provider, stored):
    """The credentials a fix sets: every field the provider needs, in the form the row has. The row's own value
    where it is not secret and valid (the user's url, login, namespace...), so following the fix changes only what
    is wrong; a placeholder (<password>) for each secret and for each value the row lacks or holds wrongly (a
    default SSM does not apply is not assumed: a self-hosted GitLab's authurl is not gitlab.com)."""
    spec = PROVIDERS[provider]
    stored = dict((key, value) for key, value in (stored if isinstance(stored, dict) else {}).items()
                  if value is not None)

    def stored_value(name):
        # Under the field's name, or a spelling the collection reads for it (ecr's accesskey, hub's token).
        field = spec.fields[name]
        for spelling in [name] + list(field.deprecated_aliases) + list(field.aliases):
            if spelling in stored:
                return stored[spelling]
        return None

    wanted = [name for name, field in spec.fields.items()
              if field.required or field.default is not None or stored_value(name) is not None]
    for pair in spec.mutually_exclusive:
        if all(name in wanted for name in pair):
            # The form that carries a value the user can see (login) is kept; base64 auth is dropped.
            secret = [name for name in pair if spec.fields[name].secret]
            wanted.remove(secret[0] if len(secret) == 1 else pair[0])
    for group in spec.required_one_of:
        if not any(name in wanted for name in group):
            wanted.append(group[0])
    for group in spec.required_together:
        if any(name in wanted for name in group):
            wanted.extend(name for name in group if name not in wanted)
    credentials = {}
    for name in spec.fields:
        if name not in wanted:
            continue
        field = spec.fields[name]
        value = None if field.secret else _usable(field, stored_value(name))
        credentials[name] = '<%s>' % name if value is None else value
    return credentials


def _set_again(provider, name, stored, comment=None, **extra):
    """The task that stores the row's credentials again, right (`comment`: a note after it, as a YAML comment)."""
    if not addressable(name):
        return _unaddressable(name)
    return task(provider, name, comment, credentials=fix_credentials(provider, stored), **extra)


def _state(provider, name, state, comment=None):
    return task(provider, name, comment, state=state) if addressable(name) else _unaddressable(name)


def _unaddressable(name):
    return ("delete the row %s in SSM's web UI (or its database) and create it again under a name without '/' and "
            "without surrounding spaces with squirrel.ssm.ssm_registry" % json.dumps(name))


def _stored_validator(spec):
    """The provider's rules as SSM reads a stored row: fields by their own names (the collection renames an
    alias before it stores it; only a deprecated spelling is still read by SSM), defaults not applied, types
    checked field by field (below)."""
    argument_spec = {}
    for name, field in spec.fields.items():
        argument_spec[name] = dict(type='raw', required=field.required)
        if field.deprecated_aliases:
            argument_spec[name]['aliases'] = list(field.deprecated_aliases)
    return ArgumentSpecValidator(argument_spec, mutually_exclusive=spec.mutually_exclusive,
                                 required_together=spec.required_together, required_one_of=spec.required_one_of)


def _refused(provider, name, reading, version):
    """The fields that make this version fail to register a row: what SSM's web form leaves in the auth it sends."""
    what = ['%s (the name field SSM\'s web form sends with the credentials)' % field if field in FORM_ARTEFACTS
            else '%s (stored empty: a field typed in SSM\'s web form and emptied again)' % field
            for field in reading.refused]
    message = ('%s fails to register %s: it checks every stored field with the %s schema when it registers the row, '
               'and refuses %s: its update checks do not use this registry'
               % (version.label, name, provider, ', '.join(what)))
    comment = 'the same credentials, stored without %s' % ', '.join(reading.refused)
    return problem('not_registered', message, _set_again(provider, name, reading.fields, comment))


def _not_registered(provider, name, version, can_anonymous):
    """A row of a provider this version fails to register with credentials, whatever they are. SSM registers an
    anonymous registry of the provider only where the row says it can be anonymous (canAnonymous): there a reset
    gives the update checks that one; elsewhere nothing on this version makes them use the provider."""
    message = '%s fails to register %s with credentials ("name" is not allowed): its update checks use neither ' \
              'these credentials nor %s' % (version.label, provider, 'the anonymous %s registry' % provider
                                            if can_anonymous else 'any other %s registry' % provider)
    if can_anonymous:
        return problem('not_registered', message, _state(provider, name, 'reset', 'the anonymous registry is then used'))
    return problem('not_registered', message + ' (SSM has no anonymous one)', _state(
        provider, name, 'reset', 'or keep them for SSM v0.5, which registers them'))


def _fields(provider, name, auth, version):
    """Missing, unknown, conflicting and ill-typed fields of a row SSM uses, read as this version reads them."""
    spec = PROVIDERS[provider]
    reading = read_stored(provider, auth, version)
    given = reading.fields
    fix = _set_again(provider, name, given)
    # A provider this version fails to register in any case has its own not_registered (diagnose): storing the
    # fields again without the refused ones would not make SSM use the row.
    refused = reading.refused and provider not in version.fails_to_register
    found = [_refused(provider, name, reading, version)] if refused else []
    for error in _stored_validator(spec).validate(given).errors:
        code = _STRUCTURAL.get(type(error).__name__)
        if code is None:
            continue
        if code == 'unknown_field':
            read = set(spec.fields) | set(a for f in spec.fields.values() for a in f.deprecated_aliases)
            unknown = sorted(set(given) - read)
            message = '%s does not read the field(s) %s; its fields are %s' % (
                provider, ', '.join(unknown), ', '.join(sorted(spec.fields)))
        else:
            message = '%s: %s' % (provider, error)
        found.append(problem(code, message, fix))
    for field, value in sorted(given.items()):
        rule = spec.fields.get(field)
        if rule is None:
            continue
        if not isinstance(value, str):
            crash = ('; measured on %s: such a row stops the registration of every row after it, and SSM does not '
                     'start again after a restart' % version.crash_measured_on) if version.crash_measured_on else ''
            found.append(problem('wrong_type', '%s field %s is stored as a %s, not a string: SSM calls string '
                                               'methods on it and its registration throws, which can crash SSM%s'
                                 % (provider, field, type(value).__name__, crash), fix))
            continue
        try:
            rule.type(value)
        except EndsInV2 as e:
            found.append(problem('url_ends_in_v2', '%s field %s: %s; SSM would ask for /v2/v2 and every update check '
                                                   'of this registry fails' % (provider, field, e), fix))
        except (TypeError, ValueError) as e:
            found.append(problem('invalid_value', '%s field %s: %s' % (provider, field, e), fix))
    missing = [field for field, rule in sorted(spec.fields.items()) if rule.default is not None and field not in given]
    if missing:
        found.append(problem('gitlab_url_missing', '%s has no %s stored: SSM reads them as stored and does not apply '
                                                   'the defaults (%s)' % (
                                                       provider, ' and '.join(missing),
                                                       ', '.join(spec.fields[m].default for m in missing)), fix))
    return found


def diagnose(rows, version):
    """The problems of every stored row: {name: [problem, ...]}. `rows` in SSM's order (name -> row, as GET
    lists them: that order decides which custom registry v0.1 uses), `version` a VersionFacts."""
    result = dict((name, []) for name in rows)
    customs_in_use = [name for name, row in rows.items() if row.get('provider') == 'custom' and row.get('authSet')]
    for name, row in rows.items():
        found = result[name]
        provider, auth, auth_set = row.get('provider'), row.get('auth'), bool(row.get('authSet'))
        known = provider in PROVIDERS
        if is_reload_row(name):
            found.append(problem('reload_registry', '%s is a short-lived custom registry the collection creates and '
                                                    'deletes to make SSM load its registries, left behind by a run '
                                                    'that was interrupted (or in use by a run at this moment): SSM '
                                                    'registered it as a custom registry that does not exist' % name,
                                 _state('custom', name, 'absent', 'or let the next run of squirrel.ssm.ssm_registry '
                                                                  'remove it')))
            continue
        if '/' in str(name):
            found.append(problem('unreachable_name', 'the name %s contains "/": SSM\'s web proxy decodes %%2F and SSM '
                                                     'answers 404, so no client can change or delete this row through '
                                                     'SSM\'s address' % name,
                                 _unaddressable(name)))
        if not known:
            found.append(problem(
                'legacy_provider',
                'provider %s is not one SSM still knows (a row left by an older version)%s' % (
                    provider, ': with credentials set, SSM fails to register it, which stops the registration of '
                              'every row after it' if auth_set else ''),
                "delete the row %s from SSM's database (the registry collection); the collection does not write to "
                "rows of unknown providers" % json.dumps(name), severity='error' if auth_set else None))
        if not auth_set and not cleared(auth if isinstance(auth, dict) else {'value': auth}):
            found.append(problem(
                'leftover_secret', 'SSM does not use credentials for %s (auth_set false), but still stores values of '
                                   'them, in clear (SSM\'s own reset keeps them)' % name,
                _state(provider, name, 'reset') if known else
                "delete the row %s from SSM's database (the collection does not write to rows of unknown providers)"
                % json.dumps(name)))
        if not known or not auth_set:
            continue
        found.extend(_fields(provider, name, auth, version))
        if provider == 'hub' and not version.uses_hub_credentials:
            found.append(problem('credentials_unused', '%s stores these Docker Hub credentials but never uses them: its '
                                                       'update checks always use an anonymous Docker Hub' % version.label,
                                 _state('hub', name, 'reset', 'or keep them for a later SSM')))
        if provider in version.fails_to_register:
            found.append(_not_registered(provider, name, version, bool(row.get('canAnonymous'))))
        if provider == 'custom' and version.registers_last_custom_only and name in customs_in_use[:-1]:
            found.append(problem('custom_ignored', '%s registers only the last custom registry it stores (%s): the '
                                                   'update checks never use %s' % (
                                                       version.label, customs_in_use[-1], name),
                                 _state('custom', name, 'absent', 'or upgrade SSM to v0.5')))
    return result


# What a credential check (registry_login's status) adds to a row: its problem code, or none.
VERIFY_CODES = {
    'rejected': 'credentials_rejected',
    'unreachable': 'registry_unreachable',
    'anonymous_only': 'anonymous_only',
    'not_verifiable': 'not_verifiable',
}


def verification_problems(provider, name, status, message, stored=None):
    """The problems a credential check adds (ssm_registry_info's verify_credentials); `status` is the check's
    verify_status (accepted, rejected, unreachable, anonymous_only, not_verifiable, not_checked), `stored` the
    row's auth (its non-secret values go into the fix)."""
    code = VERIFY_CODES.get(status)
    if code == 'anonymous_only':
        return [problem(code, 'the %s registry answers without credentials, so the stored ones could not be '
                              'checked: %s' % (provider, message),
                        'nothing to do if the registry is meant to be open; otherwise check its authentication')]
    if code == 'registry_unreachable':
        return [problem(code, 'the %s registry could not be reached: %s' % (provider, message),
                        'check the registry address and the network from this host')]
    if code == 'credentials_rejected':
        return [problem(code, 'the %s registry refused the stored credentials: %s' % (provider, message),
                        # The new secret is checked against the registry before it is stored.
                        _set_again(provider, name, stored, verify_credentials=True) if provider in PROVIDERS
                        else 'set valid credentials')]
    if code == 'not_verifiable':
        return [problem(code, 'the stored %s credentials were not checked: %s' % (provider, message),
                        'check them with squirrel.ssm.ssm_registry verify_credentials and the inputs it needs '
                        '(acr_login_server, registry_url)')]
    return []


def count(problems, threshold='info'):
    return sum(1 for found in problems for one in found if at_least(one['severity'], threshold))
