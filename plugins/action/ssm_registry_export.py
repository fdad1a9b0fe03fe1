# -*- coding: utf-8 -*-
# Copyright: (c) 2026, squirrel.ssm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""squirrel.ssm.ssm_registry_export: what one SSM stores, written as the registries role's input, secrets
vault-encrypted. It runs on the controller, where Ansible's vault secrets are (the module file documents why)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import re
import tempfile

import yaml

from ansible.errors import AnsibleActionFail, AnsibleError
from ansible.module_utils.common.text.converters import to_bytes, to_text
from ansible.parsing.vault import VaultLib, VaultSecret, match_encrypt_secret
from ansible.plugins.action import ActionBase

from ansible_collections.squirrel.ssm.plugins.module_utils.diagnosis import diagnose
from ansible_collections.squirrel.ssm.plugins.module_utils.providers import PROVIDERS
from ansible_collections.squirrel.ssm.plugins.module_utils.registries import PlanError, resolve
from ansible_collections.squirrel.ssm.plugins.module_utils.ssm_api import (
    CONNECTION_REQUIRED_ONE_OF, CONNECTION_REQUIRED_TOGETHER, REQUESTS_IMPORT_ERROR,
    ConnectionInputError, SSMClient, SSMError, check_connection, scrub)
from ansible_collections.squirrel.ssm.plugins.module_utils.ssm_versions import facts, read_stored
from ansible_collections.squirrel.ssm.plugins.modules.ssm_registry_export import EXPORT_REQUIRED_IF, argument_spec

# Problems that keep a row out of the file: the role would refuse the row, converging would change or hide what SSM
# stores, or the file would have to invent a value the row lacks (gitlab_url_missing: the defaults are gitlab.com's,
# which a self-hosted GitLab is not). The others (credentials_unused, not_registered, custom_ignored) are noted on
# the registry's comment line.
BLOCKING = ('reload_registry', 'legacy_provider', 'leftover_secret', 'unreachable_name', 'missing_field', 'wrong_type',
            'invalid_value', 'unknown_field', 'conflicting_fields', 'url_ends_in_v2', 'gitlab_url_missing')
MASKED_VAULT = '!vault |\n  ********'


class Entry:
    """One registry of the file: its name, provider, fields in the provider table's order, and its comment."""

    def __init__(self, name, provider, fields, notes):
        self.name, self.provider, self.fields, self.notes = name, provider, fields, notes

    @property
    def secret_fields(self):
        return [field for field in self.fields if field in PROVIDERS[self.provider].secret_fields]

    def comment(self):
        what = PROVIDERS[self.provider].title
        url = self.fields.get('url')
        text = '%s: %s%s' % (self.name, what, ' at %s' % url if url and self.provider != 'gitlab' else '')
        return one_line(text + (' -- %s' % '; '.join(self.notes) if self.notes else ''))


def one_line(text):
    """Text for a YAML comment: a line break in a stored name or URL would end the comment."""
    return ' '.join(str(text).split())


def skip(name, row, codes, reason):
    return dict(name=name, provider=row.get('provider'), codes=codes, reason=reason)


def classify(rows, version):
    """(entries, skipped, anonymous): what the file declares, what it leaves out and why, and the built-in rows
    that need no entry. `rows` as SSMClient.registries() returns them, `version` a VersionFacts."""
    problems = diagnose(rows, version)
    entries, skipped, anonymous = [], [], []
    for name, row in sorted(rows.items(), key=lambda item: str(item[0])):
        provider = row.get('provider')
        blocking = [one for one in problems[name] if one['code'] in BLOCKING]
        if blocking:
            skipped.append(skip(name, row, sorted(set(one['code'] for one in blocking)), ' | '.join(
                '%s: %s (fix: %s)' % (one['code'], one['message'], one['fix']) for one in blocking)))
            continue
        if not row.get('authSet'):
            if PROVIDERS[provider].builtin:
                anonymous.append(name)
            else:
                skipped.append(skip(name, row, ['no_credentials'], 'a custom registry without credentials: the '
                                    'role cannot declare it (a custom registry needs at least its url); give it '
                                    'credentials, or delete it'))
            continue
        reading = read_stored(provider, row.get('auth'), version)
        item = dict(provider=provider, credentials=reading.fields)
        if not PROVIDERS[provider].builtin:
            item['name'] = name
        try:
            # The converge's own validation: the file holds no entry the role would refuse.
            fields = resolve(item).credentials
        except PlanError as e:
            values = [v for v in (row.get('auth') or {}).values() if isinstance(v, str) and v]
            skipped.append(skip(name, row, ['converge_refuses'], 'converge_refuses: the role would refuse this row as '
                                'SSM stores it: %s (fix: change the row in SSM\'s web UI, then export again)'
                                % scrub(str(e), values)))
            continue
        notes = ['%s: %s' % (one['code'], one['message']) for one in problems[name]]
        if fields != reading.fields:
            notes.append('converging stores it in the form above')
        elif reading.refused:
            notes.append('converging stores it in the form above, without %s' % ', '.join(reading.refused))
        ordered = dict((field, fields[field]) for field in PROVIDERS[provider].fields if field in fields)
        entries.append(Entry(name, provider, ordered, notes))
    return entries, skipped, anonymous


