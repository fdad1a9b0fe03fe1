"""The connection checks and the one scrubber of library error texts."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import json

import pytest

from ansible_collections.squirrel.ssm.plugins.module_utils.ssm_api import (
    ConnectionInputError, check_connection, scrub)
from ansible_collections.squirrel.ssm.plugins.module_utils.registry_login import _secret_values
from ansible.module_utils.six.moves.urllib.parse import quote, quote_plus

SECRET = 'k3y/with+odd chars=\n'


@pytest.mark.parametrize('leak', [
    SECRET, repr(SECRET), json.dumps(SECRET), quote(SECRET, safe=''), quote_plus(SECRET), SECRET.strip(),
    "Invalid header value b'Bearer %s'" % SECRET.encode(),
    'Basic ' + base64.b64encode(('robot:' + SECRET).encode()).decode(),
    'Basic ' + base64.b64encode(('ro:' + SECRET.strip()).encode()).decode(),
    base64.b64encode(('a:' + SECRET).encode()).decode(),
])
def test_scrub_removes_a_secret_in_every_encoding(leak):
    cleaned = scrub('error: %s (rest)' % leak, [SECRET])
    assert SECRET.strip() not in cleaned and quote(SECRET.strip(), safe='') not in cleaned
    assert '(rest)' in cleaned and 'error:' in cleaned
    for shift in ('', 'a', 'ab'):
        assert base64.b64encode((shift + SECRET.strip()).encode()).decode()[4:-4] not in cleaned


def test_scrub_leaves_short_secrets_and_words_alone():
    assert scrub('updated', ['ed', None, '']) == 'updated'


def test_registry_checks_scrub_every_value_not_known_harmless():
    values = _secret_values({'login': 'johndoe', 'token': 'stored-under-an-old-name'}, 'hub')
    assert 'stored-under-an-old-name' in values and 'johndoe' not in values
    assert 'stored-under-an-old-name' not in scrub('rejected stored-under-an-old-name', values)


GOOD = dict(ssm_url='http://ssm.example:8000', ssm_api_key='key', ssm_username=None, ssm_password=None,
            validate_certs=True, ca_path=None, timeout=30.0, ssm_api_version='auto')


@pytest.mark.parametrize('override,option', [
    (dict(ssm_url=''), 'ssm_url'), (dict(ssm_url='ssm.example:8000'), 'ssm_url'), (dict(ssm_url='http://'), 'ssm_url'),
    (dict(ssm_url='http://ssm.example:0'), 'ssm_url'), (dict(ssm_url='http://ssm.example/?a=b'), 'ssm_url'),
    (dict(ssm_api_key='cl\u00e9'), 'ssm_api_key'), (dict(ssm_api_key='a b'), 'ssm_api_key'),
    (dict(ssm_api_key='a\x00b'), 'ssm_api_key'), (dict(ssm_api_key=' \n'), 'ssm_api_key'),
    (dict(timeout=0.0), 'timeout'), (dict(timeout=-1.0), 'timeout'), (dict(timeout=float('inf')), 'timeout'),
    (dict(ca_path='/nonexistent/ca.pem'), 'ca_path'),
])
def test_connection_inputs_that_cannot_work_name_the_option(override, option):
    with pytest.raises(ConnectionInputError) as error:
        check_connection(dict(GOOD, **override))
    assert option in str(error.value)
    if override.get('ssm_api_key'):
        assert override['ssm_api_key'].strip() not in str(error.value) or not override['ssm_api_key'].strip()


def test_connection_inputs_are_trimmed_where_whitespace_cannot_belong():
    checked = check_connection(dict(GOOD, ssm_url=' http://ssm.example:8000/\n', ssm_api_key='key\n',
                                    ssm_username=' ops@example.com ', ssm_password=' pw \n'))
    assert checked['ssm_url'] == 'http://ssm.example:8000/' and checked['ssm_api_key'] == 'key'
    assert checked['ssm_username'] == 'ops@example.com' and checked['ssm_password'] == ' pw \n'
    # validate_certs: false makes ca_path irrelevant, so a missing one is not an error.
    assert check_connection(dict(GOOD, validate_certs=False, ca_path='/nonexistent'))['ca_path'] == '/nonexistent'


def test_connection_options_are_taken_from_a_whole_task():
    """Modules and the export action pass all their parameters: only the connection options reach the client."""
    task = dict(GOOD, credentials={'token': 'not-for-ssm'}, provider='ghcr', path='/tmp/x.yml')
    assert check_connection(task) == check_connection(GOOD) and set(check_connection(task)) == set(GOOD)


def _closed_port():
    import socket
    sock = socket.socket()
    sock.bind(('127.0.0.1', 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


def test_refused_and_unresolvable_fail_at_once_without_retry(monkeypatch):
    from ansible_collections.squirrel.ssm.plugins.module_utils import ssm_api
    sleeps = []
    monkeypatch.setattr(ssm_api.time, 'sleep', sleeps.append)
    for url, reason in (('http://127.0.0.1:%d' % _closed_port(), 'connection refused'),
                        ('http://ssm.invalid', 'resol')):
        client = ssm_api.SSMClient(url, ssm_api_key='k3y-value', timeout=5)
        with pytest.raises(ssm_api.SSMError) as error:
            client.registries()
        assert error.value.status == 'unreachable', str(error.value)
        assert 'ssm_url' in str(error.value)
    assert sleeps == []


def test_dropped_connections_and_5xx_are_still_retried(monkeypatch):
    from ansible_collections.squirrel.ssm.plugins.module_utils import ssm_api
    sleeps = []
    monkeypatch.setattr(ssm_api.time, 'sleep', sleeps.append)
    client = ssm_api.SSMClient('http://127.0.0.1:1', ssm_api_key='k3y-value', timeout=1)
    calls = []

    def send(method, path, body=None):
        calls.append(method)
        raise ssm_api.SSMError('dropped', status='connection')
    monkeypatch.setattr(client, '_send', send)
    with pytest.raises(ssm_api.SSMError):
        client.request('GET', '/container-registries')
    assert len(calls) > 1 and sleeps
