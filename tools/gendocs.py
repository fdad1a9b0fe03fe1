"""Write the parts of the docs that come from the provider table: the credentials doc fragment and the
field tables of docs/providers/*.md. `--check` fails when they are stale (the unit tests run it)."""

import copy
import importlib.util
import os
import re
import sys

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FRAGMENT = os.path.join(ROOT, 'plugins', 'doc_fragments', 'credentials.py')
PAGES = os.path.join(ROOT, 'docs', 'providers')
FIELDS_START, FIELDS_END = '<!-- fields:start (tools/gendocs.py) -->', '<!-- fields:end -->'


def load_providers():
    spec = importlib.util.spec_from_file_location('providers', os.path.join(ROOT, 'plugins', 'module_utils', 'providers.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fragment_text(providers):
    suboptions = {}
    for name, descriptions in providers.credentials_doc():
        suboptions[name] = dict(description=descriptions, type='raw')
    credentials = dict(
        description=[
            'The fields SSM stores for the provider, named exactly as SSM and its guide name them.',
            'Each provider accepts only its own fields; they are checked before any request to SSM, and a bad '
            'field fails the task naming the provider and the field.',
            'Secret fields are never logged, returned, nor shown in a diff.',
        ] + ['%s: %s.' % (p.name, ', '.join('%s%s' % (f, ' (secret)' if p.fields[f].secret else '')
                                            for f in sorted(p.fields)))
             for p in providers.PROVIDERS.values()],
        type='dict', suboptions=suboptions)
    registries = dict(
        description=[
            'A whole set of registries, managed in one task with one read of SSM.',
            'Every item is checked before the first write; one bad item means nothing is written.',
            'Mutually exclusive with O(provider), O(name), O(state), O(credentials) and the check inputs.',
        ],
        type='list', elements='dict', suboptions=dict(
            provider=dict(description=['The provider of the registry.'], type='str', required=True,
                          choices=sorted(providers.PROVIDERS)),
            name=dict(description=['Name in SSM; defaults to the provider, required for C(custom).'], type='str'),
            state=dict(description=['V(present), V(reset) or V(absent), as O(state).'], type='str',
                       default='present', choices=['present', 'reset', 'absent']),
            credentials=dict(description=['The fields of the provider, as O(credentials).'], type='dict',
                             suboptions=copy.deepcopy(suboptions)),
            registry_url=dict(description=['As O(registry_url), for this item.'], type='str'),
            acr_login_server=dict(description=['As O(acr_login_server), for this item.'], type='str'),
            acr_tenant_id=dict(description=['As O(acr_tenant_id), for this item.'], type='str'),
            acr_authority_host=dict(description=['As O(acr_authority_host), for this item.'], type='str'),
            registry_ca_path=dict(description=['As O(registry_ca_path), for this item.'], type='path'),
            gcr_key_file=dict(description=['As O(gcr_key_file), for this item.'], type='path'),
            ecr_keys_from=dict(description=['As O(ecr_keys_from), for this item.'], type='str'),
        ))
    body = yaml.safe_dump(dict(options=dict(credentials=credentials, registries=registries)),
                          sort_keys=False, width=110, default_flow_style=False)
    return '''# -*- coding: utf-8 -*-
# Copyright: (c) 2026, squirrel.ssm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class ModuleDocFragment(object):
    # Generated from plugins/module_utils/providers.py by tools/gendocs.py: edit the table, not this.
    DOCUMENTATION = r\'\'\'
%s\'\'\'
''' % body


def fields_table(provider):
    lines = ['| field | required | secret | default | checked |', '|---|:---:|:---:|---|---|']
    for name, field in provider.fields.items():
        aliases = ' (alias: %s)' % ', '.join('`%s`%s' % (a, ' deprecated' if a in field.deprecated_aliases else '')
                                             for a in field.aliases) if field.aliases else ''
        lines.append('| `%s`%s | %s | %s | %s | %s |' % (
            name, aliases, 'yes' if field.required else '', 'yes' if field.secret else '',
            '`%s`' % field.default if field.default else '', field.type.__name__))
    rules = []
    for group in provider.required_together:
        rules.append('%s go together' % ' and '.join('`%s`' % f for f in group))
    for group in provider.mutually_exclusive:
        rules.append('%s exclude each other' % ' and '.join('`%s`' % f for f in group))
    for group in provider.required_one_of:
        rules.append('one of %s is required' % ', '.join('`%s`' % f for f in group))
    if rules:
        lines += ['', 'Rules: ' + '; '.join(rules) + '.']
    return '\n'.join(lines)


def main(check):
    providers = load_providers()
    stale = []
    wanted = {FRAGMENT: fragment_text(providers)}
    for name, provider in providers.PROVIDERS.items():
        page = os.path.join(PAGES, name + '.md')
        if not os.path.exists(page):
            stale.append('%s is missing' % page)
            continue
        with open(page) as f:
            current = f.read()
        block = '%s\n%s\n%s' % (FIELDS_START, fields_table(provider), FIELDS_END)
        pattern = re.escape(FIELDS_START) + r'.*?' + re.escape(FIELDS_END)
        if not re.search(pattern, current, re.S):
            stale.append('%s has no fields block' % page)
            continue
        wanted[page] = re.sub(pattern, lambda m: block, current, flags=re.S)
    for path, text in wanted.items():
        current = open(path).read() if os.path.exists(path) else None
        if current != text:
            if check:
                stale.append('%s is stale: run python3 tools/gendocs.py' % path)
            else:
                with open(path, 'w') as f:
                    f.write(text)
    for line in stale:
        print(line)
    return 1 if stale and check else 0


if __name__ == '__main__':
    sys.exit(main('--check' in sys.argv))
