"""Every example of README.md, docs/ and the modules' EXAMPLES runs, literally as written, against the SSM sandbox
through ansible-playbook (tests/examples/examples.py finds them). The harness fills in only the placeholders:
SSM's address (http://ssm.example:8000, https://ssm.internal), the `...` API key of the shell examples, the
`vault_*` variables (given as extra vars, a valid value per provider, as an ansible-vault file would give them)
and the files the examples read (a GCR service-account key). A block that cannot run here needs a
`<!-- example: not-run (why) -->` marker right before it; any other block this harness cannot run fails.
run_block is shared: tests/conformance/test_examples_real.py runs every example that talks to SSM on the real servers."""
import json
import os
import re
import shlex
import subprocess

import pytest
import yaml

from tests.cases import GOOD
from tests.examples.examples import ROOT, all_blocks
from tests.integration.conftest import API_KEY, BIN, assert_no_secret

URLS = ('http://ssm.example:8000', 'https://ssm.internal')
# What an ansible-vault file would hold: a valid value for each provider (tests/cases.py GOOD).
VAULT = {
    'vault_ssm_api_key': API_KEY,
    'vault_acr_client_id': GOOD['acr']['clientid'],
    'vault_acr_client_secret': GOOD['acr']['clientsecret'],
    'vault_aws_access_key_id': GOOD['ecr']['accesskeyid'],
    'vault_aws_secret_access_key': GOOD['ecr']['secretaccesskey'],
    'vault_docker_hub_token': GOOD['hub']['password'],
    'vault_forgejo_password': GOOD['forgejo']['password'],
    'vault_forgejo_token': 'forgejo-token-example-1',
    'vault_ghcr_token': GOOD['ghcr']['token'],
    'vault_gitea_password': 'gitea-password-example-1',
    'vault_gitea_token': 'gitea-token-example-1',
    'vault_gitlab_token': GOOD['gitlab']['token'],
    'vault_harbor': GOOD['custom']['password'],
    'vault_harbor_password': 'harbor-password-example-1',
    'vault_internal_password': 'internal-password-example-1',
    'vault_quay_token': GOOD['quay']['token'],
    'vault_harbor_robot_secret': 'harbor-robot-secret-1',
    'vault_nexus_password': 'nexus-password-example-1',
    'vault_artifactory_token': 'artifactory-token-example-1',
    'vault_gitlab_internal_token': 'gitlab-internal-token-1',
    'vault_export_password': 'export-vault-password-example-1',
}
# The vault password file the examples give ansible-playbook (--vault-password-file vault-pass.txt); the plays get it
# too, so that a vars file with !vault values (docs/adopt.md) runs as written.
VAULT_PASSWORD = 'examples-vault-password-1'
# The files examples read, relative to the playbook.
GCR_KEY = json.dumps({'type': 'service_account', 'client_email': GOOD['gcr']['clientemail'],
                      'private_key': GOOD['gcr']['privatekey']})
HARBOR_FILE = '''ssm_registries:
  - provider: custom
    name: harbor
    credentials:
      url: https://harbor.example.com
      login: "{{ harbor_login }}"
      password: "{{ lookup('ansible.builtin.env', 'HARBOR_ROBOT_SECRET') }}"
'''
FILES = {'sa.json': GCR_KEY, 'files/gcr-service-account.json': GCR_KEY, 'harbor.yml': HARBOR_FILE,
         'vault-pass.txt': VAULT_PASSWORD + '\n'}
# The environment examples read with lookup('ansible.builtin.env', ...), as a CI job would export it.
CI_ENV = {'GHCR_TOKEN': 'ghcr-token-from-ci-1', 'GITLAB_REGISTRY_TOKEN': 'gitlab-token-from-ci-1',
          'HARBOR_ROBOT_SECRET': 'harbor-robot-secret-from-ci-1', 'VAULT_PASSWORD': 'ci-vault-password-1'}
