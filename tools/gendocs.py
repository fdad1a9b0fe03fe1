"""Write the parts of the docs that come from the provider table: the credentials doc fragment, the
field tables of docs/providers/*.md and the fixes of docs/problems.md (as ssm_registry_info prints them).
`--check` fails when they are stale (the unit tests run it)."""

import importlib.util
import os
import re
import sys

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FRAGMENT = os.path.join(ROOT, 'plugins', 'doc_fragments', 'credentials.py')
PAGES = os.path.join(ROOT, 'docs', 'providers')
Q = "'''"
FIELDS_START, FIELDS_END = '<!-- fields:start (tools/gendocs.py) -->', '<!-- fields:end -->'


def load_providers():
    spec = importlib.util.spec_from_file_location('providers', os.path.join(ROOT, 'plugins', 'module_utils', 'providers.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fragment_text(providers):
    fields = {}
    for name, descriptions in providers.credentials_doc():
        fields[name] = dict(description=descriptions, type='raw')
    credentials = dict(
        description=[
            'The fields SSM stores for the provider, named exactly as SSM and its guide name them.',
            'Each provider accepts only its own fields; they are checked before any request to SSM, and a bad '
            'field fails the task naming the provider and the field.',
            'Secret fields are never logged, returned, nor shown in a diff.',
        ] + ['%s: %s.' % (p.name, ', '.join('%s%s' % (f, ' (secret)' if p.fields[f].secret else '')
                                            for f in sorted(p.fields)))
             for p in providers.PROVIDERS.values()],
        type='dict', suboptions=fields)
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
                             suboptions=fields),
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
    # The fields are written once: the second `suboptions` is a YAML alias of the first (ansible-test's yamllint
    # needs DOCUMENTATION to be one string literal, so Python cannot assemble it).
    assert body.count('&id001') == 1 and '&id002' not in body, 'one shared block expected'
    body = body.replace('&id001', '&provider_fields').replace('*id001', '*provider_fields')
    return """# -*- coding: utf-8 -*-
# Copyright: (c) 2026, squirrel.ssm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# Generated from plugins/module_utils/providers.py by tools/gendocs.py: edit the table, not this.

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class ModuleDocFragment(object):
    DOCUMENTATION = r%(q)s
%(body)s%(q)s
""" % dict(q=Q, body=body)


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


# docs/problems.md: the fix each code prints for an example row, as ssm_registry_info prints it (the same function
# makes both). code, or code.case where a code has more than one form of fix: (rows as SSM stores them, SSM API
# version, the credential check's status or None).
PROBLEMS = os.path.join(ROOT, 'docs', 'problems.md')
FIX_START, FIX_END = re.compile(r'<!-- fix:start ([\w.]+) \(tools/gendocs.py\) -->'), '<!-- fix:end -->'
_HARBOR = {'url': 'https://harbor.example.com', 'login': 'robot', 'password': 'secret'}
FIX_EXAMPLES = {
    'missing_field': ({'harbor': dict(provider='custom', authSet=True, auth={'url': 'https://harbor.example.com',
                                                                             'login': 'robot'})}, '0.5', None),
    'wrong_type': ({'gitea': dict(provider='gitea', authSet=True, auth={'url': 123, 'login': 'deploy',
                                                                        'password': 'secret'})}, '0.5', None),
    'invalid_value': ({'ecr': dict(provider='ecr', authSet=True, auth={
        'accesskeyid': 'AKIAIOSFODNN7EXAMPLE', 'secretaccesskey': 'secret', 'region': 'Europe'})}, '0.5', None),
    'unknown_field': ({'ecr': dict(provider='ecr', authSet=True, auth={
        'accesskey': 'AKIAIOSFODNN7EXAMPLE', 'secretaccesskey': 'secret', 'region': 'eu-west-1'})}, '0.5', None),
    'conflicting_fields': ({'hub': dict(provider='hub', authSet=True, auth={
        'login': 'johndoe', 'password': 'secret', 'auth': 'am9objpzZWNyZXQ='})}, '0.1', None),
    'gitlab_url_missing': ({'gitlab': dict(provider='gitlab', authSet=True, auth={
        'url': 'https://registry.gitlab.example.com', 'token': 'secret'})}, '0.5', None),
    'url_ends_in_v2': ({'my mirror': dict(provider='custom', authSet=True, auth={
        'url': 'http://mirror.example.com:5000/v2/', 'login': 'pull', 'password': 'secret'})}, '0.5', None),
    'legacy_provider': ({'hotio': dict(provider='hotio', authSet=False)}, '0.5', None),
    'leftover_secret': ({'quay': dict(provider='quay', authSet=False, auth={
        'namespace': 'myorg', 'account': 'ssm', 'token': 'secret'})}, '0.5', None),
    'credentials_unused': ({'hub': dict(provider='hub', authSet=True, auth={'login': 'johndoe', 'password': 's'})},
                           '0.5', None),
    'custom_ignored': ({'harbor': dict(provider='custom', authSet=True, auth=_HARBOR),
                        'mirror': dict(provider='custom', authSet=True, auth=_HARBOR)}, '0.1', None),
    # canAnonymous as SSM lists the rows: ghcr has an anonymous registry, gitlab and lscr have none.
    'not_registered': ({'ghcr': dict(provider='ghcr', authSet=True, canAnonymous=True,
                                     auth={'username': 'octocat', 'token': 's'})}, '0.1', None),
    'not_registered.gitlab': ({'gitlab': dict(provider='gitlab', authSet=True, canAnonymous=False, auth={
        'url': 'https://registry.gitlab.com', 'authurl': 'https://gitlab.com', 'token': 's'})}, '0.1', None),
    'unreachable_name': ({'team/mirror': dict(provider='custom', authSet=False)}, '0.5', None),
    'reload_registry': ({'squirrel-ssm-reload-1796284800-0a7c9c-4242-beef': dict(provider='custom', authSet=True, auth={
        'url': 'https://reload.squirrel-ssm.invalid', 'login': 'squirrel-ssm', 'password': 'x'})}, '0.5', None),
    'credentials_rejected': ({'harbor': dict(provider='custom', authSet=True, auth=_HARBOR)}, '0.5', 'rejected'),
    'registry_unreachable': ({'harbor': dict(provider='custom', authSet=True, auth=_HARBOR)}, '0.5', 'unreachable'),
    'anonymous_only': ({'harbor': dict(provider='custom', authSet=True, auth=_HARBOR)}, '0.5', 'anonymous_only'),
    'not_verifiable': ({'acr': dict(provider='acr', authSet=True, auth={'clientid': 'c', 'clientsecret': 's'})},
                       '0.5', 'not_verifiable'),
}


_LOADED = []


def load_diagnosis():
    """plugins/module_utils/diagnosis.py, imported as the collection (it imports its siblings by their FQCN)."""
    import tempfile
    if _LOADED:
        return _LOADED[0]
    tree = tempfile.mkdtemp(prefix='gendocs-')
    os.makedirs(os.path.join(tree, 'ansible_collections', 'squirrel'))
    os.symlink(ROOT, os.path.join(tree, 'ansible_collections', 'squirrel', 'ssm'))
    sys.path.insert(0, tree)
    import importlib
    _LOADED.append((importlib.import_module('ansible_collections.squirrel.ssm.plugins.module_utils.diagnosis'),
                    importlib.import_module('ansible_collections.squirrel.ssm.plugins.module_utils.ssm_versions')))
    return _LOADED[0]


def printed_fix(example):
    diagnosis, versions = load_diagnosis()
    rows, version, status = FIX_EXAMPLES[example]
    code = example.split('.')[0]
    rows = dict((name, dict(row, name=name)) for name, row in rows.items())
    found = diagnosis.diagnose(rows, versions.VERSIONS[version])
    if status:
        name, row = list(rows.items())[-1]
        found[name] = diagnosis.verification_problems(row['provider'], name, status, '...', row.get('auth'))
    return [one['fix'] for problems in found.values() for one in problems if one['code'] == code][0]


def problems_text(current):
    """docs/problems.md with each marked fix as the collection prints it."""
    def block(match):
        return '%s\n  `%s`\n  %s' % (match.group(1), printed_fix(match.group(2)), FIX_END)
    return re.sub(r'(<!-- fix:start ([\w.]+) \(tools/gendocs.py\) -->)\n.*?' + re.escape(FIX_END), block, current,
                  flags=re.S)


def main(check):
    providers = load_providers()
    stale = []
    wanted = {FRAGMENT: fragment_text(providers)}
    with open(PROBLEMS) as f:
        wanted[PROBLEMS] = problems_text(f.read())
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
