"""Upgraded from v0.1.30: an SSM v0.1 filled by the collection, by SSM's own web UI and by SSM's own reset, then
upgraded to v0.5 on the same database (the node server swapped, CongoDB and Redis kept with their data). What
v0.5 makes of v0.1's rows, what the collection reports and writes there: the health check, the export, a converge
from the export and one from the playbook that was run on v0.1, unchanged. On the sandbox (sandbox-v0.1 upgraded
to the sandbox's v0.5.2) always, and on every v0.1.x -> v0.5.x pair of SSM_SOURCE; the table's column is the
server the database ends on. Measured: tests/realssm/FACTS.md, "Upgrade"; docs/compatibility.md, "Upgrading SSM"."""
import json
import os
import re

import pytest

from ansible_collections.squirrel.ssm.tests.cases import GOOD
from tests.conformance.conftest import SANDBOX_KEY, SANDBOX_PASSWORD, SANDBOX_USER, Scenario, Target
from tests.conformance.test_export import VAULT_PASSWORD, changed, playbook
from tests.conformance.test_scenarios import HARBOR, converge
from tests.realssm.fixtures import upgrade_pairs
from tests.sandbox.ssm_sandbox import Sandbox
from tests import webui

LAB = {'url': 'https://lab.example.com', 'login': 'ci', 'password': 'conformance-lab-pass'}
LSCR = {'username': 'octocat', 'token': 'conformance-lscr-upgrade'}
OLD_RESET_SECRET = 'conformance-old-reset-secret-8'
LEGACY_SECRET = 'conformance-legacy-secret-9'
# The playbook the v0.1 user ran, kept as it was: two custom registries, a provider v0.1 cannot register, ECR.
PLAYBOOK = [dict(provider='custom', name='harbor', credentials=HARBOR),
            dict(provider='custom', name='lab', credentials=LAB),
            dict(provider='lscr', credentials=LSCR),
            dict(provider='ecr', credentials=GOOD['ecr'])]
UI_SECRETS = ['ui-harbor-secret-1', 'cm9ib3Q6dWktbWlycm9yLXNlY3JldC0y', 'ui-mirror-secret-2', 'ui-ghcr-secret-3',
              'ui-hub-secret-4', 'ui-gitlab-secret-5', 'ui-quay-secret-6']


def _sandbox_pair():
    server = Sandbox(api_key=SANDBOX_KEY, username=SANDBOX_USER, password=SANDBOX_PASSWORD, version='0.1').start()

    def upgrade(check=True):
        if not server.upgrade('0.5', check=False):
            assert not check, server.log()
            return None
        return Target('sandbox', server, 'sandbox', '0.5', SANDBOX_KEY, SANDBOX_USER, SANDBOX_PASSWORD)
    return server, Target('sandbox-v0.1', server, 'sandbox', '0.1', SANDBOX_KEY, SANDBOX_USER, SANDBOX_PASSWORD), upgrade


def _real_pair(old, new):
    def start():
        from tests.realssm import RealSSM
        server = RealSSM(old)
        try:
            server.start()
        except BaseException:
            server.stop()
            raise

        def upgrade(check=True):
            if not server.upgrade(new, check=False):
                assert not check, server.log_tail(60)
                return None
            return Target(server.label, server, 'real', server.version, server.api_key, server.username,
                          server.password)
        return server, Target(server.label, server, 'real', server.version, None, server.username,
                              server.password), upgrade
    return start


def _label(source):
    return os.path.basename(source.rstrip('/')).replace('.tar.gz', '').replace('ssm-', '')


PAIRS = [pytest.param(_sandbox_pair, id='sandbox', marks=pytest.mark.xdist_group('sandbox'))] + [
    pytest.param(_real_pair(old, new), id='real-' + _label(new), marks=pytest.mark.xdist_group(_label(new)))
    for old, new in upgrade_pairs()]


@pytest.fixture(params=PAIRS)
def upgrade_pair(request):
    server, old, upgrade = request.param()
    try:
        yield old, upgrade
    finally:
        server.stop()


