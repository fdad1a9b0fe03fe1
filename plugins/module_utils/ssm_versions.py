# -*- coding: utf-8 -*-
# Copyright: (c) 2026, squirrel.ssm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What each line of SSM does that a client must live with, as measured on the real servers
(docs/compatibility.md). The collection's work-arounds and warnings read this table, nowhere else."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import binascii
import errno
import hashlib
import os
import re
import socket
import time

from ansible_collections.squirrel.ssm.plugins.module_utils.providers import PROVIDERS

# Fields SSM's web client puts into the auth it sends that are no credential: the name field of its "add a custom
# registry" form, sent with the rest of the form (tests/webui/payloads.json).
FORM_ARTEFACTS = ('newName',)

# POSTed before SSM's PATCH, so that no value of the old credentials stays stored (both versions accept it).
CLEARING_BODY = {'auth': {}}

# SSM v0.5's repository re-reads a row with populate('device') after POST and PATCH: the write has landed,
# the answer is a 500 with this message.
WRITE_DEFECT_MESSAGE = 'Cannot populate path'

# A short-lived custom registry whose create and delete make SSM reload its registries.
RELOAD_REGISTRY_PREFIX = 'squirrel-ssm-reload-'
RELOAD_REGISTRY_AUTH = {'url': 'https://reload.squirrel-ssm.invalid', 'login': 'squirrel-ssm',
                        'password': 'reload-trigger-not-a-secret'}
# Its name says until when its run may still use it and which process that is, so that another run can tell a row
# an interrupted run left behind (removed) from one a concurrent run is using (kept): squirrel-ssm-reload-<until,
# unix seconds>-<host: 6 hex of its name's SHA-1>-<pid>-<random>. Rows named without them (collection 1.0) are
# left-overs: their runs tolerate a row deleted under them.
RELOAD_NAME = re.compile(r'^%s(\d+)-([0-9a-f]{6})-(\d+)-[0-9a-f]+$' % re.escape(RELOAD_REGISTRY_PREFIX))


def _host():
    return hashlib.sha1(socket.gethostname().encode('utf-8')).hexdigest()[:6]


def reload_row_name(hold_seconds):
    """The name of a new short-lived row, used for at most hold_seconds from now."""
    return '%s%d-%s-%d-%s' % (RELOAD_REGISTRY_PREFIX, int(time.time() + hold_seconds) + 1, _host(), os.getpid(),
                              binascii.hexlify(os.urandom(2)).decode('ascii'))


def is_reload_row(name):
    return str(name).startswith(RELOAD_REGISTRY_PREFIX)


def abandoned(name):
    """Whether no run can be using this short-lived row any more: its time is over, or the process that created
    it, on this host, is gone (killed: the next run, on the same runner, need not wait)."""
    found = RELOAD_NAME.match(str(name))
    if not found:
        return True
    until, host, pid = int(found.group(1)), found.group(2), int(found.group(3))
    if time.time() > until:
        return True
    if host != _host() or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except OSError as e:
        # EPERM: a process of another user has this pid; only ESRCH says none has.
        return e.errno == errno.ESRCH
    return False


class VersionFacts:
    def __init__(self, api, label, reloads_after=(), uses_hub_credentials=True, registers_last_custom_only=False,
                 fails_to_register=(), accepts_api_key=True, reload_by='create-delete', crash_measured_on=None,
                 checks_fields_at_registration=False):
        self.api = api
        self.label = label
        self.reloads_after = reloads_after
        self.reload_by = reload_by
        self.uses_hub_credentials = uses_hub_credentials
        self.registers_last_custom_only = registers_last_custom_only
        # Providers whose rows with credentials this version fails to register: their update checks then use
        # neither the credentials nor an anonymous registry of the provider (tests/realssm/FACTS.md, d.).
        self.fails_to_register = tuple(fails_to_register)
        self.accepts_api_key = accepts_api_key
        # The release on which a stored field of the wrong type was measured to stop registration and keep
        # SSM from starting (tests/realssm/FACTS.md, c.); None where it was not measured.
        self.crash_measured_on = crash_measured_on
        # v0.1 passes every stored field through the provider's schema when it registers a row: a field it does
        # not know (the UI's newName) or an empty string (a field typed in the UI and emptied) and the row is not
        # registered. v0.5 reads the fields it needs and ignores the others (tests/realssm/FACTS.md, d.).
        self.checks_fields_at_registration = checks_fields_at_registration

    def needs_reload(self, methods):
        """Whether writes with these methods leave SSM using registries it loaded before them."""
        return any(method not in self.reloads_after for method in methods)


