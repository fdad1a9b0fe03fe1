"""The AWX / AAP credential type of meta/awx-credential-type.yml: its structure against AWX's schema for
custom credential types, its injectors rendered as AWX renders them (a sandboxed Jinja2 environment, file templates
written first and named by tower.filename.<name>), and squirrel.ssm.configure_registries run with exactly the
environment they inject, against the SSM sandbox (API key over TLS with the injected CA, login, skipped check)."""
import os
import re
import subprocess
from types import SimpleNamespace

import pytest
import yaml
from jinja2 import meta
from jinja2.sandbox import ImmutableSandboxedEnvironment

from ansible_collections.squirrel.ssm.plugins.module_utils.ssm_api import CONNECTION_SPEC
from tests.harness import tls_sandbox
from tests.integration.conftest import API_KEY, BIN, PASSWORD, USERNAME, assert_no_secret, own_writes

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CREDENTIAL_TYPE = os.path.join(ROOT, 'meta', 'awx-credential-type.yml')
# AWX's schema of a custom credential type (its CredentialTypeInputField and CredentialTypeInjectorField).
FIELD_KEYS = {'id', 'label', 'type', 'secret', 'multiline', 'help_text', 'format', 'choices', 'default',
              'ask_at_runtime'}
FIELD_ID = re.compile(r'^[a-zA-Z_][a-zA-Z0-9_]*$')
ENV_NAME = re.compile(r'^[A-Za-z_][A-Za-z0-9_]*$')
REGISTRIES = [{'provider': 'ghcr', 'credentials': {'username': 'octocat', 'token': 'awx-ghcr-token-6'}}]


def credential_type():
    with open(CREDENTIAL_TYPE) as f:
        return yaml.safe_load(f)


def test_the_credential_type_has_awx_s_structure():
    data = credential_type()
    assert set(data) == {'name', 'description', 'kind', 'inputs', 'injectors'} and data['kind'] in ('cloud', 'net')
    fields = data['inputs']['fields']
    assert set(data['inputs']) <= {'fields', 'required'}
    ids = [field['id'] for field in fields]
    assert len(ids) == len(set(ids))
    for field in fields:
        assert set(field) <= FIELD_KEYS and FIELD_ID.match(field['id']) and field['label'], field
        assert field['type'] in ('string', 'boolean'), field
        if field['type'] == 'boolean':
            assert not field.get('secret') and not field.get('multiline'), field
        for flag in ('secret', 'multiline', 'ask_at_runtime'):
            assert isinstance(field.get(flag, False), bool), field
    assert set(data['inputs']['required']) <= set(ids) and data['inputs']['required'] == ['ssm_url']
    secret = set(field['id'] for field in fields if field.get('secret'))
    assert secret == {'ssm_api_key', 'ssm_password'}

    injectors = data['injectors']
    assert set(injectors) <= {'env', 'file', 'extra_vars'}
    assert all(key == 'template' or key.startswith('template.') for key in injectors.get('file', {}))
    files = set(key.split('.', 1)[1] for key in injectors.get('file', {}) if '.' in key)
    env = ImmutableSandboxedEnvironment()
    for name, template in list(injectors.get('env', {}).items()) + list(injectors.get('file', {}).items()):
        assert isinstance(template, str), name
        used = meta.find_undeclared_variables(env.parse(template))
        assert used <= set(ids) | {'tower'}, (name, used - set(ids))
    for template in injectors['env'].values():
        assert set(re.findall(r'tower\.filename\.(\w+)', template)) <= files
    assert all(ENV_NAME.match(name) for name in injectors['env'])


def test_every_injected_variable_is_one_the_modules_read():
    read = set(option['fallback'][1][0] for option in CONNECTION_SPEC.values() if 'fallback' in option)
    injected = set(credential_type()['injectors']['env'])
    assert injected <= read, injected - read
    assert {'SSM_URL', 'SSM_API_KEY', 'SSM_USERNAME', 'SSM_PASSWORD'} <= injected


def inject(inputs, tmp_path):
    """The environment AWX gives a job for a credential of this type: file templates written to files first,
    then every env template rendered with the inputs (a boolean input left unset is false, as in AWX)."""
    data = credential_type()
    namespace = dict((field['id'], False) for field in data['inputs']['fields'] if field['type'] == 'boolean')
    namespace.update(inputs)
    env = ImmutableSandboxedEnvironment()
    filenames = {}
    for key, template in data['injectors'].get('file', {}).items():
        path = tmp_path / ('awx-cred-' + key.replace('.', '-'))
        path.write_text(env.from_string(template).render(**namespace))
        filenames[key.split('.', 1)[1] if '.' in key else 'filename'] = str(path)
    namespace['tower'] = SimpleNamespace(filename=SimpleNamespace(**filenames))
    return dict((name, env.from_string(template).render(**namespace))
                for name, template in data['injectors']['env'].items())


def configure(injected, tmp_path, collections):
    """squirrel.ssm.configure_registries with the injected environment and nothing else of SSM's."""
    registries = tmp_path / 'registries.yml'
    registries.write_text(yaml.safe_dump({'ssm_registries': REGISTRIES}))
    env = dict((k, v) for k, v in os.environ.items() if not k.startswith('SSM_'))
    env.update(injected, ANSIBLE_COLLECTIONS_PATH=collections, ANSIBLE_NOCOLOR='1',
               ANSIBLE_LOCALHOST_WARNING='0', ANSIBLE_INVENTORY_UNPARSED_WARNING='0',
               PATH=BIN + os.pathsep + os.environ.get('PATH', ''))
    proc = subprocess.run([os.path.join(BIN, 'ansible-playbook'), 'squirrel.ssm.configure_registries', '-e',
                           '@%s' % registries, '-v'], env=env, capture_output=True, text=True, check=False)
    output = proc.stdout + proc.stderr
    assert_no_secret(output, {API_KEY, PASSWORD, 'awx-ghcr-token-6'})
    changed = [int(n) for n in re.findall(r'^localhost\s+:.*changed=(\d+)', output, re.M)]
    return proc.returncode, changed[-1] if changed else None, output