def in_use(target):
    """The registries (by name) SSM's update checks use after its last reload, Docker Hub left aside (the
    anonymous Docker Hub v0.5 always registers has no row): from the sandbox's model, or from the real
    server's log (the components of the last reload, less those that failed)."""
    if target.kind == 'sandbox':
        return sorted(name for name, auth in target.server.registered().items() if name != 'hub' or auth)
    target.server.settle()  # the log lags the last write's reload
    text = re.sub(r'\x1b\[[0-9;]*m', '', target.server.log())
    start = 'Configuration registered will be processed' if target.version == '0.1' else 'Registering \\d+ registries'
    last = [m.end() for m in re.finditer(start, text)][-1]
    tail = text[last:]
    names = re.findall(r'Registering "[^"/]+/([^"]+)" component', tail)
    failed = set(re.findall(r'Error when registering component [^/ ]+/(.+?) \(', tail))
    used = [name for name in names if name.lower() not in failed and name != 'hub']
    # v0.1 registers hub in any case; with credentials, its log shows them (masked) in the configuration
    if '[REGISTRY][HUB] - Registering registry with configuration: {"name":"hub"' in tail:
        used.append('hub')
    return sorted(used)


def info(scenario):
    run = scenario.play({'squirrel.ssm.ssm_registry_info': {}}, secrets=UI_SECRETS + [OLD_RESET_SECRET, LEGACY_SECRET])
    assert run.rc == 0 and not run[0].get('failed'), run.output[-3000:]
    return run[0], dict((r['name'], sorted(p['code'] for p in r['problems'])) for r in run[0]['registries'])


def export(scenario, path):
    run = scenario.play({'squirrel.ssm.ssm_registry_export': dict(path=str(path), force=True,
                                                                  vault_password=VAULT_PASSWORD)},
                        secrets=UI_SECRETS + [OLD_RESET_SECRET])
    assert run.rc == 0 and not run[0].get('failed'), run.output[-3000:]
    return run[0]


BUILT_IN = ['acr', 'ecr', 'forgejo', 'gcr', 'ghcr', 'gitea', 'gitlab', 'hub', 'lscr', 'quay']
# What the diagnosis and the export say of these rows, on v0.1 and after the upgrade. The two custom rows of the UI
# (`Harbor Prod`, `mirror`) hold the form's `newName`, which v0.1 refuses when it registers them (not_registered)
# and v0.5 ignores (docs/compatibility.md on UI-written rows).
V01_PROBLEMS = {'Harbor Prod': ['custom_ignored', 'not_registered'], 'mirror': ['not_registered'],
                'harbor': ['custom_ignored'], 'lab': ['custom_ignored'], 'ghcr': ['not_registered'],
                'gitlab': ['not_registered'], 'lscr': ['not_registered'],
                'acr': ['leftover_secret'], 'quay': ['leftover_secret']}
V05_PROBLEMS = {'hub': ['credentials_unused'],
                'acr': ['leftover_secret'], 'quay': ['leftover_secret']}
EXPORTED = ['Harbor Prod', 'ecr', 'ghcr', 'gitlab', 'harbor', 'hub', 'lab', 'lscr', 'mirror']
LEFT_OUT = [('acr', ['leftover_secret']), ('quay', ['leftover_secret'])]


def problems_of(problems):
    return dict((name, codes) for name, codes in problems.items() if codes)


def left_out(result):
    return [(one['name'], one['codes']) for one in result['left_out']]


