"""The staging check as a user runs it, proved on real SSM servers (`make staging-check`): each source of SSM_SOURCE
whose label is in STAGING_VERSIONS (v0.5.2 and v0.1.30) is started (tests/realssm), filled as its user would have
filled it (SSM's web UI: tests/webui; a reset by SSM's own PATCH, which keeps the old secret; with STAGING_LEGACY=1 also
a row of a provider SSM no longer knows), then the conformance suite runs against it through the running-SSM path only (SSM_CONFORMANCE_URL
and the rest, one pytest run, one scenario at a time). Then every row of the database is compared with what it held
before: each difference must be one that SSM's API cannot avoid (running.RESTORE_LIMITS, documented in
docs/compatibility.md); anything else, or a failed scenario, fails the check.

    SSM_SOURCE=... python -m tests.conformance.staging_check [--only PYTEST_K]"""
import argparse
import concurrent.futures
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

from tests import webui
from tests.conformance import running
from tests.harness import Client
from tests.realssm import RealSSM, sources_from_env

ROOT = running.ROOT
STAGING_VERSIONS = ('v0.5.2', 'v0.1.30')
LEGACY_ROW = {'name': 'hotio', 'provider': 'hotio', 'authScheme': [], 'authSet': False, 'canAnonymous': True,
              'canAuth': False}


def fill(ssm):
    """What an SSM in use holds: the web UI's journey (custom rows with the form's `newName` in `auth`, edits of
    built-in rows, a reset by SSM's PATCH that keeps the secret) and a row an older SSM wrote."""
    api = Client(ssm.server_url, ssm.version, ssm.api_key, ssm.username, ssm.password).call
    answers = webui.seed(api)
    assert all(a.status_code in (200, 201, 500) for a in answers), [(a.status_code, a.text[:200]) for a in answers]
    if os.environ.get('STAGING_LEGACY'):
        # A row the suite's clearing leaves (SSM's API cannot clear a provider SSM no longer knows): the scenarios
        # must then work beside it. Off by default: not every scenario compares with what the server held before.
        ssm.insert_row(dict(LEGACY_ROW))


def documents(ssm):
    """Every registry row as the database holds it (ids and dates as text)."""
    return json.loads(json.dumps(ssm.db_rows(), default=str))


def check(source, only=None):
    started = time.monotonic()
    ssm = RealSSM(source).start()
    try:
        fill(ssm)
        before = documents(ssm)
        backups = tempfile.mkdtemp(prefix='staging-check-')
        env = dict((k, v) for k, v in os.environ.items() if not k.startswith('SSM_'))
        env.update(SSM_CONFORMANCE_URL=ssm.url, SSM_CONFORMANCE_USERNAME=ssm.username,
                   SSM_CONFORMANCE_PASSWORD=ssm.password, SSM_CONFORMANCE_BACKUP_DIR=backups,
                   CONFORMANCE_TARGETS='running')
        if ssm.api_key:
            env['SSM_CONFORMANCE_API_KEY'] = ssm.api_key
        # The examples already run on these servers in `make conformance`, through the same harness: here the
        # scenarios, which are what a running SSM changes (the examples: EXAMPLES=1).
        command = [sys.executable, '-m', 'pytest', '-p', 'no:xdist', '-p', 'no:cacheprovider', '-q', '-rfEs',
                   'tests/conformance', '--deselect', 'tests/conformance/test_running.py',
                   '-k', only or ('' if os.environ.get('EXAMPLES') else 'not test_example_on_real_ssm')]
        t_suite = time.monotonic()
        log = os.path.join(backups, 'pytest.log')
        with open(log, 'w') as handle:
            proc = subprocess.run(command, cwd=ROOT, env=env, check=False, stdout=handle, stderr=subprocess.STDOUT)
        suite = time.monotonic() - t_suite
        with open(log) as handle:
            lines = ['%s| %s' % (ssm.label, line) for line in handle.read().splitlines()]
        after = documents(ssm)
        recreated = set(row['name'] for row in before if row.get('provider') == 'custom')
        report = running.compare(before, after, recreated)
        lost = [r for r in report if r['status'] == 'lost']
        lines.append('%s: the database before and after the suite, row by row' % ssm.label)
        lines.extend(running.describe(report))
        left = sorted(f for f in os.listdir(backups) if f != 'pytest.log')
        lines.append('%s: suite %.0fs, start to end %.0fs; pytest exit %d; rows not back: %d; files left: %s'
                     % (ssm.label, suite, time.monotonic() - started, proc.returncode, len(lost), left or 'none'))
        print('\n'.join(lines), flush=True)
        return proc.returncode == 0 and not lost and not [f for f in left if f.startswith('saved-')]
    finally:
        ssm.stop()


def main(argv=None):
    parser = argparse.ArgumentParser(prog='python -m tests.conformance.staging_check', description=__doc__)
    parser.add_argument('--only', help='pytest -k expression (to run some scenarios)')
    args = parser.parse_args(argv)
    sources = [s for s in sources_from_env() if any(v in os.path.basename(s) for v in STAGING_VERSIONS)]
    if not sources:
        print('staging check skipped: SSM_SOURCE names no %s source' % ' or '.join(STAGING_VERSIONS))
        return 0
    started = time.monotonic()
    # One scenario at a time on each server, the two servers at once (each pytest run keeps to one core).
    with concurrent.futures.ThreadPoolExecutor(len(sources)) as pool:
        results = list(pool.map(lambda source: check(source, args.only), sources))
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    print('staging check: %s in %.0fs, %.0f CPU seconds' % (
        'passed' if all(results) else 'FAILED', time.monotonic() - started, usage.ru_utime + usage.ru_stime))
    return 0 if all(results) else 1


if __name__ == '__main__':
    sys.exit(main())
