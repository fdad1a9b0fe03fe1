"""The README's commands as a newcomer types them: `make run` installs only what the main job needs, and
`make sandbox` starts a sandbox and says how to use it."""
import os
import re
import signal
import subprocess
import sys

import requests

from tests.examples.examples import ROOT


def dry_run(target, tmp_path, markers=()):
    """What `make <target>` would run, on a fresh (fake) venv holding the given markers."""
    venv = tmp_path / 'venv'
    venv.mkdir()
    for marker in markers:
        (venv / marker).write_text('')
    proc = subprocess.run(['make', '-n', target, 'VENV=%s' % venv], cwd=ROOT, capture_output=True, text=True,
                          check=True)
    return proc.stdout


def test_make_run_installs_only_the_run_requirements(tmp_path):
    commands = dry_run('run', tmp_path)
    assert '-r requirements-run.txt' in commands and 'requirements-dev.txt' not in commands, commands
    run_set = open(os.path.join(ROOT, 'requirements-run.txt')).read()
    for tool in ('molecule', 'moto', 'azure-identity', 'boto3', 'pytest', 'ansible-lint'):
        assert tool not in run_set
    assert 'ansible-core' in run_set and '-r requirements.txt' in run_set
    # the main job's own imports: the standard library and the sandbox, nothing the dev set brings
    for path in ('tools/main_job.py', 'tests/sandbox/ssm_sandbox.py'):
        imports = re.findall(r'^(?:import|from) (\w+)', open(os.path.join(ROOT, path)).read(), re.M)
        assert set(imports) <= set(sys.stdlib_module_names) | {'tests'}, (path, imports)


def test_make_test_installs_the_dev_set_on_top_of_the_run_set(tmp_path):
    commands = dry_run('test', tmp_path, markers=['.run-installed'])
    assert '-r requirements-dev.txt' in commands and '-r requirements-run.txt' not in commands, commands
    assert '-r requirements-run.txt' in open(os.path.join(ROOT, 'requirements-dev.txt')).read()


def test_make_sandbox_prints_how_to_use_it_and_stops_on_ctrl_c():
    proc = subprocess.Popen(['make', '--no-print-directory', 'sandbox', 'PYTHON=%s' % sys.executable], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    lines = []
    try:
        for line in proc.stdout:
            lines.append(line)
            if 'Ctrl-C' in line:
                break
        text = ''.join(lines)
        export = re.search(r'export SSM_URL=(\S+) SSM_API_KEY=(\S+)', text)
        assert export, text
        url, key = export.groups()
        assert re.search(r'API key\s+%s' % re.escape(key), text) and 'username' in text and 'password' in text
        answer = requests.get(url + '/api/container-registries', headers={'Authorization': 'Bearer ' + key},
                              timeout=10)
        assert answer.status_code == 200, answer.text
        # The paste line is all another shell needs: no .venv on PATH, no ANSIBLE_COLLECTIONS_PATH, another directory.
        paste = [line.strip() for line in lines if line.strip().startswith('export SSM_URL=')][0]
        bare = dict((k, v) for k, v in os.environ.items() if not k.startswith(('SSM_', 'ANSIBLE_', 'VIRTUAL_ENV')))
        bare['PATH'] = os.pathsep.join(p for p in bare.get('PATH', '').split(os.pathsep)
                                       if os.path.realpath(p) != os.path.realpath(os.path.dirname(sys.executable)))
        used = subprocess.run(['bash', '-c', paste + ' && ansible localhost -m squirrel.ssm.ssm_registry_info -a '
                               'name=ghcr'], env=bare, cwd='/', capture_output=True, text=True, check=False)
        assert used.returncode == 0 and '"name": "ghcr"' in used.stdout, used.stdout + used.stderr
    finally:
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C in the terminal: make and the sandbox both get it
        proc.wait(timeout=15)
    try:
        requests.get(url, timeout=2)
        stopped = False
    except requests.ConnectionError:
        stopped = True
    assert stopped, 'the sandbox still answers after Ctrl-C'
