"""Find a Python X.Y interpreter that really runs: the one place tools/compat.py, noxfile.py and the tests look.

    python3 tools/pythons.py 3.7 3.12      prints "3.7 /path/to/python3.7" for each version found

Candidates, newest patch release first: pyenv's builds under $PYENV_ROOT/versions (else ~/.pyenv, else the pyenv
root whose shims are on PATH, so that a fresh HOME still finds them), then pythonX.Y on PATH. Each must run
`-c` and report X.Y: a pyenv shim for a version pyenv has not selected is on PATH and only prints
"pyenv: python3.12: command not found", so being there proves nothing. The result is the interpreter's real
path (sys.executable), never a shim, so that a venv made from it does not depend on pyenv or HOME.
"""

import glob
import os
import re
import subprocess
import sys

PROBE = 'import sys; print("%d.%d" % sys.version_info[:2]); print(sys.executable)'


def pyenv_roots(environ=None):
    environ = os.environ if environ is None else environ
    roots = []
    if environ.get('PYENV_ROOT'):
        roots.append(environ['PYENV_ROOT'])
    if environ.get('HOME'):
        roots.append(os.path.join(environ['HOME'], '.pyenv'))
    for entry in environ.get('PATH', '').split(os.pathsep):
        if os.path.basename(entry.rstrip(os.sep)) == 'shims':
            roots.append(os.path.dirname(entry.rstrip(os.sep)))
    unique = []
    for root in roots:
        if root not in unique:
            unique.append(root)
    return unique


def _patch(path, version):
    found = re.search(r'/%s\.(\d+)[^/]*/bin/' % re.escape(version), path)
    return int(found.group(1)) if found else -1


def candidates(version, environ=None):
    environ = os.environ if environ is None else environ
    found = []
    for root in pyenv_roots(environ):
        pattern = os.path.join(root, 'versions', '%s.*' % version, 'bin', 'python%s' % version)
        found += sorted(glob.glob(pattern), key=lambda p: _patch(p, version), reverse=True)
    for entry in environ.get('PATH', '').split(os.pathsep):
        path = os.path.join(entry, 'python%s' % version)
        if entry and os.access(path, os.X_OK) and not os.path.isdir(path):
            found.append(path)
    return found


def runs(python, version, environ=None):
    """The real path of `python` when it runs and is X.Y, else None."""
    try:
        process = subprocess.run([python, '-c', PROBE], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                 universal_newlines=True, timeout=30, check=False,
                                 env=os.environ if environ is None else environ)
    except (OSError, subprocess.SubprocessError):
        return None
    lines = process.stdout.splitlines()
    if process.returncode or len(lines) != 2 or lines[0] != version:
        return None
    return lines[1] or python


def find_python(version, environ=None):
    """An interpreter of Python X.Y that runs (its real path), or None when this machine has none."""
    for python in candidates(version, environ):
        real = runs(python, version, environ)
        if real:
            return real
    return None


if __name__ == '__main__':
    missing = 0
    for wanted in sys.argv[1:]:
        result = find_python(wanted)
        print('%s %s' % (wanted, result or 'not found'))
        missing += result is None
    sys.exit(1 if missing else 0)
