"""Every example of the docs and of the modules' EXAMPLES, found and classified (tests/examples/test_examples.py
runs them). A fenced ```yaml or ```sh block of README.md or docs/**/*.md is an example; so is each module's
EXAMPLES. A block that cannot run here is excluded only by a marker right before it:

    <!-- example: not-run (why) -->
"""
import ast
import glob
import os
import re

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MARKER = re.compile(r'^<!--\s*example:\s*not-run\s*\((.+)\)\s*-->\s*$')
FENCE = re.compile(r'^```(\S*)\s*$')


class _Tagged(yaml.SafeLoader):
    """YAML as Ansible reads it: vault-encrypted (!vault) and !unsafe values are strings here."""


_Tagged.add_constructor('!vault', lambda loader, node: loader.construct_scalar(node))
_Tagged.add_constructor('!unsafe', lambda loader, node: loader.construct_scalar(node))


class Block:
    def __init__(self, source, line, lang, text, marker=None):
        self.source, self.line, self.lang, self.text, self.marker = source, line, lang, text, marker

    @property
    def id(self):
        return '%s:%d' % (self.source, self.line)

    def kind(self):
        """play, tasks, vars, ci-job or sh; None when the harness cannot tell (the test fails)."""
        if self.lang == 'sh':
            return 'sh'
        data = yaml.load(self.text, Loader=_Tagged)
        if isinstance(data, list) and data and all(isinstance(item, dict) for item in data):
            return 'play' if all('hosts' in item for item in data) else 'tasks'
        if isinstance(data, dict):
            if any(isinstance(job, dict) and 'script' in job for job in data.values()):
                return 'ci-job'
            return 'vars'
        return None


def doc_files():
    return [os.path.join(ROOT, 'README.md')] + sorted(glob.glob(os.path.join(ROOT, 'docs', '**', '*.md'),
                                                                recursive=True))


def doc_blocks(path):
    """The ```yaml and ```sh blocks of one Markdown file; any other fenced block that is not plain text
    (```text, ``` ) is returned as well, with its language, so that the test can refuse unknown ones."""
    source = os.path.relpath(path, ROOT)
    lines = open(path).read().splitlines()
    blocks, index = [], 0
    while index < len(lines):
        match = FENCE.match(lines[index])
        if not match:
            index += 1
            continue
        lang, start = match.group(1), index
        end = index + 1
        while end < len(lines) and not lines[end].startswith('```'):
            end += 1
        marker, before = None, start - 1
        while before >= 0 and not lines[before].strip():
            before -= 1
        if before >= 0 and MARKER.match(lines[before].strip()):
            marker = MARKER.match(lines[before].strip()).group(1)
        if lang in ('yaml', 'yml', 'sh', 'shell', 'bash', 'console'):
            blocks.append(Block(source, start + 1, 'sh' if lang in ('shell', 'bash', 'console') else
                                ('yaml' if lang == 'yml' else lang), '\n'.join(lines[start + 1:end]) + '\n', marker))
        index = end + 1
    return blocks


def module_examples():
    """Each module's EXAMPLES string (a task list), as ansible-doc shows it."""
    blocks = []
    for path in sorted(glob.glob(os.path.join(ROOT, 'plugins', 'modules', '*.py'))):
        tree = ast.parse(open(path).read())
        for node in tree.body:
            if isinstance(node, ast.Assign) and getattr(node.targets[0], 'id', None) == 'EXAMPLES':
                blocks.append(Block(os.path.relpath(path, ROOT), node.lineno, 'yaml', node.value.value))
    return blocks


def all_blocks():
    blocks = []
    for path in doc_files():
        blocks.extend(doc_blocks(path))
    return blocks + module_examples()
