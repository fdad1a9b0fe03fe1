"""`make compat`: the collection under every ansible-core it claims (meta/runtime.yml), each in its own venv.

    python tools/compat.py                 every version of VERSIONS
    python tools/compat.py 2.16 2.21       only these
    python tools/compat.py -j 1            one version at a time (default: 2 side by side, each with its own sandbox)
    python tools/compat.py --venv 2.16     only create (or reuse) the venv of 2.16 and print its bin directory

For each ansible-core X.Y, in a venv cached in build/compat/X.Y/venv (created once, reused while its spec is
unchanged; pip's own cache makes a re-creation cheap), the collection is built and installed with that version's
ansible-galaxy into build/compat/X.Y/collections, then, against the SSM sandbox:

  main job     tools/main_job.py (the role through squirrel.ssm.configure_registries, twice); the second run
               must have changed=0 and written nothing
  ad hoc       ansible localhost -m squirrel.ssm.ssm_registry_info (connection from SSM_* variables)
  check mode   the README's main example (module_defaults + include_role) with --check: reports changes,
               writes nothing
  defaults     the same play for real: converges through module_defaults, then a second run changes nothing
  export       squirrel.ssm.export_registries of what that play stored (the action plugin, on this version's vault),
               then squirrel.ssm.configure_registries from the file: changed=0 and nothing written

COMPAT_TIMES=1 prints the time of every command. A version PyPI does not serve, or whose controller Python this machine lacks, is skipped with a line saying so.
"""

import fcntl
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from tools.pythons import find_python  # noqa: E402  (needs ROOT on sys.path)
COMPAT = os.path.join(ROOT, 'build', 'compat')

# ansible-core X.Y -> the controller Pythons it supports, preferred first (2.20 and later need 3.12+).
VERSIONS = {
    '2.16': ['3.11', '3.12', '3.10'],
    '2.17': ['3.11', '3.12', '3.10'],
    '2.18': ['3.11', '3.12', '3.13'],
    '2.19': ['3.11', '3.12', '3.13'],
    '2.20': ['3.12', '3.13'],
    '2.21': ['3.13', '3.12'],
}
API_KEY = 'compat-api-key'


class Failed(Exception):
    pass


_local = threading.local()


def say(text):
    """Print, or keep for later when a worker runs several versions side by side."""
    buffer = getattr(_local, 'buffer', None)
    if buffer is None:
        print(text.rstrip('\n'), flush=True)
    else:
        buffer.append(text.rstrip('\n'))


def run(command, env=None, cwd=ROOT, check=True):
    began = time.time()
    process = subprocess.run(command, env=env, cwd=cwd, universal_newlines=True, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, check=False)
    if os.environ.get('COMPAT_TIMES'):
        say('    %.1fs %s' % (time.time() - began, ' '.join(os.path.basename(c) for c in command[:3])))
    if check and process.returncode:
        say(process.stdout[-6000:])
        raise Failed('%s exited with %d' % (' '.join(command[:4]), process.returncode))
    return process


