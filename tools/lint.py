"""The Ansible ecosystem checks of squirrel.ssm, run by `make lint` (and so by `make test`) after `make build`.

    python tools/lint.py               every check, in order
    python tools/lint.py docs ee       only these checks (names below)
    python tools/lint.py --list        the checks and what each runs

Every check runs even when an earlier one fails; the summary at the end lists each with its time, and the
exit status is 1 when any failed. The collection under test is the one `make build` built into build/dist
and installed into build/collections (ANSIBLE_COLLECTIONS_PATH), as users get it.
"""

import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, 'build')
COLLECTIONS = os.path.join(BUILD, 'collections')
BIN = os.path.dirname(os.path.abspath(sys.executable))
PYTHON_VERSION = '%d.%d' % sys.version_info[:2]
GALAXY = yaml.safe_load(open(os.path.join(ROOT, 'galaxy.yml')))
FQCN = '%s.%s' % (GALAXY['namespace'], GALAXY['name'])
TARBALL = os.path.join(BUILD, 'dist', '%s-%s-%s.tar.gz' % (GALAXY['namespace'], GALAXY['name'], GALAXY['version']))


class Failed(Exception):
    pass


def env(**extra):
    result = dict(os.environ)
    result['PATH'] = BIN + os.pathsep + result.get('PATH', '')
    result.setdefault('ANSIBLE_COLLECTIONS_PATH', COLLECTIONS)
    result.update(ANSIBLE_NOCOLOR='1', NO_COLOR='1', PY_COLORS='0', ANSIBLE_FORCE_COLOR='0')
    for key, value in extra.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = value
    return result


def run(command, cwd=ROOT, capture=False, environ=None):
    print('$ %s' % ' '.join(command), flush=True)
    process = subprocess.run(command, cwd=cwd, env=environ or env(), universal_newlines=True, check=False,
                             stdout=subprocess.PIPE if capture else None,
                             stderr=subprocess.PIPE if capture else None)
    if process.returncode:
        if capture:
            sys.stdout.write(process.stdout)
            sys.stdout.write(process.stderr)
        raise Failed('%s exited with %d' % (command[0], process.returncode))
    return process


def tool(name):
    return os.path.join(BIN, name)


def need_build():
    if not os.path.exists(TARBALL) or not os.path.exists(os.path.join(COLLECTIONS, 'ansible_collections',
                                                                      GALAXY['namespace'], GALAXY['name'])):
        raise Failed('%s is not built and installed: run `make build` first' % FQCN)


# -- the checks ------------------------------------------------------------------------------------


def sanity_tree():
    """The sources in an ansible_collections/<namespace>/<name> tree, where ansible-test needs them."""
    tree = run([sys.executable, os.path.join(ROOT, 'tools', 'collection_tree.py'), os.path.join(BUILD, 'sanity')],
               capture=True).stdout.strip()
    run([sys.executable, os.path.join(ROOT, 'tools', 'ansible_test_pip.py')])
    return tree


def ansible_test_env():
    # ansible-test finds the collection from the tree it runs in; the built one must not shadow it.
    return env(ANSIBLE_COLLECTIONS_PATH=None)


def check_sanity():
    """ansible-test sanity (every test: validate-modules, pylint, pep8, yamllint, import, ...) on the sources."""
    tree = sanity_tree()
    run([tool('ansible-test'), 'sanity', '--python', PYTHON_VERSION, '--venv', '--color', 'no'], cwd=tree,
        environ=ansible_test_env())


# Pythons the modules could meet on a target, newest last; those below the floor of tests/config.yml are left out.
TARGET_PYTHONS = ['2.7', '3.6', '3.7', '3.8', '3.9', '3.10', '3.11', '3.12', '3.13']
# For a Python the venv's ansible-test no longer checks: the newest ansible-core whose ansible-test still does,
# from the venvs `make compat` keeps in build/compat (tools/compat.py creates it when missing).
OLDER_ANSIBLE_TEST = {'3.7': '2.17'}


