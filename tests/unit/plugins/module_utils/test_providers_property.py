"""Property: whatever credentials dict a user writes, validation either accepts it or rejects it with a
clean message naming the provider; it never crashes and never echoes a secret value."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

hypothesis = pytest.importorskip('hypothesis')
from hypothesis import given, settings, strategies as st  # noqa: E402

from ansible_collections.squirrel.ssm.plugins.module_utils.providers import (  # noqa: E402
    KNOWN_NAMES, PROVIDERS, SECRET_NAMES, InvalidCredentials, validate_credentials)

SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=40),
                    st.binary(max_size=10))


def containers(inner):
    return st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)


VALUES = st.recursive(SCALARS, containers, max_leaves=5)
NAMES = st.one_of(st.sampled_from(sorted(KNOWN_NAMES)), st.text(max_size=12))


@settings(max_examples=300, deadline=None)
@given(provider=st.sampled_from(sorted(PROVIDERS)), credentials=st.dictionaries(NAMES, VALUES, max_size=6))
def test_any_credentials_are_accepted_or_cleanly_rejected(provider, credentials):
    try:
        stored, dummy = validate_credentials(provider, credentials, 'registry x')
    except InvalidCredentials as error:
        message = str(error)
        assert message.startswith('registry x: credentials for provider %s: ' % provider)
        for name, value in credentials.items():
            if name in SECRET_NAMES and isinstance(value, str) and len(value) >= 6:
                assert value not in message
    else:
        assert set(stored) <= set(PROVIDERS[provider].fields)
        assert all(isinstance(value, str) and value.strip() for value in stored.values())
