"""Fixtures for the real-registry tests, and the one place that imports the
module_utils under test."""

import importlib
import importlib.util
import pathlib

import pytest

# The fixtures live in registries.py; importing them here registers them.
from .registries import (  # noqa: F401  pylint: disable=unused-import
    aws_iam, azure, basic_registry, gcr_account, open_registry, token_registry, token_server, workdir,
)

REPO = pathlib.Path(__file__).resolve().parents[2]
SOURCE = REPO / "plugins" / "module_utils" / "registry_login.py"
COLLECTION_NAME = "ansible_collections.squirrel.ssm.plugins.module_utils.registry_login"


def load_registry_login(fresh=False):
    """The module under test.

    Inside an installed collection tree (ansible_collections/squirrel/ssm)
    it is imported by its collection name; in a plain checkout straight from
    the file.  `fresh` loads a separate copy from the file (to re-run its
    guarded imports without touching the shared module).
    """
    if REPO.parts[-3:] == ("ansible_collections", "squirrel", "ssm") and not fresh:
        return importlib.import_module(COLLECTION_NAME)
    # A fresh copy never replaces the shared one, whatever the mode.
    name = "squirrel_ssm_registry_login" + ("_fresh" if fresh else "")
    spec = importlib.util.spec_from_file_location(name, SOURCE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def rl():
    return load_registry_login()


def secret_values(credentials):
    """Every secret a message must never show (incl. what `auth` decodes to)."""
    import base64
    values = [str(credentials[k]) for k in ("password", "token", "auth", "privatekey", "secretaccesskey",
                                            "clientsecret") if credentials.get(k)]
    try:
        values.append(base64.b64decode(credentials.get("auth", ""), validate=True).decode().split(":", 1)[1])
    except (ValueError, IndexError):
        pass
    return values


@pytest.fixture
def check(rl):
    """check_credentials, asserting on every call that no secret leaks into
    the message."""
    def run(provider, credentials, **kwargs):
        result = rl.check_credentials(provider, credentials, timeout=kwargs.pop("timeout", 5), **kwargs)
        for secret in secret_values(credentials):
            assert secret not in result.message, f"secret leaked into: {result.message}"
            for line in secret.splitlines():  # a PEM key, line by line
                if len(line) > 20:
                    assert line not in result.message
        assert "Authorization" not in result.message
        print(provider, result)  # shown by pytest when a test fails
        return result
    return run