def venv(core):
    """The bin directory of the venv of ansible-core `core`, created if missing or stale; None (and why) when
    this machine cannot have it."""
    python = next((p for p in map(find_python, VERSIONS[core]) if p), None)
    if not python:
        return None, 'no Python %s on this machine' % ' or '.join(VERSIONS[core])
    os.makedirs(os.path.join(COMPAT, core), exist_ok=True)
    # Two test workers may ask for the same venv at once on a fresh machine: one builds it, the other waits.
    with open(os.path.join(COMPAT, core, 'venv.lock'), 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _venv(core, python)


def _venv(core, python):
    home = os.path.join(COMPAT, core, 'venv')
    spec = ['ansible-core==%s.*' % core, 'requests>=2.25']
    stamp = os.path.join(home, '.compat-spec')
    wanted = json.dumps([python, spec])
    if os.path.exists(stamp) and open(stamp).read() == wanted:
        return os.path.join(home, 'bin'), None
    shutil.rmtree(home, ignore_errors=True)
    run([python, '-m', 'venv', home])
    pip = run([os.path.join(home, 'bin', 'python'), '-m', 'pip', 'install', '-q', '--disable-pip-version-check']
              + spec, check=False)
    if pip.returncode:
        if 'No matching distribution' in pip.stdout:
            shutil.rmtree(home, ignore_errors=True)
            return None, 'PyPI serves no ansible-core %s for Python %s' % (core, python)
        say(pip.stdout[-3000:])
        raise Failed('pip install %s failed' % ' '.join(spec))
    with open(stamp, 'w') as f:
        f.write(wanted)
    return os.path.join(home, 'bin'), None


def environ(bin_dir, collections, **extra):
    env = dict((k, v) for k, v in os.environ.items() if not k.startswith(('SSM_', 'ANSIBLE_', 'VIRTUAL_ENV')))
    env.update(PATH=bin_dir + os.pathsep + os.environ.get('PATH', ''), ANSIBLE_COLLECTIONS_PATH=collections,
               ANSIBLE_NOCOLOR='1', ANSIBLE_PIPELINING='1', ANSIBLE_LOCALHOST_WARNING='0', ANSIBLE_INVENTORY_UNPARSED_WARNING='0',
               ANSIBLE_PYTHON_INTERPRETER=os.path.join(bin_dir, 'python'))
    env.update(extra)
    return env


def install(bin_dir, core):
    """Build the collection with this version's ansible-galaxy and install the artifact."""
    dist = os.path.join(COMPAT, core, 'dist')
    collections = os.path.join(COMPAT, core, 'collections')
    shutil.rmtree(dist, ignore_errors=True)
    shutil.rmtree(collections, ignore_errors=True)
    galaxy = os.path.join(bin_dir, 'ansible-galaxy')
    env = environ(bin_dir, collections)
    run([galaxy, 'collection', 'build', '--force', '--output-path', dist, ROOT], env=env)
    tarball = glob.glob(os.path.join(dist, '*.tar.gz'))[0]
    run([galaxy, 'collection', 'install', '--force', '-p', collections, tarball], env=env)
    return collections


class Recap(dict):
    def __str__(self):
        return 'ok=%d changed=%d failed=%d' % (self.get('ok', 0), self.get('changed', 0), self.get('failed', 0))


def recap(output):
    """{'ok': n, 'changed': n, 'failed': n, ...} of the last PLAY RECAP line of localhost."""
    lines = [line for line in output.splitlines() if re.match(r'^localhost\s+:', line)]
    if not lines:
        raise Failed('no PLAY RECAP in:\n' + output[-3000:])
    return Recap((k, int(v)) for k, v in re.findall(r'(\w+)=(\d+)', lines[-1]))


VAULT = {'vault_ssm_api_key': API_KEY, 'vault_ghcr_token': 'compat-ghcr-token', 'vault_gitlab_token': 'compat-gitlab',
         'vault_harbor': 'compat-harbor-password'}


def readme_main_example():
    """The README's main example (the first YAML block of "Using it"), as it is written there."""
    import yaml
    with open(os.path.join(ROOT, 'README.md')) as f:
        section = f.read().split('## Using it', 1)[1]
    return yaml.safe_load(section.split('```yaml', 1)[1].split('```', 1)[0])


def check_version(core, bin_dir, sandbox):
    collections = install(bin_dir, core)
    version = run([os.path.join(bin_dir, 'python'), '-c', 'from ansible.release import __version__; print(__version__)'],
                  env=environ(bin_dir, collections)).stdout.strip()
    say('  ansible-core %s on Python %s' % (version, os.path.basename(os.path.realpath(os.path.join(bin_dir, 'python')))))

    # The main job, as `make run` does it: two runs of the role, the second changes and writes nothing.
    sandbox.reset()
    env = environ(bin_dir, collections)
    out = run([os.path.join(bin_dir, 'python'), os.path.join(ROOT, 'tools', 'main_job.py')], env=env).stdout
    second = out.split('=== second run')[-1]
    if '=== second run' not in out or recap(second).get('changed') != 0 or ', 0 of them writes' not in second:
        say(out[-4000:])
        raise Failed('main job: the second run changed something')
    say('  main job: first run %s, second run %s' % (recap(out.split('=== second run')[0]), recap(second)))

    env = environ(bin_dir, collections, SSM_URL=sandbox.url, SSM_API_KEY=API_KEY)
    out = run([os.path.join(bin_dir, 'ansible'), 'localhost', '-m', 'squirrel.ssm.ssm_registry_info',
               '-a', 'provider=custom'], env=env).stdout
    if 'SUCCESS' not in out or '"registries"' not in out:
        say(out[-3000:])
        raise Failed('ad hoc ssm_registry_info did not succeed')
    say('  ad hoc: ssm_registry_info ok')

    play = readme_main_example()
    play[0]['module_defaults']['group/squirrel.ssm.ssm']['ssm_url'] = sandbox.url
    playbook = os.path.join(COMPAT, core, 'readme_example.yml')
    with open(playbook, 'w') as f:
        json.dump(play, f, indent=1)
    sandbox.reset()
    env = environ(bin_dir, collections)
    command = [os.path.join(bin_dir, 'ansible-playbook'), playbook, '-e', json.dumps(VAULT)]
    out = run(command + ['--check', '--diff'], env=env).stdout
    if recap(out).get('changed', 0) < 1 or sandbox.writes():
        say(out[-3000:])
        raise Failed('check mode: expected changes and no write, got %s and %d write(s)'
                     % (recap(out), len(sandbox.writes())))
    say('  check mode: %s, 0 writes' % recap(out))
    out = run(command, env=env).stdout
    first = recap(out)
    if first.get('changed', 0) < 1 or not sandbox.writes() or 'harbor' not in sandbox.rows:
        say(out[-3000:])
        raise Failed('module_defaults play: expected it to converge, got %s' % first)
    sandbox.clear_requests()
    out = run(command, env=env).stdout
    if recap(out).get('changed') != 0 or sandbox.writes():
        say(out[-3000:])
        raise Failed('module_defaults play: the second run changed something: %s' % recap(out))
    say('  module_defaults + include_role: %s, then %s' % (first, recap(out)))

    # Adopt: export what SSM now stores (secrets vault-encrypted by this version's VaultLib), converge from it.
    exported = os.path.join(COMPAT, core, 'exported.yml')
    password_file = os.path.join(COMPAT, core, 'vault-pass.txt')
    with open(password_file, 'w') as f:
        f.write('compat-vault-password\n')
    if os.path.exists(exported):
        os.remove(exported)
    env = environ(bin_dir, collections, SSM_URL=sandbox.url, SSM_API_KEY=API_KEY)
    vault = ['--vault-password-file', password_file]
    out = run([os.path.join(bin_dir, 'ansible-playbook'), 'squirrel.ssm.export_registries',
               '-e', 'ssm_export_path=%s' % exported] + vault, env=env).stdout
    if recap(out).get('failed') or not os.path.exists(exported) or '$ANSIBLE_VAULT' not in open(exported).read():
        say(out[-3000:])
        raise Failed('export: no vault-encrypted file written: %s' % recap(out))
    sandbox.clear_requests()
    out = run([os.path.join(bin_dir, 'ansible-playbook'), 'squirrel.ssm.configure_registries',
               '-e', '@%s' % exported] + vault, env=env).stdout
    if recap(out).get('changed') != 0 or sandbox.writes():
        say(out[-3000:])
        raise Failed('export: converging from the exported file changed something: %s, %d write(s)'
                     % (recap(out), len(sandbox.writes())))
    say('  export, then converge from it: %s, 0 writes' % recap(out))


def one(core, jobs):
    """Check one version against its own sandbox; (core, status, venv seconds, seconds, output lines)."""
    from tests.sandbox.ssm_sandbox import Sandbox
    _local.buffer = [] if jobs > 1 else None
    say('\n=== compat: ansible-core %s ===' % core)
    start = time.time()
    setup = 0
    sandbox = Sandbox(api_key=API_KEY).start()
    try:
        bin_dir, why = venv(core)
        setup = time.time() - start
        if bin_dir:
            check_version(core, bin_dir, sandbox)
            status = 'ok'
        else:
            status = 'skipped: ' + why
    except Failed as e:
        status = 'FAILED: %s' % e
    finally:
        sandbox.stop()
    seconds = time.time() - start
    say('--- ansible-core %s: %s (%.0fs, venv %.0fs)' % (core, status, seconds, setup))
    return core, status, setup, seconds, _local.buffer or []


def main(argv):
    if argv[:1] == ['--venv']:
        bin_dir, why = venv(argv[1])
        if not bin_dir:
            print('skip: %s' % why)
            return 3
        print(bin_dir)
        return 0
    jobs = 2
    if argv[:1] == ['-j']:
        jobs, argv = int(argv[1]), argv[2:]
    wanted = argv or list(VERSIONS)
    unknown = [v for v in wanted if v not in VERSIONS]
    if unknown:
        print('unknown ansible-core version(s) %s; known: %s' % (', '.join(unknown), ', '.join(VERSIONS)))
        return 2
    import yaml
    with open(os.path.join(ROOT, 'meta', 'runtime.yml')) as f:
        requires = yaml.safe_load(f)['requires_ansible']
    lowest = min(VERSIONS, key=lambda v: tuple(map(int, v.split('.'))))
    if not re.match(r'^>=\s*%s(\.0)?$' % re.escape(lowest), requires):
        print('meta/runtime.yml requires_ansible is %r, but the oldest ansible-core tested here is %s' % (requires, lowest))
        return 1
    start = time.time()
    results = []
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        for result in pool.map(lambda core: one(core, jobs), wanted):
            for line in result[4]:
                print(line)
            sys.stdout.flush()
            results.append(result)
    print('\n=== compat summary (%d at a time) ===' % jobs)
    for core, status, setup, seconds, dummy in results:
        print('ansible-core %-5s %5.0fs (venv %3.0fs)  %s' % (core, seconds, setup, status))
    print('total %.0fs' % (time.time() - start))
    return 1 if any(r[1].startswith('FAILED') for r in results) else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
