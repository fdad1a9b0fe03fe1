"""Adopting an SSM on every SSM: export what it stores (squirrel.ssm.export_registries, secrets vault-encrypted),
converge it from the file (no write, no change), then reset the server to an empty database and converge it from the
same file: it stores the same rows again."""
import json
import os
import re
import subprocess

from ansible_collections.squirrel.ssm.plugins.module_utils.registries import CUSTOM_AUTH_SCHEME
from ansible_collections.squirrel.ssm.tests.cases import GOOD
from tests.conformance.test_scenarios import QUAY, converge, every_provider, secret_values
from tests.integration.conftest import BIN, assert_no_secret

VAULT_PASSWORD = 'conformance-export-vault-9'
LEFTOVER = 'conformance-export-leftover-3'


def playbook(scenario, *arguments):
    proc = subprocess.run([os.path.join(BIN, 'ansible-playbook')] + list(arguments), env=scenario.env(),
                          capture_output=True, text=True, check=False, cwd=str(scenario.tmp_path))
    output = proc.stdout + proc.stderr
    target = scenario.target
    assert_no_secret(output, set(secret_values(*GOOD.values())) | {VAULT_PASSWORD, LEFTOVER} |
                     set(s for s in (target.api_key, target.password) if s))
    return proc.returncode, output


def export(scenario, path):
    """squirrel.ssm.export_registries of the target into `path`, secrets vault-encrypted: (the file's text, the output,
    the command that converges the target from the file)."""
    (scenario.tmp_path / 'connection.json').write_text(json.dumps(scenario.target.connection))
    (scenario.tmp_path / 'pw.txt').write_text(VAULT_PASSWORD)
    rc, output = playbook(scenario, 'squirrel.ssm.export_registries', '-e', '@connection.json', '-e',
                          'ssm_export_path=' + path, '--vault-password-file', 'pw.txt')
    assert rc == 0, output[-3000:]
    converge_it = ['squirrel.ssm.configure_registries', '-e', '@connection.json', '-e', '@' + path,
                   '--vault-password-file', 'pw.txt']
    return (scenario.tmp_path / path).read_text(), output, converge_it


def changed(output):
    line = [l for l in output.splitlines() if re.match(r'^localhost\s+:', l)][-1]
    return int(re.search(r'changed=(\d+)', line).group(1))


def stored(target):
    return dict((name, (row['provider'], row.get('auth'))) for name, row in target.rows().items() if row.get('authSet'))


def test_export_then_converge_writes_nothing_and_a_reset_server_gets_the_same_rows(scenario, target):
    known = set(row['provider'] for row in target.rows().values()) | {'custom'}
    theirs = stored(target)  # a running SSM's own rows its API could not clear
    declared = [r for r in every_provider() if r['provider'] in known and r['provider'] != 'quay']
    seeded = scenario.play(converge(declared))
    assert seeded.rc == 0, seeded.output[-2000:]
    # Rows the file must leave out: SSM's own reset, which keeps the secret; a provider SSM no longer knows.
    target.api('POST', 'quay', {'auth': dict(QUAY, token=LEFTOVER)})
    target.api('PATCH', 'quay')
    if target.has('database'):
        target.insert_row({'name': 'hotio', 'provider': 'hotio', 'authScheme': [], 'authSet': False,
                           'canAnonymous': True, 'canAuth': False})
    # Left out, each with its reason: a self-hosted GitLab without authurl (no default is filled in), a name with a
    # trailing space (the converge refuses it).
    target.api('POST', 'gitlab', {'auth': {'url': 'https://registry.gitlab.example.com', 'token': LEFTOVER}})
    target.api('PUT', 'spaced ', {'auth': dict(GOOD['custom'], password=LEFTOVER), 'authScheme': CUSTOM_AUTH_SCHEME})
    text, dummy, converge_it = export(scenario, 'ssm-registries.yml')
    assert '# - hotio (provider hotio):' in text or 'hotio' not in target.rows()
    assert '# - quay (provider quay):' in text or not any((target.rows()['quay'].get('auth') or {}).values())
    assert re.search(r'# - gitlab \(provider gitlab\):\n#     gitlab_url_missing', text), text
    assert re.search(r'# - "spaced " \(provider custom\):\n#     converge_refuses', text), text
    assert 'https://gitlab.com' not in text.split('# Left out:')[0], 'the export filled in a default'
    exported = sorted(r['name'] for r in declared if r['provider'] != 'gitlab')
    before = stored(target)
    assert sorted(before) == sorted(exported + ['gitlab', 'spaced '] + list(theirs))

    mark = len(target.requests())
    rc, output = playbook(scenario, *converge_it)
    assert rc == 0 and changed(output) == 0, output[-3000:]
    assert target.writes_since(mark) == [] and stored(target) == before

    target.reset()
    assert stored(target) == theirs
    rc, output = playbook(scenario, *converge_it)
    assert rc == 0, output[-3000:]
    assert stored(target) == dict((name, before[name]) for name in exported + list(theirs))
