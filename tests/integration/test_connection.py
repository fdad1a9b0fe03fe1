"""The connection to SSM: inputs checked and normalised before any header is built, library errors
explained without a secret, TLS rules, and how fast each failure comes."""
import time

import pytest

from tests.integration.conftest import API_KEY, USERNAME
from tests.sandbox.ssm_sandbox import Sandbox

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
