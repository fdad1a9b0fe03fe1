"""The fixtures of the integration tests: the SSM sandbox and real ansible-playbook runs."""
from tests.integration.conftest import ansible, collections, sandbox, sandbox_server  # noqa: F401  pylint: disable=unused-import