def python_floor():
    with open(os.path.join(ROOT, 'tests', 'config.yml')) as f:
        requires = yaml.safe_load(f)['modules']['python_requires']
    found = re.match(r'^>=\s*(\d+)\.(\d+)$', requires.strip())
    if not found:
        raise Failed('tests/config.yml: python_requires %r is not of the form >=X.Y' % requires)
    return int(found.group(1)), int(found.group(2))


def find_python(version):
    found = sorted(glob.glob(os.path.expanduser('~/.pyenv/versions/%s.*/bin/python%s' % (version, version))))
    if found:
        return found[-1]
    found = shutil.which('python%s' % version)
    # pyenv's shims are on PATH for every version but run only the selected ones.
    return found if found and '/shims/' not in found else None


def ansible_test_pythons(python):
    """The Python versions the ansible-test of `python`'s environment can test."""
    script = ('from ansible_test._util.target.common.constants import CONTROLLER_PYTHON_VERSIONS as c, '
              'REMOTE_ONLY_PYTHON_VERSIONS as r; print(" ".join(r + c))')
    return run([python, '-c', script], capture=True).stdout.split()


def check_sanity_pythons():
    """ansible-test sanity --test compile and --test import on every Python from the modules' floor
    (tests/config.yml) to 3.13 that this machine has, with the venv's ansible-test, or for a Python it no longer
    supports with an older ansible-core's (build/compat); a Python that is missing is skipped with a line."""
    tree = sanity_tree()
    floor = python_floor()
    wanted = [v for v in TARGET_PYTHONS if tuple(int(n) for n in v.split('.')) >= floor]
    supported = ansible_test_pythons(sys.executable)
    skipped, checked = [], []
    for version in wanted:
        python = find_python(version)
        if not python:
            skipped.append('Python %s: not on this machine' % version)
            continue
        bin_dir = BIN
        if version not in supported:
            core = OLDER_ANSIBLE_TEST.get(version)
            if not core:
                skipped.append('Python %s: ansible-test of this venv does not support it' % version)
                continue
            out = run([sys.executable, os.path.join(ROOT, 'tools', 'compat.py'), '--venv', core], capture=True)
            bin_dir = out.stdout.strip().splitlines()[-1]
            if not os.path.isdir(bin_dir):
                skipped.append('Python %s: %s' % (version, bin_dir))
                continue
            run([os.path.join(bin_dir, 'python'), os.path.join(ROOT, 'tools', 'ansible_test_pip.py')])
        start = time.time()
        environ = ansible_test_env()
        environ['PATH'] = os.pathsep.join([os.path.dirname(python), bin_dir, environ['PATH']])
        run([os.path.join(bin_dir, 'ansible-test'), 'sanity', '--test', 'compile', '--test', 'import',
             '--python', version, '--venv', '--color', 'no'], cwd=tree, environ=environ)
        where = '' if bin_dir == BIN else ', ansible-test of ' + bin_dir
        checked.append('Python %s: ok (%.0fs%s)' % (version, time.time() - start, where))
    for line in checked + skipped:
        print(line)


def check_units():
    """ansible-test units: the tests under tests/unit, the way ansible-test runs them."""
    tree = sanity_tree()
    run([tool('ansible-test'), 'units', '--python', PYTHON_VERSION, '--venv', '--color', 'no'], cwd=tree,
        environ=ansible_test_env())


def check_ansible_lint():
    """ansible-lint, production profile (.ansible-lint), on the whole collection: roles, playbooks, the molecule
    scenario, galaxy.yml, meta/runtime.yml, changelogs (tests/ excluded)."""
    need_build()
    run([tool('ansible-lint'), '--profile', 'production', '--nocolor'])


def check_yamllint():
    """yamllint (.yamllint) on every YAML file, warnings included."""
    run([tool('yamllint'), '--strict', '.'])