# The secret of the vault-encrypted registries file a CI job converges (vaulted_registries).
VAULTED_TOKEN = 'ghcr-token-from-the-vault-1'
SECRETS = set(v for k, v in VAULT.items() if k != 'vault_acr_client_id' and not k.startswith('vault_aws_access')) | set(CI_ENV.values())
SECRETS.update([VAULT_PASSWORD, VAULTED_TOKEN])
MAKE_TARGETS = set(re.findall(r'^([a-z][\w-]*):', open(os.path.join(ROOT, 'Makefile')).read(), re.M))

BLOCKS = all_blocks()


class Server:
    """The SSM an example runs against, as its user knows it: its address and API key (a vault's
    vault_ssm_api_key, a CI job's SSM_API_KEY); `rows` reads what it stores. For an SSM that refuses API keys
    (v0.1), `login_only` exports SSM_USERNAME and SSM_PASSWORD instead: the collection logs in with them even when
    an example also names a key."""

    def __init__(self, url, rows, api_key, username=None, password=None, login_only=False):
        self.url, self.rows, self.api_key, self.username, self.password = url, rows, api_key, username, password
        self.login_only = login_only

    def env(self):
        """The connection as a CI job exports it."""
        if self.login_only:
            return {'SSM_URL': self.url, 'SSM_USERNAME': self.username, 'SSM_PASSWORD': self.password}
        return {'SSM_URL': self.url, 'SSM_API_KEY': self.api_key}


def sandbox_server(sandbox):
    return Server(sandbox.url, lambda: sandbox.rows, API_KEY)


def fill(text, server):
    for url in URLS:
        text = text.replace(url, server.url)
    return text


def recap(output):
    lines = [line for line in output.splitlines() if re.match(r'^localhost\s+:', line)]
    assert lines, output[-3000:]
    return dict((k, int(v)) for k, v in re.findall(r'(\w+)=(\d+)', lines[-1]))


def prepare(tmp_path, server):
    for name, content in FILES.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    vault = tmp_path / 'vault.json'
    vault.write_text(json.dumps(dict(VAULT, vault_ssm_api_key=server.api_key)))
    return vault


def run(command, ansible, server, tmp_path, env=None, shell=False):
    environment = ansible.env(dict(server.env(), **CI_ENV))
    environment.update(env or {})
    proc = subprocess.run(command, env=environment, capture_output=True, text=True, check=False, cwd=str(tmp_path),
                          shell=shell, executable='/bin/bash' if shell else None)
    output = proc.stdout + proc.stderr
    assert_no_secret(output, SECRETS | set(s for s in (server.api_key, server.password) if s))
    return proc.returncode, output


def run_play(play, ansible, server, tmp_path, twice=True):
    """A play (or a task list wrapped in one, with the connection from the SSM_* variables) with the vault
    variables as extra vars. Every task must succeed; a second run must change nothing (but for a module's
    EXAMPLES, whose tasks are alternatives: its last task purges what the others set)."""
    vault = prepare(tmp_path, server)
    path = tmp_path / 'example.yml'
    path.write_text(json.dumps(play))
    command = [os.path.join(BIN, 'ansible-playbook'), str(path), '-e', '@%s' % vault, '--diff',
               '--vault-password-file', str(tmp_path / 'vault-pass.txt')]
    rc, output = run(command, ansible, server, tmp_path)
    assert rc == 0 and recap(output)['failed'] == 0, output[-4000:]
    if not twice:
        return output
    rc, output = run(command, ansible, server, tmp_path)
    assert rc == 0 and recap(output)['changed'] == 0, 'the second run changed something:\n' + output[-4000:]
    return output


