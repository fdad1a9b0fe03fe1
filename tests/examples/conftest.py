from tests.integration.conftest import ansible, collections, sandbox, sandbox_server  # noqa: F401  (fixtures)