@pytest.fixture
def tls_server(tmp_path):
    server, ca = tls_sandbox(tmp_path, api_key=API_KEY, username=USERNAME, password=PASSWORD)
    with server, open(ca) as handle:
        yield server, handle.read()


def test_an_api_key_and_a_private_ca_as_awx_injects_them(tls_server, tmp_path, collections):
    server, ca_pem = tls_server
    injected = inject({'ssm_url': server.url, 'ssm_api_key': API_KEY, 'ssm_ca_cert': ca_pem}, tmp_path)
    assert injected['SSM_VALIDATE_CERTS'] == 'true' and open(injected['SSM_CA_PATH']).read() == ca_pem
    assert injected['SSM_USERNAME'] == '' and injected['SSM_PASSWORD'] == ''
    rc, changed, output = configure(injected, tmp_path, collections)
    assert rc == 0 and changed == 1, output[-3000:]
    assert server.rows['ghcr']['auth']['token'] == 'awx-ghcr-token-6'
    server.clear_requests()
    rc, changed, output = configure(injected, tmp_path, collections)
    assert rc == 0 and changed == 0 and own_writes(server) == [], output[-3000:]

    # Without the CA the certificate is not trusted: what made the run above work is the injected CA file.
    rc, changed, output = configure(inject({'ssm_url': server.url, 'ssm_api_key': API_KEY}, tmp_path), tmp_path,
                                    collections)
    assert rc != 0 and 'TLS' in output, output[-3000:]


def test_skipping_the_tls_check_is_explicit(tls_server, tmp_path, collections):
    server, _ca = tls_server
    injected = inject({'ssm_url': server.url, 'ssm_api_key': API_KEY, 'ssm_skip_tls_verify': True}, tmp_path)
    assert injected['SSM_VALIDATE_CERTS'] == 'false' and injected['SSM_CA_PATH'] == ''
    rc, changed, output = configure(injected, tmp_path, collections)
    assert rc == 0 and changed == 1, output[-3000:]


def test_a_login_instead_of_an_api_key(sandbox, tmp_path, collections):
    injected = inject({'ssm_url': sandbox.url, 'ssm_username': USERNAME, 'ssm_password': PASSWORD}, tmp_path)
    assert injected['SSM_API_KEY'] == '' and injected['SSM_CA_PATH'] == ''
    rc, changed, output = configure(injected, tmp_path, collections)
    assert rc == 0 and changed == 1, output[-3000:]
    assert any(r['path'].endswith('/users/login') for r in sandbox.requests)
    assert sandbox.rows['ghcr']['authSet']


def test_a_credential_without_key_or_login_is_named(sandbox, tmp_path, collections):
    rc, _changed, output = configure(inject({'ssm_url': sandbox.url}, tmp_path), tmp_path, collections)
    assert rc != 0 and 'ssm_api_key (SSM_API_KEY) is empty' in output, output[-3000:]
    assert own_writes(sandbox) == []


def test_the_project_of_docs_awx_md_runs_with_the_injected_environment(sandbox, tmp_path, collections):
    """The job template's project as docs/awx.md lays it out: its playbook as written there, the registries beside
    it, AWX's Demo Inventory, the connection only from the credential's environment."""
    from tests.examples.examples import doc_blocks
    plays = [b.text for b in doc_blocks(os.path.join(ROOT, 'docs', 'awx.md'))
             if b.text.startswith('# configure_registries.yml')]
    assert len(plays) == 1
    project = tmp_path / 'project'
    project.mkdir()
    (project / 'configure_registries.yml').write_text(plays[0])
    (project / 'registries.yml').write_text(yaml.safe_dump({'ssm_registries': REGISTRIES}))
    # AWX's Demo Inventory: one host, localhost, with a local connection.
    (tmp_path / 'inventory.yml').write_text(yaml.safe_dump({'all': {'hosts': {'localhost': {
        'ansible_connection': 'local'}}}}))
    env = dict((k, v) for k, v in os.environ.items() if not k.startswith('SSM_'))
    env.update(inject({'ssm_url': sandbox.url, 'ssm_api_key': API_KEY}, tmp_path), ANSIBLE_COLLECTIONS_PATH=collections,
               ANSIBLE_NOCOLOR='1', PATH=BIN + os.pathsep + os.environ.get('PATH', ''))
    for expected_changed in ('1', '0'):
        proc = subprocess.run([os.path.join(BIN, 'ansible-playbook'), 'configure_registries.yml', '-i',
                               str(tmp_path / 'inventory.yml')], cwd=str(project),
                              env=env, capture_output=True, text=True, check=False)
        output = proc.stdout + proc.stderr
        assert_no_secret(output, {API_KEY, 'awx-ghcr-token-6'})
        assert proc.returncode == 0 and re.search(r'^localhost\s+:.*changed=%s ' % expected_changed, output, re.M), \
            output[-3000:]
    assert sandbox.rows['ghcr']['auth']['token'] == 'awx-ghcr-token-6'
