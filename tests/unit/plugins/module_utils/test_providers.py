"""Every provider's rules, read from the one table, and the masking of secrets."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64

import pytest

from ansible_collections.squirrel.ssm.plugins.module_utils.providers import (
    MASK, PROVIDERS, SECRET_NAMES, InvalidCredentials, credentials_argument_spec, mask, secret_values,
    validate_credentials, diff_view)

PEM = '-----BEGIN ' + 'PRIVATE KEY-----\nMIIBVgIBADANBgkqhkiG9w0BAQEFAASCAUAwggE8\n-----END ' + 'PRIVATE KEY-----\n'
AUTH = base64.b64encode(b'robot:s3cret-pass').decode()

# One good set of credentials per provider: what SSM should store for it.
GOOD = {
    'acr': {'clientid': '5f1c9e1e-0000-4000-8000-000000000001', 'clientsecret': 'acr-secret-1'},
    'custom': {'url': 'http://registry.local:5000', 'login': 'robot', 'password': 'custom-secret-1'},
    'ecr': {'accesskeyid': 'AKIAIOSFODNN7EXAMPLE', 'secretaccesskey': 'ecr-secret-1', 'region': 'eu-west-1'},
    'forgejo': {'url': 'https://forgejo.example.com', 'login': 'deploy', 'password': 'forgejo-secret-1'},
    'gcr': {'clientemail': 'ssm@project.iam.gserviceaccount.com', 'privatekey': PEM},
    'ghcr': {'username': 'octocat', 'token': 'ghcr-secret-1'},
    'gitea': {'url': 'gitea.example.com', 'auth': AUTH},
    'gitlab': {'url': 'https://registry.gitlab.com', 'authurl': 'https://gitlab.com', 'token': 'gitlab-secret-1'},
    'hub': {'login': 'johndoe', 'password': 'hub-secret-1'},
    'lscr': {'username': 'octocat', 'token': 'lscr-secret-1'},
    'quay': {'namespace': 'myorg', 'account': 'ssm', 'token': 'quay-secret-1'},
}

# (provider, credentials, the field the message must name)
BAD = [
    ('acr', {'clientid': 'x'}, 'clientsecret'),
    ('acr', {'clientid': 'x', 'clientsecret': 'y', 'tenant': 'z'}, 'tenant'),
    ('custom', {'login': 'a', 'password': 'b'}, 'url'),
    ('custom', {'url': 'ftp://registry'}, 'url'),
    ('custom', {'url': 'registry.local:5000'}, 'url'),
    ('custom', {'url': 'http://r', 'login': 'a'}, 'password'),
    ('custom', {'url': 'http://r', 'auth': AUTH, 'login': 'a', 'password': 'b'}, 'auth'),
    ('custom', {'url': 'http://r', 'auth': 'not base64!'}, 'auth'),
    ('custom', {'url': 'http://r', 'auth': base64.b64encode(b'nocolon').decode()}, 'auth'),
    ('custom', {'url': 'http://r', 'token': 'x'}, 'token'),
    ('ecr', {'accesskey': 'AKIAIOSFODNN7EXAMPLE', 'secretaccesskey': 's'}, 'region'),
    ('ecr', {'accesskeyid': 'AKIAIOSFODNN7EXAMPLE', 'secretaccesskey': 's', 'region': 'eu-west'}, 'region'),
    ('ecr', {'accesskeyid': 'akia-lower', 'secretaccesskey': 's', 'region': 'eu-west-1'}, 'accesskeyid'),
    ('ecr', {'accesskeyid': 'ASIAIOSFODNN7EXAMPLE', 'secretaccesskey': 's', 'region': 'eu-west-1'}, 'accesskeyid'),
    ('forgejo', {'url': 'ftp://forgejo'}, 'url'),
    ('forgejo', {'login': 'a', 'password': 'b'}, 'url'),
    ('gcr', {'clientemail': 'not-an-email', 'privatekey': PEM}, 'clientemail'),
    ('gcr', {'clientemail': 'a@b.com', 'privatekey': 'just text'}, 'privatekey'),
    ('gcr', {'clientemail': 'a@b.com'}, 'privatekey'),
    ('ghcr', {'username': 'octocat'}, 'token'),
    ('ghcr', {'username': '', 'token': 't'}, 'username'),
    ('ghcr', {'username': 'octocat', 'token': 't', 'password': 'p'}, 'password'),
    ('gitea', {'url': 'https://g', 'password': 'p'}, 'login'),
    ('gitlab', {}, 'token'),
    ('gitlab', {'token': 't', 'url': 'registry.gitlab.com'}, 'url'),
    ('gitlab', {'token': 't', 'authurl': 'gitlab.com'}, 'authurl'),
    ('hub', {}, 'login'),
    ('hub', {'login': 'a'}, 'password'),
    ('hub', {'auth': AUTH, 'login': 'a', 'password': 'b'}, 'auth'),
    ('hub', {'username': 'a', 'token': 'b'}, 'username'),
    ('lscr', {'token': 't'}, 'username'),
    ('quay', {'namespace': 'myorg', 'token': 't'}, 'account'),
    ('quay', {'namespace': 'myorg+ssm', 'account': 'ssm', 'token': 't'}, 'namespace'),
    ('quay', {'namespace': 'myorg', 'account': 'ssm', 'token': ['t']}, 'token'),
]


def test_table_covers_the_eleven_providers():
    assert sorted(PROVIDERS) == ['acr', 'custom', 'ecr', 'forgejo', 'gcr', 'ghcr', 'gitea', 'gitlab', 'hub',
                                 'lscr', 'quay']
    assert [name for name, p in PROVIDERS.items() if not p.builtin] == ['custom']


@pytest.mark.parametrize('provider', sorted(GOOD))
def test_good_credentials_are_stored_as_given(provider):
    stored, deprecations = validate_credentials(provider, GOOD[provider], 'registry %s' % provider)
    assert stored == GOOD[provider]
    assert deprecations == []


@pytest.mark.parametrize('provider,credentials,field', BAD, ids=['%s-%s-%d' % (b[0], b[2], i) for i, b in enumerate(BAD)])
def test_bad_credentials_name_provider_and_field(provider, credentials, field):
    with pytest.raises(InvalidCredentials) as error:
        validate_credentials(provider, credentials, 'registry x')
    message = str(error.value)
    assert 'provider %s' % provider in message
    assert field in message
    for name, value in credentials.items():
        if name in SECRET_NAMES and isinstance(value, str) and len(value) > 3:
            assert value not in message


def test_ecr_accesskey_is_the_guides_spelling_of_accesskeyid():
    stored, _ = validate_credentials('ecr', {'accesskey': 'AKIAIOSFODNN7EXAMPLE', 'secretaccesskey': 's',
                                             'region': 'us-east-1'}, 'w')
    assert stored == {'accesskeyid': 'AKIAIOSFODNN7EXAMPLE', 'secretaccesskey': 's', 'region': 'us-east-1'}


def test_hub_token_is_the_deprecated_spelling_of_password():
    stored, deprecations = validate_credentials('hub', {'login': 'johndoe', 'token': 'tok'}, 'w')
    assert stored == {'login': 'johndoe', 'password': 'tok'}
    assert len(deprecations) == 1 and 'token' in deprecations[0]['msg']


def test_gitlab_defaults_are_stored_explicitly():
    stored, _ = validate_credentials('gitlab', {'token': 'glt'}, 'w')
    assert stored == {'url': 'https://registry.gitlab.com', 'authurl': 'https://gitlab.com', 'token': 'glt'}


def test_gcr_private_key_with_escaped_newlines_is_stored_with_real_ones():
    stored, _ = validate_credentials('gcr', {'clientemail': 'a@b.com', 'privatekey': PEM.replace('\n', '\\n')}, 'w')
    assert stored['privatekey'] == PEM


def test_null_fields_count_as_absent():
    stored, _ = validate_credentials('ghcr', {'username': 'u', 'token': 't', 'password': None}, 'w')
    assert stored == {'username': 'u', 'token': 't'}


def test_every_secret_name_is_no_log_in_the_module_argument_spec():
    spec = credentials_argument_spec()
    for provider in PROVIDERS.values():
        for name, field in provider.fields.items():
            for spelling in [name] + field.aliases:
                assert spec[spelling]['no_log'] == field.secret, (provider.name, spelling)


@pytest.mark.parametrize('provider', sorted(GOOD))
def test_mask_hides_every_secret_and_keeps_the_rest(provider):
    masked = mask(provider, GOOD[provider])
    for name, value in GOOD[provider].items():
        if PROVIDERS[provider].fields[name].secret:
            assert masked[name] == MASK
            assert value in secret_values(provider, GOOD[provider])
        else:
            assert masked[name] == value


def test_rows_of_unknown_providers_are_masked_except_known_harmless_fields():
    masked = mask('forjejo', {'url': 'https://git', 'login': 'old', 'password': 'p', 'mystery': 'm'})
    assert masked == {'url': 'https://git', 'login': 'old', 'password': MASK, 'mystery': MASK}
    assert sorted(secret_values('forjejo', {'url': 'https://git', 'password': 'p', 'mystery': 'm'})) == ['m', 'p']


def test_diff_view_says_a_secret_changes_without_its_value():
    view = diff_view('ghcr', {'username': 'u', 'token': 'new'}, {'username': 'u', 'token': 'old'})
    assert view == {'username': 'u', 'token': MASK + ' (changed)'}
    assert diff_view('ghcr', {'username': 'u', 'token': 'same'}, {'token': 'same'})['token'] == MASK
