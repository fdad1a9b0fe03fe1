"""The Ansible ecosystem checks of squirrel.ssm, as nox sessions: `make lint` runs them all (after `make build`),
`nox -l` lists them, `make lint CHECKS="ansible-test-sanity docs-check"` runs some.

antsibull-nox.toml configures antsibull-nox's sessions (yamllint, docs-check, ansible-lint, build-import-check with
galaxy-importer, molecule). This file adds only what antsibull-nox does not do here, each with the reason.
Every venv nox makes, and the links to the Pythons the checks use, are under build/nox.
"""

import importlib.metadata
import os
import sys

import nox

ROOT = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, ROOT)
from tools.pythons import find_python  # noqa: E402  pylint: disable=wrong-import-position

try:
    import antsibull_nox
    from antsibull_nox.ansible import get_ansible_core_info
    from antsibull_nox.sessions import prepare_collections
    from antsibull_nox.utils import Version
except ImportError:
    sys.exit('noxfile.py needs antsibull-nox next to nox: `make setup` installs both (requirements-dev.txt)')

BUILD = os.path.join(ROOT, 'build', 'nox')
nox.options.envdir = BUILD
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = True
if hasattr(nox.options, 'download_python'):
    nox.options.download_python = 'never'  # CI reaches PyPI only; the Pythons are the machine's
# The sessions install the collection where they need it; `make`'s build/collections must not shadow it.
os.environ.pop('ANSIBLE_COLLECTIONS_PATH', None)

# Pythons a module may meet on a target, from the floor of tests/config.yml (3.7) up.
TARGET_PYTHONS = ['3.7', '3.8', '3.9', '3.10', '3.11', '3.12', '3.13']
# The ansible-core whose ansible-test runs sanity and units: the one `make setup` installs next to nox.
CURRENT = Version.parse('.'.join(importlib.metadata.version('ansible-core').split('.')[:2]))
CONTROLLER = '%d.%d' % sys.version_info[:2]
# For a target Python the current ansible-test no longer checks: the newest ansible-core whose ansible-test does
# (meta/runtime.yml supports 2.16 and later).
OLDER_CORES = [Version.parse(v) for v in ('2.18', '2.17', '2.16')]


def link_pythons():
    """pythonX.Y for every target Python this machine has, first on PATH: ansible-test looks them up there, where
    pyenv's shims would answer "command not found" for every version pyenv has not selected."""
    links = os.path.join(BUILD, 'pythons')
    os.makedirs(links, exist_ok=True)
    found = {}
    for version in TARGET_PYTHONS:
        link = os.path.join(links, 'python' + version)
        if os.path.lexists(link):
            os.remove(link)
        python = find_python(version)
        if python:
            os.symlink(python, link)
            found[version] = python
        else:
            print('noxfile.py: no Python %s that runs on this machine (tools/pythons.py): compile and import skip it'
                  % version)
    os.environ['PATH'] = links + os.pathsep + os.environ.get('PATH', '')
    return found


PYTHONS = link_pythons()


def ansible_test(name, core, commands, description):
    """A session running ansible-test of ansible-core `core` (from PyPI) on a copy of the collection.

    Why not antsibull-nox's ansible-test sessions: they run with --docker (no container engine in CI). --local runs
    in this session's own venv; ansible-test keeps its per-test venvs in ~/.ansible/test/venv, as with --venv.
    """
    def session_func(session):
        session.install('ansible-core==%s.*' % core)
        # `nox -R` (make lint) skips session.install in a venv it reuses: the venv of an older CURRENT is updated here.
        found = session.run('python', '-c', 'from ansible.release import __version__ as v; print(v)', silent=True)
        if not (found or '').strip().startswith('%s.' % core):
            session.run('python', '-m', 'pip', 'install', '-q', 'ansible-core==%s.*' % core)
        # Why: ansible-test fetches get-pip.py from ci-files.testing.ansible.com, which CI cannot reach.
        session.run('python', os.path.join(ROOT, 'tools', 'ansible_test_pip.py'))
        tree = prepare_collections(session, ansible_core_version=core, install_in_site_packages=False,
                                   install_out_of_tree=True)
        if not tree:
            session.error('the collection could not be prepared for ansible-test')
        with session.chdir(tree.current_path):
            for command in commands:
                session.run('ansible-test', *command, '--color', 'no')

    session_func.__doc__ = description
    controllers = ['%s' % v for v in get_ansible_core_info(core).controller_python_versions]
    python = CONTROLLER if CONTROLLER in controllers else controllers[-1]
    nox.session(name=name, python=python, default=True)(session_func)


def add_ansible_test_sessions():
    remote = ['%s' % v for v in get_ansible_core_info(CURRENT).remote_python_versions]
    ansible_test('ansible-test-sanity', CURRENT, [['sanity', '--local']],
                 'ansible-test sanity (every test) from ansible-core %s; compile and import on each of Python %s '
                 'this machine has' % (CURRENT, ', '.join(v for v in TARGET_PYTHONS if v in remote)))
    ansible_test('ansible-test-units', CURRENT, [['units', '--local', '--requirements', '--python', CONTROLLER]],
                 'ansible-test units (tests/unit) from ansible-core %s' % CURRENT)
    for version in TARGET_PYTHONS:
        if version in remote:
            continue
        core = next((c for c in OLDER_CORES if version in ['%s' % v for v in
                                                           get_ansible_core_info(c).remote_python_versions]), None)
        if core and version in PYTHONS:
            ansible_test('ansible-test-sanity-py%s' % version, core,
                         [['sanity', '--test', 'compile', '--test', 'import', '--local', '--python', version]],
                         'ansible-test sanity compile and import on Python %s, from ansible-core %s (the newest '
                         'whose ansible-test still checks it)' % (version, core))


antsibull_nox.load_antsibull_nox_toml()
add_ansible_test_sessions()


def own_check(name, description):
    """A check of our own (tools/checks.py NAME), in the environment nox runs in (requirements-dev.txt)."""
    def session_func(session):
        session.run(sys.executable, os.path.join(ROOT, 'tools', 'checks.py'), name, external=True)

    session_func.__doc__ = description
    nox.session(name=name, python=False, default=True)(session_func)


own_check('generated-docs', 'the docs tools/gendocs.py writes from the provider rules are current (ours alone)')
own_check('artifact', 'the artifact holds what users need and nothing else: build_ignore keeps tests, tools and '
          'CI out (galaxy-importer checks its form, not that)')
own_check('changelog', 'antsibull-changelog lint, lint-changelog-yaml --strict, CHANGELOG.rst current (antsibull-nox '
          'has no changelog session)')
own_check('ee-context', 'ansible-builder create of tests/ee/execution-environment.yml: the context installs this '
          'collection and every library of meta/ee-requirements.txt (antsibull-nox\'s ee-check builds the image, '
          'which needs a container engine)')