def scalar(value):
    """A YAML scalar that reads back as exactly this string: plain when YAML keeps it as it is, else JSON's
    double-quoted form (valid YAML), tagged !unsafe when it holds what Ansible would take for a template."""
    if re.match(r'^[A-Za-z0-9][\w.@/:+-]*$', value) and ': ' not in value and yaml.safe_load(value) == value:
        return value
    return ('!unsafe ' if re.search(r'{{|{%|{#', value) else '') + json.dumps(value)


def indented(block, spaces):
    return '\n'.join(' ' * spaces + line for line in block.splitlines())


def variable_names(entries):
    """{(registry, field): variable} for every secret, vault_ssm_<name>_<field>, sanitised and unique."""
    names, taken = {}, set()
    for entry in entries:
        for field in entry.secret_fields:
            base = 'vault_ssm_%s_%s' % (re.sub(r'[^a-z0-9]+', '_', entry.name.lower()).strip('_') or 'registry', field)
            name, number = base, 2
            while name in taken:
                name, number = '%s_%d' % (base, number), number + 1
            taken.add(name)
            names[(entry.name, field)] = name
    return names


def render(entries, skipped, anonymous, origin, secret_value):
    """The vars file. `secret_value(entry, field)` gives the YAML of one secret (an encrypted block or a reference)."""
    lines = ['# The container registries of the SSM at %s, as code (squirrel.ssm.ssm_registry_export).' % one_line(origin),
             '# Review, commit, then converge: ansible-playbook squirrel.ssm.configure_registries -e @<this file>',
             '# (with --vault-id or --vault-password-file for the encrypted values). Guide: docs/adopt.md.',
             '---',
             '# false: converging changes only the registries listed below; rows left out (listed at the end) and',
             '# rows added to SSM later are not touched. Set true once reviewed to make SSM match this list exactly',
             '# (custom registries not listed deleted, built-in ones not listed reset, the rows left out included).',
             'ssm_registries_purge: false']
    if not entries:
        lines.append('ssm_registries: []')
    else:
        lines.append('ssm_registries:')
    for entry in entries:
        lines.append('  # ' + entry.comment())
        lines.append('  - provider: %s' % entry.provider)
        if not PROVIDERS[entry.provider].builtin:
            lines.append('    name: %s' % scalar(entry.name))
        lines.append('    credentials:')
        for field, value in entry.fields.items():
            if field in entry.secret_fields:
                lines.append('      %s: %s' % (field, secret_value(entry, field)))
            else:
                lines.append('      %s: %s' % (field, scalar(value)))
    if anonymous:
        lines.append(one_line('# Built-in registries without credentials (anonymous, nothing to declare): %s'
                              % ', '.join(anonymous)))
    if skipped:
        lines.append('# Left out: the collection cannot manage these rows as SSM stores them.')
        for one in skipped:
            # quoted where it is not plain, so that a name's surrounding spaces show
            lines.append(one_line('# - %s (provider %s):' % (scalar(str(one['name'])), one['provider'])))
            lines.extend('#     %s' % one_line(part) for part in one['reason'].split(' | '))
    return '\n'.join(lines) + '\n'


