"""The documented examples (README.md, docs/, the modules' EXAMPLES) on the real SSM servers of the conformance
suite, with the harness of tests/examples: each example that talks to SSM runs as written, placeholders filled with
the real server's address and credentials, on a server reset to its fresh state. tests/examples runs every example
on the sandbox (twice: the second run changes nothing); here each runs once, as a reader runs it, since the
conformance scenarios already prove on these servers that an unchanged run writes nothing.

SSM v0.1 refuses API keys (tests/realssm/FACTS.md): there SSM_USERNAME and SSM_PASSWORD are exported instead of
SSM_API_KEY, as its users must, and the collection logs in with them even where an example names a key (that key,
the vault's vault_ssm_api_key, is then unused)."""
import re

import pytest

from tests.conformance.conftest import PARAMS
from tests.examples.examples import all_blocks
from tests.examples.test_examples import Server, run_block
from tests.integration.conftest import Ansible

REAL = [param for param in PARAMS if not param.id.startswith('sandbox')]
# Commands that never reach SSM: run on the sandbox only.
OFFLINE = ('make', 'ansible-doc', 'ansible-galaxy', 'ansible-vault')


def talks_to_ssm(block):
    if block.marker:
        return False
    if block.kind() != 'sh':
        return True
    commands = [line.split(' #', 1)[0].strip() for line in block.text.splitlines()]
    commands = [re.sub(r'^([A-Z_]+=\S*\s+)+', '', c) for c in commands if c and not c.startswith('#')]
    return any(c.split()[0] not in OFFLINE + ('export',) for c in commands)


BLOCKS = [block for block in all_blocks() if talks_to_ssm(block)]


def server_of(target):
    """The real server as its user knows it: the API key, or on v0.1 (which refuses keys) a login."""
    if target.version == '0.1':
        return Server(target.url, target.rows, 'a-key-v0.1-would-refuse', target.username, target.password,
                      login_only=True)
    return Server(target.url, target.rows, target.api_key, target.username, target.password)


@pytest.mark.parametrize('target_server', REAL, indirect=True)
@pytest.mark.parametrize('block', BLOCKS, ids=[b.id for b in BLOCKS])
def test_example_on_real_ssm(block, target, tmp_path, collections):
    run_block(block, Ansible(target, tmp_path, collections), server_of(target), tmp_path, twice=False)


def test_every_example_that_writes_runs_here():
    """An example that writes to SSM is never left to the sandbox alone."""
    writers = [b.id for b in all_blocks() if not b.marker and re.search(
        r'ssm_registry:|squirrel\.ssm\.registries|configure_registries|-m squirrel\.ssm\.ssm_registry ', b.text)]
    assert writers and set(writers) <= set(b.id for b in BLOCKS)
