"""The modules' Python floor (3.7): a target below it gets a message naming the floor, not a SyntaxError."""
import glob
import json
import os
import subprocess
import sys

import pytest

from tests.integration.conftest import ROOT
from tools.pythons import find_python

FLOOR_MESSAGE = 'squirrel.ssm modules need Python 3.7 or newer on the target; this one runs %s'
OLD_PYTHONS = ['2.7', '3.6']


def old_python(version):
    path = find_python(version)
    if not path:
        pytest.skip('no Python %s on this machine (tools/pythons.py)' % version)
    return path


@pytest.mark.parametrize('version', OLD_PYTHONS)
def test_every_plugin_file_compiles_on_old_pythons(version, tmp_path):
    """A SyntaxError anywhere under plugins/ would hide the floor's message."""
    python = old_python(version)
    files = sorted(glob.glob(os.path.join(ROOT, 'plugins', '*', '*.py')))
    script = ('import py_compile, sys\n'
              'for i, f in enumerate(sys.argv[2:]):\n'
              '    py_compile.compile(f, cfile="%s/%d.pyc" % (sys.argv[1], i), doraise=True)\n')
    proc = subprocess.run([python, '-c', script, str(tmp_path)] + files, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize('version', OLD_PYTHONS)
def test_ssm_module_stops_below_the_floor_before_anything_else(version):
    python = old_python(version)
    proc = subprocess.run([python, os.path.join(ROOT, 'plugins', 'module_utils', 'ssm_module.py')],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 1, proc.stderr
    result = json.loads(proc.stdout)
    assert result['failed'] and result['msg'].startswith(FLOOR_MESSAGE % version)


@pytest.fixture(scope='module')
def ansible_216():
    """ansible-core 2.16, the last to run modules on Python 2.7 and 3.6, from `make compat`'s cached venv."""
    proc = subprocess.run([sys.executable, os.path.join(ROOT, 'tools', 'compat.py'), '--venv', '2.16'],
                          capture_output=True, text=True, check=False)
    if proc.returncode == 3:
        pytest.skip(proc.stdout.strip())
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout.strip().splitlines()[-1]


@pytest.mark.parametrize('module', ['ssm_registry_info', 'ssm_registry'])
@pytest.mark.parametrize('version', OLD_PYTHONS)
def test_a_module_on_an_old_target_names_the_floor(ansible, ansible_216, module, version):
    python = old_python(version)
    command = [os.path.join(ansible_216, 'ansible'), 'localhost', '-m', 'squirrel.ssm.' + module,
               '-a', 'provider=hub', '-e', 'ansible_python_interpreter=' + python]
    env = ansible.env({'SSM_URL': ansible.sandbox.url, 'SSM_API_KEY': 'whatever-key'})
    env['PATH'] = ansible_216 + os.pathsep + env['PATH']
    proc = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert FLOOR_MESSAGE % version in output, output
    assert 'SyntaxError' not in output
    assert ansible.sandbox.requests == []