VERSIONS = {
    '0.5': VersionFacts(
        '0.5', 'SSM v0.5 (measured on v0.5.2 and head a9076215)',
        # POST and PATCH answer 500 after their write, before SSM's reload: only PUT and DELETE reload.
        reloads_after=('PUT', 'DELETE'), uses_hub_credentials=False, crash_measured_on='v0.5.2'),
    '0.1': VersionFacts(
        '0.1', 'SSM v0.1 (measured on v0.1.30)',
        reloads_after=('POST', 'PATCH', 'PUT'), registers_last_custom_only=True,
        accepts_api_key=False, checks_fields_at_registration=True,
        # v0.1 passes the row's name with its credentials to the provider's schema, and these three schemas do not
        # allow it: `Error when registering component gitlab/gitlab ("name" is not allowed)`, the same for ghcr and
        # lscr (measured on v0.1.30).
        fails_to_register=('ghcr', 'gitlab', 'lscr'),
        # A create would register the short-lived registry as the one custom registry v0.1 uses, and its
        # delete does not reload: reset an anonymous row again instead, which changes nothing and reloads.
        reload_by='reset-anonymous'),
}


def facts(api_version):
    return VERSIONS.get(api_version or '0.5', VERSIONS['0.5'])


class Reading:
    """What an SSM version makes of a stored auth: `fields`, the credentials it uses, spelt as the collection
    declares and stores them; `ignored`, the stored fields it reads past (form artefacts, empty strings: v0.5);
    `refused`, the stored fields that make it fail to register the row (the same, on v0.1)."""

    def __init__(self, fields, ignored, refused):
        self.fields, self.ignored, self.refused = fields, ignored, refused


def _accepts_empty(provider, field, given):
    # The url/login/password/auth providers' schemas allow auth "" when no login is given (v0.1.30's code).
    return field == 'auth' and 'url' in PROVIDERS[provider].fields and given.get('login') is None


def read_stored(provider, auth, version):
    """The one reading of a stored auth that comparison, diagnosis and export share (docs/compatibility.md, "Rows
    written by SSM's web UI"): a form artefact or an empty string is no credential, and a deprecated spelling SSM
    still reads (hub's token) is the field itself. Rows of providers SSM no longer knows are read as they are."""
    given = dict((key, value) for key, value in (auth if isinstance(auth, dict) else {}).items() if value is not None)
    spec = PROVIDERS.get(provider)
    if spec is None:
        return Reading(given, [], [])
    fields, ignored, refused = {}, [], []
    for key, value in given.items():
        if key in FORM_ARTEFACTS or value == '':
            if version.checks_fields_at_registration and not (value == '' and _accepts_empty(provider, key, given)):
                refused.append(key)
            else:
                ignored.append(key)
            continue
        fields[key] = value
    for name, field in spec.fields.items():
        for alias in field.deprecated_aliases:
            if alias in fields and name not in fields:
                fields[name] = fields.pop(alias)
    return Reading(fields, sorted(ignored), sorted(refused))


def uses_as_wanted(provider, auth, wanted, version):
    """Whether SSM, storing `auth`, uses exactly the `wanted` credentials (so that converging writes nothing)."""
    reading = read_stored(provider, auth, version)
    return not reading.refused and reading.fields == wanted


def cleared(auth):
    """Whether stored credentials hold no value at all (what a reset must leave behind)."""
    return not any(value not in (None, '') for value in (auth or {}).values())


def is_write_defect(error):
    return getattr(error, 'status', None) == 500 and WRITE_DEFECT_MESSAGE in str(error)


def limits_of(version, wanted):
    """Warnings for a declared set that runs into what this SSM version cannot do."""
    present = [one for one in wanted if one.state == 'present' and one.credentials is not None]
    warnings = []
    customs = [one.name for one in present if one.provider == 'custom']
    if version.registers_last_custom_only and len(customs) > 1:
        warnings.append('%s registers only the last custom registry it stores: %s are all stored, but its update '
                        'checks use only one of them' % (version.label, ', '.join(customs)))
    failing = sorted(set(one.provider for one in present if one.provider in version.fails_to_register))
    if failing:
        warnings.append('%s fails to register %s with credentials ("name" is not allowed): they are stored, but its '
                        'update checks do not use them' % (version.label, ', '.join(failing)))
    if not version.uses_hub_credentials and any(one.provider == 'hub' for one in present):
        warnings.append('%s does not use stored Docker Hub credentials in its update checks (it always uses an '
                        'anonymous Docker Hub): they are stored all the same' % version.label)
    return warnings