def write_private(path, data, force):
    """Write bytes with mode 0600: a new file never replaces one (O_EXCL) unless force, and a forced one replaces
    the old file whole (a temporary file renamed), so that no reader ever sees half of it."""
    if not force:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    else:
        descriptor, temporary = tempfile.mkstemp(dir=os.path.dirname(path), prefix='.%s.' % os.path.basename(path))
    with os.fdopen(descriptor, 'wb') as handle:
        handle.write(data)
    if force:
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    os.chmod(path, 0o600)


class _Tagged(yaml.SafeLoader):
    """Reads a file this export wrote without decrypting it: a !vault value becomes ('vault', its text)."""


_Tagged.add_constructor('!vault', lambda loader, node: ('vault', loader.construct_scalar(node)))
_Tagged.add_constructor('!unsafe', lambda loader, node: loader.construct_scalar(node))


def previous_ciphertexts(path, header):
    """{(registry, field): vault text} of the file an earlier export wrote at path, for the values encrypted the
    way this run would (same header); empty when there is none or it cannot be read."""
    try:
        with open(path) as handle:
            data = yaml.load(handle, Loader=_Tagged)
    except (IOError, OSError, yaml.YAMLError):
        return {}
    found = {}
    for registry in (data.get('ssm_registries') if isinstance(data, dict) else None) or []:
        if not isinstance(registry, dict) or not isinstance(registry.get('credentials'), dict):
            continue
        for field, value in registry['credentials'].items():
            if isinstance(value, tuple) and value[1].splitlines()[:1] == [header]:
                found[(registry.get('name') or registry.get('provider'), field)] = value[1].rstrip('\n')
    return found


def read_bytes(path):
    """The bytes of a file, or None when there is none to read."""
    try:
        with open(path, 'rb') as handle:
            return handle.read()
    except (IOError, OSError):
        return None


def up_to_date(path, data):
    """Whether the file already holds exactly these bytes, private (mode 0600)."""
    return read_bytes(path) == data and os.stat(path).st_mode & 0o777 == 0o600


def read_text(path):
    data = read_bytes(path)
    return None if data is None else to_text(data)


