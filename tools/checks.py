"""The checks of squirrel.ssm that no antsibull-nox session does; noxfile.py runs each as its own session.

    python tools/checks.py generated-docs|artifact|changelog|ee-context

The collection under test is the one `make build` built into build/dist and installed into build/collections, as
users get it.
"""

import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from tools.plugin_libraries import requirement_lines, undeclared  # noqa: E402  (needs ROOT on sys.path)

BUILD = os.path.join(ROOT, 'build')
COLLECTIONS = os.path.join(BUILD, 'collections')
BIN = os.path.dirname(os.path.abspath(sys.executable))
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


# Top-level entries a built artifact may hold; anything else (tests, tools, benchmarks, CI and lint configs,
# caches, the molecule scenarios) must be kept out by build_ignore in galaxy.yml.
ARTIFACT_TOP = {'MANIFEST.json', 'FILES.json', 'README.md', 'LICENSE', 'COPYING', 'CHANGELOG.rst', 'requirements.txt',
                'bindep.txt', 'meta', 'plugins', 'roles', 'playbooks', 'docs', 'changelogs'}
ARTIFACT_NEVER = re.compile(r'(^|/)(tests|tools|benchmarks|molecule|extensions|__pycache__|\.pytest_cache|\.cache|'
                            r'\.ansible|\.venv|\.nox|\.git.*|\.ci|\.ansible-lint|\.yamllint.*|Makefile|requirements-(dev|run)\.txt|'
                            r'noxfile\.py|antsibull-nox\.toml|'
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
                'meta/awx-credential-type.yml', 'meta/ee-requirements.txt',
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
    """What meta/execution-environment.yml declares, as ansible-builder reports it for this collection."""
    with open(os.path.join(ROOT, 'meta', 'execution-environment.yml')) as f:
        declared = yaml.safe_load(f)['dependencies']
    return dict((kind, sorted('%s  # from collection %s' % (line, FQCN)
                              for line in requirement_lines(os.path.join(ROOT, declared[kind]))))
                for kind in ('python', 'system'))


def introspected(text):
    data = yaml.safe_load(text[text.index('---'):]) or {}
    return dict((kind, sorted(line for line in (data.get(kind) or []) if line.endswith('from collection ' + FQCN)))
                for kind in ('python', 'system'))


def check_ee():
    """ansible-builder introspect reads meta/execution-environment.yml of the installed collection, and
    ansible-builder create writes the build context of tests/ee/execution-environment.yml, an execution
    environment that installs the built artifact; the context's own galaxy and introspect steps are replayed, and
    what they would install must be every library the collection declares (meta/ee-requirements.txt)."""
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
    # What the image would pip-install must cover every library the plugins may import (tools/plugin_libraries.py).
    listed = os.path.join(ee, 'context-requirements.txt')
    with open(listed, 'w') as f:
        f.write(''.join(line.split('#')[0].strip() + '\n' for line in got['python']))
    missing = undeclared(requirements=listed)
    if missing:
        raise Failed('the execution environment would lack %s' % ', '.join(
            '%s (imported by %s)' % (lib, ', '.join(files)) for lib, files in sorted(missing.items())))
    print('build context %s: installs %s %s, with %s'
          % (os.path.relpath(context, ROOT), FQCN, GALAXY['version'], got))


def check_generated_docs():
    """The docs tools/gendocs.py writes from plugins/module_utils/providers.py are current."""
    run([sys.executable, os.path.join(ROOT, 'tools', 'gendocs.py'), '--check'])


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


CHECKS = {
    'generated-docs': check_generated_docs,
    'artifact': check_artifact,
    'changelog': check_changelog,
    'ee-context': check_ee,
}


def main(argv):
    if len(argv) != 1 or argv[0] not in CHECKS:
        print('usage: checks.py %s' % '|'.join(CHECKS))
        return 2
    try:
        CHECKS[argv[0]]()
    except Failed as e:
        print('%s: FAILED: %s' % (argv[0], e))
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
