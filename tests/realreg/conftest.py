"""Fixtures for the real-registry tests, and the one place that loads the
entry point under test (registry_login)."""

import importlib
import importlib.util
import pathlib
import sys

import pytest

# The fixtures live in registries.py; importing them here registers them.
from .registries import (  # noqa: F401  pylint: disable=unused-import
    aws_iam, azure, basic_registry, gcr_account, open_registry, token_registry, token_server, workdir,
)

REPO = pathlib.Path(__file__).resolve().parents[2]
SOURCE = REPO / "plugins" / "module_utils" / "registry_login.py"
COLLECTION_NAME = "ansible_collections.squirrel.ssm.plugins.module_utils.registry_login"


def load_registry_login(fresh=False):
    """The module under test, the entry point of the registry_login* files.

    Inside an installed collection tree (ansible_collections/squirrel/ssm)
    it is imported by its collection name; in a plain checkout straight from
    the file.  `fresh` imports a separate copy of it and of the files it
    imports (to re-run their guarded imports), leaving the shared ones in place.
    """
    if fresh:
        package = importlib.import_module(COLLECTION_NAME.rpartition(".")[0])

        def copies():
            return [name for name in sys.modules if name.startswith(COLLECTION_NAME)]
        shared = {name: sys.modules.pop(name) for name in copies()}
        try:
            return importlib.import_module(COLLECTION_NAME)
        finally:
            # An import also sets the module on its package: put the shared ones back in both places.
            for name in copies():
                del sys.modules[name]
                vars(package).pop(name.rpartition(".")[2], None)
            for name, module in shared.items():
                sys.modules[name] = module
                setattr(package, name.rpartition(".")[2], module)
    if REPO.parts[-3:] == ("ansible_collections", "squirrel", "ssm"):
        return importlib.import_module(COLLECTION_NAME)
    spec = importlib.util.spec_from_file_location("squirrel_ssm_registry_login", SOURCE)
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