def run_sh(text, ansible, server, tmp_path):
    """The shell lines that are Ansible commands (and their exports) run with bash, in order, as written but for
    the placeholders; `make` lines are checked against the Makefile (they build, test or start servers)."""
    script = ['set -e']
    for line in text.splitlines():
        command = line.split(' #', 1)[0].strip()
        if not command or command.startswith('#'):
            continue
        words = shlex.split(command)
        while words and re.match(r'^[A-Z_]+=', words[0]):
            words.pop(0)
        if words[0] == 'make':
            targets = [w for w in words[1:] if not re.match(r'^[A-Z_]+=', w)] or ['all']
            assert set(targets) <= MAKE_TARGETS, 'make target(s) %s not in the Makefile' % targets
            continue
        assert words[0] in ('export', 'ansible', 'ansible-playbook', 'ansible-doc', 'ansible-galaxy',
                            'ansible-vault', 'ansible-inventory'), \
            'cannot run `%s` here: mark the block <!-- example: not-run (why) -->' % command
        command = command.replace('SSM_API_KEY=...', 'SSM_API_KEY=%s' % server.api_key)
        script.append(fill(command, server))
    if len(script) == 1:
        return ''
    prepare(tmp_path, server)
    rc, output = run('\n'.join(script), ansible, server, tmp_path, shell=True)
    assert rc == 0, '\n'.join(script) + '\n' + output[-4000:]
    return output


def vaulted_registries(path):
    """The registries file a job converges, as the export writes it: its secret an ansible-vault value, encrypted
    with the password of the CI variable VAULT_PASSWORD (so the run fails unless the job hands ansible-playbook that
    password). Returns the secret, which SSM must then store."""
    from ansible.constants import DEFAULT_VAULT_ID_MATCH
    from ansible.parsing.vault import VaultLib, VaultSecret
    vault = VaultLib([(DEFAULT_VAULT_ID_MATCH, VaultSecret(CI_ENV['VAULT_PASSWORD'].encode()))])
    encrypted = vault.encrypt(VAULTED_TOKEN).decode()
    path.write_text('ssm_registries:\n  - provider: ghcr\n    credentials:\n      username: octocat\n'
                    '      token: !vault |\n' + ''.join('        %s\n' % line for line in encrypted.splitlines()))
    return VAULTED_TOKEN


def run_ci_job(data, ansible, server, tmp_path):
    """A CI job file (GitLab CI): each job's variables become the environment, its script runs in one shell (as
    GitLab runs it) in the project directory, then its after_script; the collection tarball it installs is the one
    `make build` builds; a registries file it reads is the example one, or one with a vault-encrypted secret when
    the job gives ansible-playbook a vault password file (ANSIBLE_VAULT_PASSWORD_FILE)."""
    for job in data.values():
        env = dict((k, fill(str(v), server)) for k, v in (job.get('variables') or {}).items())
        env = dict(server.env(), CI_PROJECT_DIR=str(tmp_path), **env)  # the connection of a masked CI/CD variable
        vaulted = 'ANSIBLE_VAULT_PASSWORD_FILE' in json.dumps(job)
        script, stored = ['set -e'], None
        for command in job['script']:
            words = shlex.split(command)
            if words[:3] == ['ansible-galaxy', 'collection', 'install']:
                version = yaml.safe_load(open(os.path.join(ROOT, 'galaxy.yml')))['version']
                assert words[3] == 'squirrel-ssm-%s.tar.gz' % version, 'the tarball of version %s' % version
                continue  # the collection is installed already (ANSIBLE_COLLECTIONS_PATH)
            for word in words:
                if word.startswith('@'):
                    if vaulted:
                        stored = vaulted_registries(tmp_path / word[1:])
                    else:
                        source = os.path.join(ROOT, 'playbooks', 'vars', 'example_registries.yml')
                        (tmp_path / word[1:]).write_text(open(source).read())
            script.append(command)
        rc, output = run('\n'.join(script), ansible, server, tmp_path, env=env, shell=True)
        assert rc == 0 and recap(output)['failed'] == 0, '\n'.join(script) + '\n' + output[-4000:]
        if job.get('after_script'):
            rc, output = run('\n'.join(job['after_script']), ansible, server, tmp_path, env=env, shell=True)
            assert rc == 0, output
        if stored is not None:
            assert server.rows()['ghcr']['auth']['token'] == stored, 'the vaulted secret did not reach SSM'
            assert not [p for p in os.listdir(str(tmp_path)) if 'vault' in p and CI_ENV['VAULT_PASSWORD'] in
                        open(os.path.join(str(tmp_path), p)).read()], 'the job left the vault password on disk'