def reused(vault, ciphertext, plaintext):
    """Whether an earlier encrypted value holds exactly this plaintext (then it is kept, so that a new export of
    unchanged secrets diffs as unchanged: every encryption salts anew)."""
    if ciphertext is None:
        return False
    try:
        return to_text(vault.decrypt(ciphertext)) == plaintext
    except AnsibleError:
        return False


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        try:
            dummy, args = self.validate_argument_spec(
                argument_spec=argument_spec(), required_if=EXPORT_REQUIRED_IF,
                required_one_of=CONNECTION_REQUIRED_ONE_OF, required_together=CONNECTION_REQUIRED_TOGETHER)
        except AnsibleActionFail as e:
            return dict(result, failed=True, msg=str(e.message if hasattr(e, 'message') else e))
        try:
            result.update(self._export(args))
        except AnsibleActionFail as e:
            result.update(failed=True, msg=to_text(e.message))
        return result

    def _fail(self, message):
        raise AnsibleActionFail(message)

    def _targets(self, args):
        paths = [os.path.abspath(args['path'])]
        if args['secrets'] == 'file':
            paths.append(os.path.abspath(args['secrets_path']))
            if paths[0] == paths[1]:
                self._fail('secrets_path must differ from path (%s)' % paths[0])
        elif args.get('secrets_path'):
            self._fail('secrets_path is used only with secrets: file')
        if args['force']:
            # A link (a file kept in a repository, linked from where playbooks read it) stays a link: its target is
            # written, as an editor would.
            paths = [os.path.realpath(path) for path in paths]
            if len(paths) == 2 and paths[0] == paths[1]:
                self._fail('secrets_path and path lead to the same file (%s)' % paths[0])
        for option, path in zip(('path', 'secrets_path'), paths):
            if not os.path.isdir(os.path.dirname(path)):
                self._fail('%s %s: the directory %s does not exist' % (option, path, os.path.dirname(path)))
            if os.path.isdir(path):
                self._fail('%s %s is a directory: give a file name' % (option, path))
            if os.path.lexists(path) and not args['force']:
                self._fail('%s %s exists: the export does not overwrite it (it may hold your edits); give force: true '
                           'to replace it, or another path' % (option, path))
        return paths

    def _vault_secret(self, args):
        """(vault id, VaultSecret): vault_password, else the secret ansible-playbook loaded for vault_id."""
        if args.get('vault_password') is not None:
            if not args['vault_password']:
                self._fail('vault_password is empty')
            return args.get('vault_id') or 'default', VaultSecret(to_bytes(args['vault_password']))
        loaded = list(getattr(getattr(self._loader, '_vault', None), 'secrets', None) or [])
        if not loaded:
            self._fail('no vault secret to encrypt the secrets with: run ansible-playbook with --vault-id NAME@prompt '
                       '(or NAME@FILE) or --vault-password-file FILE, or give vault_password')
        try:
            found = match_encrypt_secret(loaded, args.get('vault_id'))
        except AnsibleError:
            found = None
        if not found:
            self._fail('vault_id %s: no such vault secret was loaded (loaded: %s); give it with --vault-id %s@prompt'
                       % (args.get('vault_id'), ', '.join(sorted(set(str(v) for v, s in loaded))), args.get('vault_id')))
        return found

    def _export(self, args):
        if REQUESTS_IMPORT_ERROR:
            self._fail('squirrel.ssm.ssm_registry_export needs the Python library requests on the controller '
                       '(pip install requests)')
        try:
            connection = check_connection(args)
        except ConnectionInputError as e:
            self._fail(str(e))
        vault_id, secret = self._vault_secret(args)
        paths = self._targets(args)
        warnings = []
        client = SSMClient(warn=warnings.append, **connection)
        try:
            rows = client.registries()
        except SSMError as e:
            self._fail(str(e))
        entries, skipped, anonymous = classify(rows, facts(client.version))
        vault = VaultLib([(vault_id, secret)])
        label = vault_id if vault_id != 'default' else None
        check = self._task.check_mode
        references = variable_names(entries)

        def encrypted(plaintext, previous=None):
            if reused(vault, previous, plaintext):
                return previous
            return to_text(vault.encrypt(plaintext, secret, vault_id=label)).rstrip('\n')

        header = encrypted('header').splitlines()[0]
        before = previous_ciphertexts(paths[0], header) if args['force'] else {}

        def inline(entry, field):
            return '!vault |\n' + indented(encrypted(entry.fields[field], before.get((entry.name, field))), 8)

        def masked(entry, field):
            return MASKED_VAULT

        def reference(entry, field):
            return json.dumps('{{ %s }}' % references[(entry.name, field)])

        def content(secret_value):
            return render(entries, skipped, anonymous, connection['ssm_url'], secret_value)

        files = [(paths[0], to_bytes(content(inline if args['secrets'] == 'vault' else reference)))]
        if args['secrets'] == 'file':
            plaintext = '# The secrets of %s (squirrel.ssm.ssm_registry_export).\n' % os.path.basename(paths[0])
            plaintext += ''.join('%s: %s\n' % (references[key], scalar(entry.fields[key[1]]))
                                 for entry in entries for key in sorted(references) if key[0] == entry.name)
            plaintext += '' if references else '{}\n'  # still a vars file that -e @ takes
            previous = read_text(paths[1]) if args['force'] else None
            if previous is not None and previous.splitlines()[:1] != [header]:
                previous = None
            files.append((paths[1], to_bytes(encrypted(plaintext, previous and previous.rstrip('\n')) + '\n')))
        # Exported again over an unchanged SSM: the same bytes (kept ciphertexts), nothing to write.
        changed = not all(up_to_date(path, data) for path, data in files)
        outcome = dict(changed=changed, path=paths[0], exported=[entry.name for entry in entries], left_out=skipped,
                       anonymous=anonymous, secrets_encrypted=len(references), ssm_api_version=client.version)
        if warnings:
            outcome['warnings'] = warnings
        if args['secrets'] == 'file':
            outcome['secrets_path'] = paths[1]
        if check:
            outcome['preview'] = content(masked if args['secrets'] == 'vault' else reference)
            outcome['msg'] = 'check mode: would write %s' % ' and '.join(paths) if changed else 'up to date'
            return outcome
        if not changed:
            outcome['msg'] = '%s up to date' % ' and '.join(paths)
            return outcome
        for path, data in reversed(files):  # the secrets file first: the vars file refers to it
            write_private(path, data, args['force'])
        outcome['msg'] = 'wrote %s' % ' and '.join(paths)
        return outcome
