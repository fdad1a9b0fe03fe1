"""Let ansible-test bootstrap pip in its virtual environments from PyPI alone.

ansible-test creates each sanity/units virtual environment without pip, then runs a `get-pip.py` it
downloads from ci-files.testing.ansible.com and caches in ~/.ansible/test/cache/get_pip_<version>.py.
Where only PyPI is reachable that download fails. This writes, in that cache slot, a stand-in with the
same command line as get-pip.py: it seeds pip with the interpreter's own `ensurepip` (offline), then
installs the exact pip version ansible-test asked for from PyPI. A real get-pip.py already in the cache
is left alone.
"""

import os
import sys

SHIM = '''# Stand-in for get-pip.py, written by squirrel.ssm's tools/ansible_test_pip.py (see there).
import subprocess
import sys

subprocess.check_call([sys.executable, '-m', 'ensurepip', '--default-pip'], stdout=subprocess.DEVNULL)
args = [arg for arg in sys.argv[1:] if arg not in ('--no-setuptools', '--no-wheel')]
subprocess.check_call([sys.executable, '-m', 'pip', 'install', '--disable-pip-version-check', '-q'] + args)
if '--no-setuptools' in sys.argv:
    # ensurepip of Python < 3.12 also seeds setuptools; get-pip.py --no-setuptools would not have.
    subprocess.call([sys.executable, '-m', 'pip', 'uninstall', '-q', '-y', 'setuptools'],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
'''


def pip_versions():
    from ansible_test._internal.python_requirements import get_venv_packages

    class Python:  # all get_venv_packages reads of a PythonConfig
        version = '%d.%d' % sys.version_info[:2]

    return {get_venv_packages(Python())['pip']}


def main():
    cache = os.path.expanduser('~/.ansible/test/cache')
    os.makedirs(cache, exist_ok=True)
    for version in sorted(pip_versions()):
        path = os.path.join(cache, 'get_pip_%s.py' % version.replace('.', '_'))
        if not os.path.exists(path):
            with open(path, 'w') as f:
                f.write(SHIM)
            print('ansible-test will bootstrap pip %s with %s' % (version, path))
    return 0


if __name__ == '__main__':
    sys.exit(main())