def run_block(block, ansible, server, tmp_path, twice=True):
    """Run one example against `server` as the harness runs every example (twice: the second run of a play must
    change nothing; twice=False runs it once)."""
    kind = block.kind()
    assert kind, '%s: a block the harness cannot run: make it a play, a task list, a vars file, a CI job or ' \
        'shell, or mark it <!-- example: not-run (why) -->' % block.id
    vault_names = set(re.findall(r'\b(vault_\w+)\b(?!:)', block.text))  # a key (vault_password:) is no variable
    assert vault_names <= set(VAULT), 'give %s a value in VAULT' % sorted(vault_names - set(VAULT))
    if kind == 'play':
        run_play(yaml.safe_load(fill(block.text, server)), ansible, server, tmp_path, twice=twice)
    elif kind == 'tasks':
        tasks = yaml.safe_load(fill(block.text, server))
        run_play([{'hosts': 'localhost', 'gather_facts': False, 'tasks': tasks}], ansible, server, tmp_path,
                 twice=twice and not block.source.startswith('plugins/'))
    elif kind == 'vars':
        vars_file = tmp_path / 'registries.yml'
        vars_file.write_text(fill(block.text, server))
        vault = prepare(tmp_path, server)
        command = [os.path.join(BIN, 'ansible-playbook'), 'squirrel.ssm.configure_registries', '-e', '@%s' % vault,
                   '-e', '@%s' % vars_file, '--vault-password-file', str(tmp_path / 'vault-pass.txt')]
        rc, output = run(command, ansible, server, tmp_path)
        assert rc == 0 and recap(output)['failed'] == 0, output[-4000:]
    elif kind == 'ci-job':
        run_ci_job(yaml.safe_load(block.text), ansible, server, tmp_path)
    else:
        run_sh(block.text, ansible, server, tmp_path)
    if 'robot$ci' in block.text:  # the Harbor robot account, its $ quoted right in YAML and in the shell
        logins = [(row.get('auth') or {}).get('login') for row in server.rows().values()]
        assert 'robot$ci' in logins, logins


@pytest.mark.parametrize('block', BLOCKS, ids=[b.id for b in BLOCKS])
def test_example(block, ansible, sandbox, tmp_path):
    if block.marker:
        pytest.skip('marked not-run: ' + block.marker)
    run_block(block, ansible, sandbox_server(sandbox), tmp_path)


def test_markers_say_why():
    for block in BLOCKS:
        assert block.marker is None or len(block.marker.strip()) > 3, block.id


def test_a_new_unmarked_block_is_found_and_an_unknown_shape_fails(tmp_path):
    from tests.examples.examples import Block, doc_blocks
    page = tmp_path / 'page.md'
    page.write_text('# x\n\n```yaml\n- name: new\n  ansible.builtin.ping:\n```\n\n'
                    '<!-- example: not-run (needs a real registry) -->\n```sh\ndocker login\n```\n\n```yaml\n42\n```\n')
    blocks = doc_blocks(str(page))
    assert [(b.lang, b.marker) for b in blocks] == [('yaml', None), ('sh', 'needs a real registry'), ('yaml', None)]
    assert blocks[0].kind() == 'tasks' and Block('x', 1, 'yaml', '42\n').kind() is None


def test_the_module_examples_are_what_ansible_doc_shows(collections):
    modules = [b for b in BLOCKS if b.source.startswith('plugins/modules/')]
    names = ['squirrel.ssm.' + os.path.basename(b.source)[:-3] for b in modules]
    proc = subprocess.run([os.path.join(BIN, 'ansible-doc'), '--json'] + names, capture_output=True, text=True,
                          env=dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collections), check=False)
    assert proc.returncode == 0 and not proc.stderr.strip(), proc.stderr
    docs = json.loads(proc.stdout)
    for name, block in zip(names, modules):
        assert docs[name]['examples'] == block.text, name
