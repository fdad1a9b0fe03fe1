"""Copy the collection's sources into DEST/ansible_collections/squirrel/ssm, the layout ansible-test needs.

The files copied are the ones git knows plus the untracked files git does not ignore (what a commit of the
working tree would hold), or, outside a git work tree, every file but the ignored directories. The copy
gets its own (empty) git repository, so that ansible-test lists its files from the copy and not from the
repository around it (whose .gitignore hides build/). The copy's tests/output, where ansible-test keeps its
results and its delegation virtual environment, survives a refresh. Prints the path of the collection root.

    python3 tools/collection_tree.py build/sanity
"""

import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SKIP_DIRS = {'.git', '.venv', 'build', '.cache', '__pycache__', '.pytest_cache', 'output'}


def source_files():
    try:
        out = subprocess.run(['git', 'ls-files', '-z', '--cached', '--others', '--exclude-standard'], cwd=ROOT,
                             check=True, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL).stdout
        files = [name for name in out.decode('utf-8').split('\0') if name]
        # `git ls-files --cached` still lists tracked files deleted from the work tree.
        return sorted(name for name in files if os.path.lexists(os.path.join(ROOT, name)))
    except (OSError, subprocess.CalledProcessError):
        files = []
        for top, dirs, names in os.walk(ROOT):
            dirs[:] = [d for d in dirs if d not in SKIP_DIRS]
            files.extend(os.path.relpath(os.path.join(top, name), ROOT) for name in names
                         if not name.endswith(('.pyc', '.tar.gz')))
        return sorted(files)


def main(dest):
    target = os.path.join(os.path.abspath(dest), 'ansible_collections', 'squirrel', 'ssm')
    # tests/output is ansible-test's: keep it, for the virtual environments it caches under tests/output/.tmp.
    output, stash = os.path.join(target, 'tests', 'output'), os.path.join(os.path.abspath(dest), 'tests-output')
    if os.path.isdir(output):
        shutil.rmtree(stash, ignore_errors=True)
        os.rename(output, stash)
    if os.path.exists(target):
        shutil.rmtree(target)
    for name in source_files():
        source, copy = os.path.join(ROOT, name), os.path.join(target, name)
        os.makedirs(os.path.dirname(copy), exist_ok=True)
        if os.path.islink(source):
            os.symlink(os.readlink(source), copy)
        else:
            shutil.copy2(source, copy)
    if os.path.isdir(stash):
        os.makedirs(os.path.dirname(output), exist_ok=True)
        os.rename(stash, output)
    if shutil.which('git'):
        subprocess.run(['git', 'init', '-q', target], check=True)
    print(target)
    return 0


if __name__ == '__main__':
    if len(sys.argv) != 2:
        sys.exit('usage: collection_tree.py DEST')
    sys.exit(main(sys.argv[1]))