def test_upgraded_from_v0_1_30(upgrade_pair, tmp_path, collections):
    old, upgrade = upgrade_pair
    (tmp_path / 'v0.1').mkdir()
    work = tmp_path / 'v0.5'
    work.mkdir()
    before = Scenario(old, tmp_path / 'v0.1', collections)
    login = dict(old.connection)
    assert 'ssm_username' in login and 'ssm_api_key' not in login

    # v0.1, filled the three ways a v0.1 user's SSM was: the playbook, the web UI, SSM's own reset (which keeps the
    # secret).
    run = before.play(converge(PLAYBOOK))
    assert run.rc == 0 and run[0]['changed'], run.output[-3000:]
    assert 'registers only the last custom registry' in ' '.join(run[0]['warnings'])
    answers = webui.seed(old.api)
    assert [a.status_code for a in answers] == [200] * len(answers), [a.text[:200] for a in answers]
    old.api('POST', 'acr', {'auth': {'clientid': 'old-client', 'clientsecret': OLD_RESET_SECRET}})
    old.api('PATCH', 'acr')
    # v0.1 uses Docker Hub's credentials, the default anonymous registries, and no custom registry at all: the
    # last one stored (the UI's `mirror`) fails on its form's `newName`; ghcr, gitlab and lscr fail on `name`.
    assert in_use(old) == ['ecr', 'gcr', 'hub', 'quay']
    log = re.sub(r'\x1b\[[0-9;]*m', '', old.server.log())
    for provider in ('ghcr', 'gitlab', 'lscr'):
        assert 'Error when registering component %s/%s ("name" is not allowed)' % (provider, provider) in log
    result, problems = info(before)
    assert problems_of(problems) == V01_PROBLEMS
    exported_before = export(before, tmp_path / 'v0.1' / 'before-upgrade.yml')
    assert (exported_before['exported'], left_out(exported_before)) == (EXPORTED, LEFT_OUT)
    rows = old.rows()

    new = upgrade()
    after = Scenario(new, work, collections)
    # v0.5 starts on v0.1's database and keeps every row as v0.1 wrote it (`__v`, no timestamps); its start-up
    # finds each built-in row and adds none.
    assert new.rows() == rows
    assert all('__v' in row and 'createdAt' not in row and 'updatedAt' not in row for row in rows.values())
    log = re.sub(r'\x1b\[[0-9;]*m', '', new.server.log())
    assert sorted(re.findall(r'Registry (\S+) already exists', log)) == BUILT_IN
    # It registers every row with credentials (hub counted, as always on v0.5, but never used): ghcr, gitlab, lscr
    # and all four custom registries start working; Docker Hub's credentials stop.
    assert new.registering() == [sum(1 for row in rows.values() if row.get('authSet'))]
    assert in_use(new) == ['Harbor Prod', 'ecr', 'ghcr', 'gitlab', 'harbor', 'lab', 'lscr', 'mirror']

    result, problems = info(after)
    assert problems_of(problems) == V05_PROBLEMS
    exported = export(after, work / 'ssm-registries.yml')
    assert exported['ssm_api_version'] == '0.5' and exported_before['ssm_api_version'] == '0.1'
    assert (exported['exported'], left_out(exported)) == (EXPORTED, LEFT_OUT)

    # The playbook of v0.1, unchanged, with v0.1's login; then with the v0.1 user's API key, which v0.5 takes.
    for connection in (login, new.connection):
        again = after.play(converge(PLAYBOOK), connection=connection)
        assert again.rc == 0 and again[0]['changed'] is False and again.writes == [], again.output[-3000:]
        assert not again[0].get('warnings')
    assert 'ssm_api_key' in new.connection

    # The export converged back: the adopt promise holds on the upgraded rows, nothing is written.
    (work / 'pw.txt').write_text(VAULT_PASSWORD)
    (work / 'connection.json').write_text(json.dumps(new.connection))
    mark = len(new.requests())
    rc, output = playbook(after, 'squirrel.ssm.configure_registries', '-e', '@connection.json', '-e',
                          '@ssm-registries.yml', '--vault-password-file', 'pw.txt')
    assert rc == 0 and changed(output) == 0, output[-3000:]
    assert new.writes_since(mark) == [] and new.rows() == rows


def test_upgrade_stops_on_a_legacy_row_with_credentials(upgrade_pair, tmp_path, collections):
    """A row of a provider no SSM knows (left by an older SSM), its credentials set: v0.1 lives with it, v0.5 does
    not start. The health check on v0.1 names it as an error, before the upgrade."""
    old, upgrade = upgrade_pair
    old.server.insert_row({'name': 'forjejo', 'provider': 'forjejo', 'authScheme': [], 'authSet': True,
                           'auth': {'url': 'https://git.example.com', 'login': 'old', 'password': LEGACY_SECRET},
                           'canAnonymous': False, 'canAuth': True})
    result, problems = info(Scenario(old, tmp_path, collections))
    assert problems_of(problems) == {'forjejo': ['legacy_provider']}
    row = [r for r in result['registries'] if r['name'] == 'forjejo'][0]
    assert row['problems'][0]['severity'] == 'error'
    assert upgrade(check=False) is None
    assert 'Unknown registry provider: forjejo' in old.server.log()


def test_api_version_pinned_to_the_other_api_is_named(scenario, target):
    """A playbook pinned to the API of the version before (or after) an upgrade: the message names the pin and
    what the server answers like, not the server's own 404; nothing is written."""
    pin = '0.1' if target.version == '0.5' else '0.5'
    run = scenario.play(converge(PLAYBOOK[:1]), {'squirrel.ssm.ssm_registry_info': {}},
                        connection=dict(target.connection, ssm_api_version=pin))
    for result in run.results:
        assert result['failed'], result
        assert "ssm_api_version (SSM_API_VERSION) is pinned to '%s'" % pin in result['msg'], result['msg']
        assert "it answers like SSM %s" % target.version in result['msg'], result['msg']
        assert "set ssm_api_version to '%s'" % target.version in result['msg'], result['msg']
    assert run.writes == []
