"""Every provider's rules, read from the one table, and the masking of secrets."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.squirrel.ssm.plugins.module_utils.providers import (
    MASK, PROVIDERS, SECRET_NAMES, InvalidCredentials, credentials_argument_spec, mask, secret_values,
    validate_credentials, diff_view)
from ansible_collections.squirrel.ssm.tests.cases import BAD, GOOD, PEM


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
    stored, dummy = validate_credentials('ecr', {'accesskey': 'AKIAIOSFODNN7EXAMPLE', 'secretaccesskey': 's',
                                                 'region': 'us-east-1'}, 'w')
    assert stored == {'accesskeyid': 'AKIAIOSFODNN7EXAMPLE', 'secretaccesskey': 's', 'region': 'us-east-1'}


def test_hub_token_is_the_deprecated_spelling_of_password():
    stored, deprecations = validate_credentials('hub', {'login': 'johndoe', 'token': 'tok'}, 'w')
    assert stored == {'login': 'johndoe', 'password': 'tok'}
    assert len(deprecations) == 1 and 'token' in deprecations[0]['msg']


def test_gitlab_defaults_are_stored_explicitly():
    stored, dummy = validate_credentials('gitlab', {'token': 'glt'}, 'w')
    assert stored == {'url': 'https://registry.gitlab.com', 'authurl': 'https://gitlab.com', 'token': 'glt'}


def test_gcr_private_key_with_escaped_newlines_is_stored_with_real_ones():
    stored, dummy = validate_credentials('gcr', {'clientemail': 'a@b.com', 'privatekey': PEM.replace('\n', '\\n')}, 'w')
    assert stored['privatekey'] == PEM


def test_null_fields_count_as_absent():
    stored, dummy = validate_credentials('ghcr', {'username': 'u', 'token': 't', 'password': None}, 'w')
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


def test_rows_of_unknown_providers_show_only_field_names():
    masked = mask('forjejo', {'url': 'https://git', 'login': 'old', 'password': 'p', 'mystery': 'm'})
    assert masked == {'url': MASK, 'login': MASK, 'password': MASK, 'mystery': MASK}


def test_stored_fields_the_table_does_not_list_are_masked():
    # hub's token is only an alias in the task: stored, it is an unknown field. So is anything another client wrote.
    assert mask('hub', {'login': 'johndoe', 'token': 'tok'}) == {'login': 'johndoe', 'token': MASK}
    assert mask('ghcr', {'username': 'u', 'token': 't', 'apikey': 'k', 'url': 'x'}) == {
        'username': 'u', 'token': MASK, 'apikey': MASK, 'url': MASK}
    assert mask('custom', {'url': {'nested': 'secret'}, 'login': ['a']}) == {'url': MASK, 'login': MASK}
    assert mask('ghcr', 'a string') == MASK and mask('ghcr', None) == {}


def test_diff_view_says_a_secret_changes_without_its_value():
    view = diff_view('ghcr', {'username': 'u', 'token': 'new'}, {'username': 'u', 'token': 'old'})
    assert view == {'username': 'u', 'token': MASK + ' (changed)'}
    assert diff_view('ghcr', {'username': 'u', 'token': 'same'}, {'token': 'same'})['token'] == MASK


@pytest.mark.parametrize('provider,field', [('ghcr', 'token'), ('custom', 'url'), ('ecr', 'region')])
def test_an_empty_field_is_named_with_its_provider_and_the_unset_variable_hint(provider, field):
    credentials = dict(GOOD[provider])
    credentials[field] = ''
    with pytest.raises(InvalidCredentials) as e:
        validate_credentials(provider, credentials, 'registries[0] (%s)' % provider)
    message = str(e.value)
    assert message.startswith('registries[0] (%s): credentials for provider %s: %s: it is empty (an unset '
                              'environment variable?' % (provider, provider, field)), message
    assert 'unable to convert' not in message
