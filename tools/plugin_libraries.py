"""The Python libraries the collection's plugins may import, and whether an execution environment gets them.

    python3 tools/plugin_libraries.py      prints each library, where it is imported, and how it is declared

Imports are read from the source (ast) of every file under plugins/: `import x` and `from x import y` at any depth,
and the imports done on demand (`importlib.import_module('x')`, or the collection's helper
`import_library('x', 'pip-name')`), plus the pip names given to `missing_required_lib` and `MissingLibrary`. The standard library, ansible and
ansible_collections are left out. Each module is mapped to the distribution that installs it in this Python
(`make setup` installs every optional library), so this must run where they are installed.

Declared means: in meta/ee-requirements.txt (which includes requirements.txt), the file meta/execution-environment.yml
hands to ansible-builder, or installed by one of those or by ansible-core, which every execution environment has.
"""

import ast
import functools
import importlib.metadata
import importlib.util
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EE_REQUIREMENTS = os.path.join(ROOT, 'meta', 'ee-requirements.txt')
ALWAYS_THERE = {'ansible', 'ansible_collections', '__future__'}
# Calls that import their first argument on demand; the second, when a string, is the pip name to install.
IMPORTERS = {'import_module', '__import__', 'import_library'}
# Calls whose first argument is the pip name of a library the module reports as missing.
MISSING = {'missing_required_lib', 'MissingLibrary'}


def canonical(name):
    return re.sub(r'[-_.]+', '-', name).lower()


def _name(func):
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, 'id', None)


def _strings(call):
    return [a.value for a in call.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]


def imports_of(path):
    """(modules, pip names) that the Python file at `path` may import."""
    with open(path, 'rb') as f:
        tree = ast.parse(f.read(), path)
    modules, names = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            modules.add(node.module)
        elif isinstance(node, ast.Call):
            strings = _strings(node)
            if _name(node.func) in IMPORTERS and strings:
                modules.add(strings[0])
                names.update(strings[1:2])
            elif _name(node.func) in MISSING and strings:
                names.add(strings[0])
    return ({m for m in modules if m.split('.')[0] not in ALWAYS_THERE and m.split('.')[0] not in sys.stdlib_module_names},
            names)


@functools.lru_cache(maxsize=None)
def _packages():
    return importlib.metadata.packages_distributions()


def distribution_of(module):
    """The canonical name of the distribution that installs `module` here, or None when it is not installed."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin:
        return None
    origin = os.path.realpath(spec.origin)
    for dist in _packages().get(module.split('.')[0], []):
        for entry in importlib.metadata.distribution(dist).files or []:
            if os.path.realpath(str(entry.locate())) == origin:
                return canonical(dist)
    return None


def used(plugins):
    """{distribution or unresolved module: sorted files that import it}."""
    found = {}
    for top, dirs, files in os.walk(plugins):
        dirs[:] = [d for d in dirs if d != '__pycache__']
        for name in files:
            if not name.endswith('.py'):
                continue
            path = os.path.join(top, name)
            modules, names = imports_of(path)
            where = os.path.relpath(path, os.path.dirname(plugins))
            for module in modules:
                found.setdefault(distribution_of(module) or 'module %s (not installed here)' % module, set()).add(where)
            for pip_name in names:
                found.setdefault(canonical(pip_name), set()).add(where)
    return dict((k, sorted(v)) for k, v in found.items())


def requirement_lines(path):
    """The requirements of a pip requirements file, its -r files included (as ansible-builder reads them)."""
    lines = []
    with open(path) as f:
        for line in f:
            line = line.split('#')[0].strip()
            if line.startswith(('-r ', '--requirement ')):
                lines += requirement_lines(os.path.join(os.path.dirname(path), line.split(None, 1)[1]))
            elif line:
                lines.append(line)
    return lines


def requirement_names(path):
    """Canonical names of the requirements of a pip requirements file, its -r files included."""
    return [canonical(re.split(r'[\s<>=!~;\[]', line, 1)[0]) for line in requirement_lines(path)]


def closure(names):
    """`names` and every distribution they require, transitively, as installed here."""
    seen, todo = set(), list(names)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = importlib.metadata.requires(name) or []
        except importlib.metadata.PackageNotFoundError:
            continue
        todo += [canonical(re.split(r'[\s<>=!~;\[(]', r, 1)[0]) for r in requires if 'extra ==' not in r]
    return seen


def undeclared(plugins=os.path.join(ROOT, 'plugins'), requirements=EE_REQUIREMENTS):
    """{library: files importing it} for every library of `plugins` an execution environment would lack."""
    declared = closure(requirement_names(requirements) + ['ansible-core'])
    return dict((lib, files) for lib, files in used(plugins).items() if lib not in declared)


if __name__ == '__main__':
    declared = requirement_names(EE_REQUIREMENTS)
    everything = closure(declared + ['ansible-core'])
    for library, files in sorted(used(os.path.join(ROOT, 'plugins')).items()):
        how = ('declared' if library in declared else 'installed with what is declared' if library in everything
               else 'NOT DECLARED')
        print('%-20s %-32s %s' % (library, how, ', '.join(files)))
    sys.exit(1 if undeclared() else 0)