def check_docs():
    """The generated doc fragment is current; antsibull-docs lints the docs; ansible-doc renders every plugin and
    role of the built collection without a warning."""
    need_build()
    run([sys.executable, os.path.join(ROOT, 'tools', 'gendocs.py'), '--check'])
    run([tool('antsibull-docs'), 'lint-collection-docs', '--plugin-docs', '--validate-collection-refs', 'all',
         '--disallow-unknown-collection-refs', '.'])
    listed = json.loads(run([tool('ansible-doc'), '--list', '--json', FQCN], capture=True).stdout)
    modules = sorted(name for name in listed if name.startswith(FQCN + '.'))
    wanted = ['%s.%s' % (FQCN, os.path.basename(p)[:-3])
              for p in glob.glob(os.path.join(ROOT, 'plugins', 'modules', '*.py')) if not p.endswith('__init__.py')]
    if sorted(wanted) != modules:
        raise Failed('ansible-doc lists %s, the sources have %s' % (modules, sorted(wanted)))
    roles = sorted('%s.%s' % (FQCN, os.path.basename(os.path.dirname(os.path.dirname(p))))
                   for p in glob.glob(os.path.join(ROOT, 'roles', '*', 'meta', 'argument_specs.yml')))
    for kind, name, sections in ([('module', m, ['OPTIONS', 'ATTRIBUTES', 'EXAMPLES', 'RETURN VALUES'])
                                  for m in modules]
                                 + [('role', r, ['ENTRY POINT', 'Options']) for r in roles]):
        out = run([tool('ansible-doc'), '-t', kind, name], capture=True)
        problems = [line for line in out.stderr.splitlines() if '[WARNING]' in line or '[ERROR]' in line]
        problems += ['no %s section' % s for s in sections if s not in out.stdout]
        if os.path.realpath(COLLECTIONS) not in os.path.realpath(out.stdout.split('(', 1)[-1].split(')')[0]):
            problems.append('not rendered from the built collection in %s' % COLLECTIONS)
        if problems:
            sys.stdout.write(out.stdout + out.stderr)
            raise Failed('ansible-doc -t %s %s: %s' % (kind, name, '; '.join(problems)))
        print('ansible-doc -t %s %s: %d lines' % (kind, name, len(out.stdout.splitlines())))


# Top-level entries a built artifact may hold; anything else (tests, tools, benchmarks, CI and lint configs,
# caches, the molecule scenarios) must be kept out by build_ignore in galaxy.yml.
ARTIFACT_TOP = {'MANIFEST.json', 'FILES.json', 'README.md', 'LICENSE', 'COPYING', 'CHANGELOG.rst', 'requirements.txt',
                'bindep.txt', 'meta', 'plugins', 'roles', 'playbooks', 'docs', 'changelogs'}
ARTIFACT_NEVER = re.compile(r'(^|/)(tests|tools|benchmarks|molecule|extensions|__pycache__|\.pytest_cache|\.cache|'
                            r'\.ansible|\.venv|\.git.*|\.ci|\.ansible-lint|\.yamllint|Makefile|requirements-(dev|run)\.txt|'
                            r'\.plugin-cache\.yaml)(/|$)|\.(pyc|pyo|tar\.gz|retry|orig|rej|swp)$|~$')


def check_artifact():
    """The artifact of `ansible-galaxy collection build` holds what users need and nothing else (build_ignore)."""
    need_build()
    with tarfile.open(TARBALL) as tar:
        names = [m.name.rstrip('/') for m in tar.getmembers()]
        manifest = json.load(tar.extractfile('MANIFEST.json'))['collection_info']
    problems = ['%s should not be in the artifact' % n for n in names
                if n.split('/')[0] not in ARTIFACT_TOP or ARTIFACT_NEVER.search(n)]
    required = ['MANIFEST.json', 'FILES.json', GALAXY['readme'], 'meta/runtime.yml', 'meta/execution-environment.yml',
                'meta/awx-credential-type.yml',
                'requirements.txt', 'bindep.txt', 'CHANGELOG.rst', 'changelogs/changelog.yaml']
    required += [os.path.relpath(p, ROOT) for p in glob.glob(os.path.join(ROOT, 'plugins', '*', '*.py'))
                 + glob.glob(os.path.join(ROOT, 'roles', '*', '*', 'main.yml'))
                 + glob.glob(os.path.join(ROOT, 'roles', '*', 'meta', 'argument_specs.yml'))
                 + glob.glob(os.path.join(ROOT, 'playbooks', '*.yml'))]
    problems += ['%s is missing from the artifact' % n for n in required if n not in names]
    for key in ('namespace', 'name', 'version'):
        if manifest[key] != GALAXY[key]:
            problems.append('MANIFEST.json has %s %s, galaxy.yml %s' % (key, manifest[key], GALAXY[key]))
    print('%s: %d entries' % (os.path.relpath(TARBALL, ROOT), len(names)))
    if problems:
        raise Failed('; '.join(problems))


