"""tools/pythons.py: the interpreters compat.py and noxfile.py use must run, whatever HOME is (CI may give a fresh
one) and wherever pyenv lives; a pyenv shim that answers "command not found" is never taken."""
import os
import sys

from tools.pythons import find_python

VERSION = '%d.%d' % sys.version_info[:2]
REAL = os.path.realpath(sys.executable)


def broken(path):
    """What a pyenv shim of a version pyenv has not selected does."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        f.write('#!/bin/sh\necho "pyenv: %s: command not found" >&2\nexit 127\n' % os.path.basename(path))
    os.chmod(path, 0o755)
    return path


def working(path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    os.symlink(REAL, path)
    return path


def build(root, patch):
    return os.path.join(str(root), 'versions', '%s.%s' % (VERSION, patch), 'bin', 'python' + VERSION)


def environ(tmp_path, **extra):
    home = tmp_path / 'home'
    home.mkdir(exist_ok=True)
    env = {'HOME': str(home), 'PATH': '/usr/bin:/bin'}
    env.update(extra)
    return env


def test_pyenv_root_is_honoured_and_a_broken_interpreter_skipped(tmp_path):
    root = tmp_path / 'pyenv'
    broken(build(root, 99))  # the newest patch release, tried first, does not run
    good = working(build(root, 1))
    assert find_python(VERSION, environ(tmp_path, PYENV_ROOT=str(root))) == good


def test_newest_patch_release_first_in_numeric_order(tmp_path):
    root = tmp_path / 'pyenv'
    working(build(root, 9))
    newest = working(build(root, 10))
    assert find_python(VERSION, environ(tmp_path, PYENV_ROOT=str(root))) == newest


def test_shims_on_path_are_not_interpreters_but_lead_to_their_pyenv_root(tmp_path):
    """A fresh HOME without PYENV_ROOT: the shims directory on PATH names the pyenv root."""
    root = tmp_path / 'elsewhere'
    broken(os.path.join(str(root), 'shims', 'python' + VERSION))
    good = working(build(root, 2))
    env = environ(tmp_path)
    env['PATH'] = os.path.join(str(root), 'shims') + os.pathsep + env['PATH']
    assert find_python(VERSION, env) == good


def test_nothing_that_runs_is_none(tmp_path):
    root = tmp_path / 'pyenv'
    broken(build(root, 5))
    shims = os.path.join(str(tmp_path), 'other', 'shims')
    broken(os.path.join(shims, 'python' + VERSION))
    env = environ(tmp_path, PYENV_ROOT=str(root))
    env['PATH'] = shims
    assert find_python(VERSION, env) is None


def test_an_interpreter_of_another_version_is_not_taken(tmp_path):
    root = tmp_path / 'pyenv'
    os.makedirs(os.path.dirname(build(root, 0).replace(VERSION, '9.9')), exist_ok=True)
    os.symlink(REAL, build(root, 0).replace(VERSION, '9.9'))
    env = environ(tmp_path, PYENV_ROOT=str(root))
    env['PATH'] = ''
    assert find_python('9.9', env) is None
