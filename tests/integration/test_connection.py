"""The connection to SSM: inputs checked and normalised before any header is built, library errors
explained without a secret, TLS rules, and how fast each failure comes."""
import pytest

from tests import harness
from tests.integration.conftest import API_KEY, USERNAME

INFO = {'squirrel.ssm.ssm_registry_info': {'name': 'hub'}}


def test_an_api_key_with_a_trailing_newline_works(ansible, sandbox):
    """`echo KEY | ansible-vault encrypt_string` and YAML `|` blocks end the key with a newline: an HTTP
    header cannot carry it, so it is stripped (requests put the header's repr in its error, past no_log)."""
    run = ansible.play(INFO, connection=dict(ssm_url=sandbox.url, ssm_api_key=API_KEY + '\n'))
    assert not run[0].get('failed'), run[0].get('msg')
    assert run[0]['registries'][0]['name'] == 'hub'
    padded_url = ansible.play(INFO, connection=dict(ssm_url=' %s\n' % sandbox.url, ssm_api_key=API_KEY))
    assert not padded_url[0].get('failed'), padded_url[0].get('msg')


def test_a_password_with_whitespace_is_sent_as_given_and_the_rejection_says_so(ansible, sandbox):
    run = ansible.play(INFO, connection=dict(ssm_url=sandbox.url, ssm_username=USERNAME,
                                             ssm_password='it-login-password-77\n'))
    assert run[0]['failed'] and 'rejected the login' in run[0]['msg']
    assert 'ssm_password starts or ends with whitespace' in run[0]['msg']


def test_https_against_a_plain_http_ssm_is_named(ansible, sandbox):
    run = ansible.play(INFO, connection=dict(ssm_url=sandbox.url.replace('http://', 'https://'),
                                             ssm_api_key=API_KEY))
    assert run[0]['failed'] and 'does not speak TLS' in run[0]['msg'] and 'http://' in run[0]['msg']
    assert 'Traceback' not in run.output


@pytest.fixture
def tls_sandbox(tmp_path):
    server, ca = harness.tls_sandbox(tmp_path, api_key=API_KEY)
    with server:
        yield server, ca, harness.private_ca(tmp_path, 'other')[2]


def test_validate_certs_false_wins_over_ca_path(ansible, tls_sandbox):
    """One rule for SSM and the registry checks: validate_certs false turns checking off, ca_path is ignored."""
    server, ca, other_ca = tls_sandbox
    wrong_ca = dict(ssm_url=server.url, ssm_api_key=API_KEY, ca_path=other_ca)
    run = ansible.play(INFO, connection=dict(wrong_ca, validate_certs=False))
    assert not run[0].get('failed'), run[0].get('msg')
    assert 'ca_path is ignored' in ' '.join(run[0]['warnings'])
    checked = ansible.play(INFO, connection=wrong_ca)
    assert checked[0]['failed'] and 'TLS error' in checked[0]['msg'] and 'ca_path' in checked[0]['msg']
    trusted = ansible.play(INFO, env=dict(SSM_URL=server.url, SSM_API_KEY=API_KEY,
                                          SSM_CA_PATH=ca), connection=None)
    assert not trusted[0].get('failed'), trusted[0].get('msg')


@pytest.fixture
def tls_basic_registry(tmp_path):
    """A registry behind a private CA that answers /v2/ with a Basic challenge, and 200 to robot:<password>."""
    import base64
    import ssl
    cert, key, ca = harness.private_ca(tmp_path, 'registry')
    good = 'Basic ' + base64.b64encode(b'robot:tls-registry-pw-3f').decode()

    def handle(handler, body):  # pylint: disable=unused-argument
        ok = handler.headers.get('Authorization') == good
        handler.send_response(200 if ok else 401)
        if not ok:
            handler.send_header('WWW-Authenticate', 'Basic realm="registry"')
        handler.send_header('Content-Length', '0')
        handler.end_headers()

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server, url = harness.serve(handle, tls=context)
    yield url, ca
    server.shutdown()
    server.server_close()


def test_registry_checks_trust_a_private_ca_through_registry_ca_path(ansible, sandbox, tls_basic_registry):
    url, ca = tls_basic_registry
    task = dict(provider='custom', name='private', verify_credentials=True,
                credentials=dict(url=url, login='robot', password='tls-registry-pw-3f'))
    run = ansible.play({'squirrel.ssm.ssm_registry': task},
                       {'squirrel.ssm.ssm_registry': dict(task, registry_ca_path=ca)},
                       {'squirrel.ssm.ssm_registry': dict(task, registry_ca_path='/nonexistent/ca.pem')},
                       {'squirrel.ssm.ssm_registry_info': dict(verify_credentials=True, name='private',
                                                               registry_ca_path=ca)})
    assert run[0]['failed'] and 'TLS error' in run[0]['msg'] and 'Nothing was written' in run[0]['msg']
    assert run[1]['changed'] and run[1]['verified'] is True, run[1].get('msg')
    assert run[2]['failed'] and 'registry_ca_path' in run[2]['msg']
    assert run[3]['registries'][0]['verified'] is True
    assert [w['method'] for w in sandbox.writes()] == ['PUT']