def wanted_dependencies():
    """The lines of requirements.txt and bindep.txt, as ansible-builder reports them for this collection."""
    wanted = {}
    for kind, name in (('python', 'requirements.txt'), ('system', 'bindep.txt')):
        with open(os.path.join(ROOT, name)) as f:
            lines = [line.split('#')[0].strip() for line in f]
        wanted[kind] = sorted('%s  # from collection %s' % (line, FQCN) for line in lines if line)
    return wanted


def introspected(text):
    data = yaml.safe_load(text[text.index('---'):]) or {}
    return dict((kind, sorted(line for line in (data.get(kind) or []) if line.endswith('from collection ' + FQCN)))
                for kind in ('python', 'system'))


def check_ee():
    """ansible-builder introspect reads meta/execution-environment.yml of the installed collection, and
    ansible-builder create writes the build context of tests/ee/execution-environment.yml, an execution
    environment that installs the built artifact; the context's own galaxy and introspect steps are replayed."""
    need_build()
    wanted = wanted_dependencies()
    got = introspected(run([tool('ansible-builder'), 'introspect', '--sanitize', COLLECTIONS], capture=True).stdout)
    if got != wanted:
        raise Failed('ansible-builder introspect %s found %s, the collection declares %s' % (COLLECTIONS, got, wanted))
    print('introspect: %s' % got)

    ee = os.path.join(BUILD, 'ee')
    context = os.path.join(ee, 'context')
    shutil.rmtree(ee, ignore_errors=True)
    os.makedirs(ee)
    shutil.copy(TARBALL, os.path.join(ee, '%s-%s.tar.gz' % (GALAXY['namespace'], GALAXY['name'])))
    run([tool('ansible-builder'), 'create', '-f', os.path.join('tests', 'ee', 'execution-environment.yml'),
         '--context', context, '--output-filename', 'Containerfile'])

    build = os.path.join(context, '_build')
    with open(os.path.join(context, 'Containerfile')) as f:
        containerfile = f.read()
    for step in ('ansible-galaxy collection install', 'introspect.py introspect', 'COPY _build /build'):
        if step not in containerfile:
            raise Failed('the Containerfile of %s has no step %r' % (context, step))
    with open(os.path.join(build, 'requirements.yml')) as f:
        collections = yaml.safe_load(f)['collections']
    for entry in collections:
        path = os.path.join(build, entry['name'])
        if entry.get('type') != 'file' or not os.path.isfile(path):
            raise Failed('the context requires %s, which is not a file in %s' % (entry, build))
        with tarfile.open(path) as tar:
            info = json.load(tar.extractfile('MANIFEST.json'))['collection_info']
        found = (info['namespace'], info['name'], info['version'])
        if found != (GALAXY['namespace'], GALAXY['name'], GALAXY['version']):
            raise Failed('%s is %s.%s %s, not this collection' % ((path,) + found))
    # What the image build does with the context, minus the container: its galaxy stage (from /build, the
    # context's _build) and the introspection of its builder stage.
    installed = os.path.join(ee, 'installed')
    run([tool('ansible-galaxy'), 'collection', 'install', '--force', '-r', 'requirements.yml', '-p', installed],
        cwd=build, capture=True)
    got = introspected(run([sys.executable, os.path.join(build, 'scripts', 'introspect.py'), 'introspect',
                            installed], capture=True).stdout)
    if got != wanted:
        raise Failed('the execution environment would install %s, the collection declares %s' % (got, wanted))
    print('build context %s: installs %s %s, with %s'
          % (os.path.relpath(context, ROOT), FQCN, GALAXY['version'], got))


def check_changelog():
    """antsibull-changelog lints the fragments and changelogs/changelog.yaml; CHANGELOG.rst is current."""
    run([tool('antsibull-changelog'), 'lint'])
    run([tool('antsibull-changelog'), 'lint-changelog-yaml', '--strict',
         os.path.join('changelogs', 'changelog.yaml')])
    with open(os.path.join(ROOT, 'changelogs', 'changelog.yaml')) as f:
        releases = yaml.safe_load(f)['releases']
    if str(GALAXY['version']) not in releases:
        print('note: %s is not released in changelogs/changelog.yaml yet (antsibull-changelog release)'
              % GALAXY['version'])
    released = set(name for release in releases.values() for name in release.get('fragments') or [])
    unreleased = sorted(set(os.listdir(os.path.join(ROOT, 'changelogs', 'fragments'))) - released)
    if unreleased:
        raise Failed('fragments in no release, so not in CHANGELOG.rst: %s (make changelog)' % ', '.join(unreleased))
    scratch = os.path.join(BUILD, 'changelog')
    shutil.rmtree(scratch, ignore_errors=True)
    os.makedirs(scratch)
    out = os.path.join(scratch, 'CHANGELOG.rst')
    run([tool('antsibull-changelog'), 'generate', '--output', out])
    with open(out) as a, open(os.path.join(ROOT, 'CHANGELOG.rst')) as b:
        if a.read() != b.read():
            raise Failed('CHANGELOG.rst is stale: run antsibull-changelog generate')


def check_molecule():
    """molecule test of extensions/molecule/default: the registries role of the built collection on localhost,
    against the SSM sandbox: create, converge, idempotence, verify, destroy."""
    need_build()
    paths = json.loads(run([tool('ansible-galaxy'), 'collection', 'list', FQCN, '--format', 'json'],
                           capture=True).stdout)
    found = sorted(os.path.realpath(path) for path, collections in paths.items() if FQCN in collections)
    if found != [os.path.realpath(os.path.join(COLLECTIONS, 'ansible_collections'))]:
        raise Failed('%s resolves to %s, not only to the built collection in %s' % (FQCN, found, COLLECTIONS))
    run([tool('molecule'), 'test', '--scenario-name', 'default'],
        environ=env(MOLECULE_EPHEMERAL_DIRECTORY=os.path.join(BUILD, 'molecule', 'default')))


CHECKS = [
    ('yamllint', check_yamllint),
    ('ansible-lint', check_ansible_lint),
    ('docs', check_docs),
    ('artifact', check_artifact),
    ('ee', check_ee),
    ('changelog', check_changelog),
    ('sanity', check_sanity),
    ('sanity-pythons', check_sanity_pythons),
    ('units', check_units),
    ('molecule', check_molecule),
]


def main(argv):
    checks = dict(CHECKS)
    if '--list' in argv:
        for name, check in CHECKS:
            print('%-15s %s' % (name, ' '.join(check.__doc__.split())))
        return 0
    unknown = [name for name in argv if name not in checks]
    if unknown:
        print('unknown check(s) %s; the checks are %s' % (', '.join(unknown), ', '.join(checks)))
        return 2
    selected = [(name, check) for name, check in CHECKS if not argv or name in argv]
    results = []
    for name, check in selected:
        print('\n=== lint: %s ===' % name, flush=True)
        start = time.time()
        try:
            check()
            error = None
        except Failed as e:
            error = str(e)
        results.append((name, time.time() - start, error))
        print('--- %s: %s (%.0fs)' % (name, 'FAILED: ' + error if error else 'ok', results[-1][1]), flush=True)
    print('\n=== lint summary ===')
    for name, seconds, error in results:
        print('%-15s %-6s %5.0fs%s' % (name, 'FAILED' if error else 'ok', seconds, '  ' + error if error else ''))
    print('%-15s %-6s %5.0fs' % ('total', '', sum(r[1] for r in results)))
    return 1 if any(r[2] for r in results) else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
