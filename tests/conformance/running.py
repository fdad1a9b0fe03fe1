"""A running SSM given by its URL (a staging server to check before an upgrade), seen like the others: the
requests it serves are recorded by a small proxy of ours in front of it, and what it stored before the suite is
put back when the suite ends.

A staging SSM holds a user's rows, so:
- one run at a time: a lock per server URL, held from start() to stop(); a second run fails at once;
- before anything is written, what SSM stores is saved to a file (mode 0600: it holds the stored secrets), and a
  file left by a run that could not put the rows back stops the next run until `restore` has been run with it:
      python -m tests.conformance.running restore build/conformance-running/saved-<host>-<port>.json
- before each scenario the rows are cleared as far as SSM's API allows (custom rows deleted, credentials
  cleared); rows it cannot clear stay, and the scenarios work beside them;
- at the end every row is put back, in SSM's order (v0.1 uses only its last custom registry), SSM is made to
  load them, and each row is compared with what was saved: `restored` says, row by row, what is exact and what
  SSM's API cannot put back (RESTORE_LIMITS, documented in docs/compatibility.md)."""
import binascii
import copy
import datetime
import fcntl
import hashlib
import json
import os
import sys
import tempfile
import threading
from urllib.parse import urlsplit

import requests

from tests.conformance.holding import relay
from tests.harness import Client, serve

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# Keys SSM sets itself: a rewritten row gets a new updatedAt, a recreated custom row a new _id and createdAt.
SERVER_KEYS = ('_id', 'createdAt', 'updatedAt', '__v')
RELOAD_PREFIX = 'squirrel-ssm-conformance-reload-'
# What SSM's API cannot put back exactly, as (code, what the report says). Anything else that differs is a loss.
RESTORE_LIMITS = {
    'auth_key_added': ('`auth: {}`, had no `auth` key',
                       "SSM's API has no write that removes the key; SSM reads both the same way"),
    'auth_key_dropped': ('no `auth` key, had `auth: {}`',
                         'SSM v0.5 stores no `auth` for a custom registry created with an empty one; SSM reads both '
                         'the same way'),
    'recreated': ('new `_id` and `createdAt`', 'a custom registry cannot be written back, only created again'),
    'rewritten': ('new `updatedAt`', 'SSM sets it on every write'),
}
MISSING = {
    'database': "a running SSM given by URL: its database is out of reach (rows no client can write are not seeded)",
    'log': "a running SSM given by URL: SSM's log is out of reach (its reloads are not observable)",
    'restart': 'a running SSM given by URL is never restarted by the suite',
    'login': 'no SSM_CONFORMANCE_USERNAME and SSM_CONFORMANCE_PASSWORD given for the running SSM',
}


class RunningSSMError(RuntimeError):
    pass


def backup_dir():
    return os.environ.get('SSM_CONFORMANCE_BACKUP_DIR') or os.path.join(ROOT, 'build', 'conformance-running')


def _key(url):
    parts = urlsplit(url)
    return '%s-%s' % (parts.hostname or 'ssm', parts.port or (443 if parts.scheme == 'https' else 80))


class RunningSSM:
    label = 'running'

    def __init__(self, url, api_key=None, username=None, password=None):
        self.upstream = url.rstrip('/')
        self.api_key, self.username, self.password = api_key or None, username or None, password or None
        self.capabilities = frozenset(['login'] if self.username and self.password else [])
        self.client = Client(self.upstream + '/api', None, self.api_key, self.username, self.password)
        self._requests, self._lock = [], threading.Lock()
        self._server = self.url = self.version = self.server_version = self._saved = self._lockfile = None
        key = _key(self.upstream)
        self.backup = os.path.join(backup_dir(), 'saved-%s.json' % key)
        self.report_path = os.path.join(backup_dir(), 'report-%s.json' % key)
        self.restored = None

    # -- life cycle ------------------------------------------------------------------------------------------
    def start(self):
        self._take_lock()
        try:
            self.version = self.client.version = '0.5' if self.client.call('GET').status_code != 404 else '0.1'
            self.server_version = self._server_version()
            if os.path.exists(self.backup):
                raise RunningSSMError(
                    'a previous run could not put back the rows of %s: they are saved in %s. Put them back first '
                    '(python -m tests.conformance.running restore %s), then run the suite again'
                    % (self.upstream, self.backup, self.backup))
            self._saved = self._rows()
            self._write_backup()
            self._start_proxy()
        except BaseException:
            self._release_lock()
            raise
        return self

    def _take_lock(self):
        path = os.path.join(tempfile.gettempdir(), 'squirrel-ssm-conformance-%s.lock'
                            % hashlib.sha1(self.upstream.encode()).hexdigest()[:12])
        handle = open(path, 'a+')  # pylint: disable=consider-using-with
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            raise RunningSSMError('another run of the suite is using %s: scenarios on a running SSM run one at a '
                                  'time' % self.upstream)
        self._lockfile = handle

    def _release_lock(self):
        if self._lockfile is not None:
            fcntl.flock(self._lockfile, fcntl.LOCK_UN)
            self._lockfile.close()
            self._lockfile = None

    def _write_backup(self):
        os.makedirs(os.path.dirname(self.backup), exist_ok=True)
        data = dict(url=self.upstream, api=self.version, server_version=self.server_version,
                    saved_at=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'),
                    rows=self._saved)
        fd = os.open(self.backup + '.tmp', os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, 'w') as handle:
            json.dump(data, handle, indent=1)
        os.replace(self.backup + '.tmp', self.backup)

    def _start_proxy(self):
        def forward(handler, body):
            def seen(answer):
                with self._lock:
                    self._requests.append({'method': handler.command, 'path': handler.path.split('?')[0],
                                           'status': answer.status_code})

            relay(handler, self.upstream, body, timeout=60, verify=False, seen=seen)

        self._server, self.url = serve(forward)

    def stop(self):
        """Put back what SSM stored before the suite, secrets included, make it load them, and compare."""
        try:
            if self._saved is not None:
                self.restored = restore(self, self._saved)
                with open(self.report_path, 'w') as handle:
                    json.dump(dict(url=self.upstream, api=self.version, server_version=self.server_version,
                                   rows=self.restored), handle, indent=1)
                if not [r for r in self.restored if r['status'] == 'lost']:
                    os.unlink(self.backup)  # it holds secrets: kept only while something is not back
        finally:
            if self._server is not None:
                self._server.shutdown()
                self._server.server_close()
                self._server = None
            self._release_lock()

    # -- SSM's API ---------------------------------------------------------------------------------------------
    def _server_version(self):
        try:
            answer = self.client.session.get(self.upstream + '/api/users/current', timeout=30)
            return answer.json()['data']['settings']['server']['version']
        except (requests.RequestException, ValueError, KeyError, TypeError):
            return None

    def call(self, method, name=None, body=None):
        return self.client.call(method, name, body)

    def _rows(self):
        return self.client.rows()

    def requests(self):
        with self._lock:
            return list(self._requests)

    def registering(self):
        return None  # SSM's log is not reachable through its API

    # A scenario that reaches for what a running SSM does not offer is skipped with the reason, never an
    # AttributeError (the rule: target.requires(...) first; these catch a scenario that calls target.server.*).
    def insert_row(self, row):  # pylint: disable=unused-argument
        _skip('database')

    def restart(self, check=True):  # pylint: disable=unused-argument
        _skip('restart')

    def log(self, full=False):  # pylint: disable=unused-argument
        _skip('log')

    def reset(self):
        """The state the suite starts every scenario from: no custom registry, no credentials, as far as SSM's API
        allows (a name SSM cannot route stays: the scenarios work beside it)."""
        for row in self._rows():
            if row.get('provider') == 'custom':
                self.call('DELETE', row['name'])
            elif row.get('authSet') or any(v not in (None, '') for v in (row.get('auth') or {}).values()):
                self.call('POST', row['name'], {'auth': {}})
                self.call('PATCH', row['name'])

    clear = reset

    def reload(self):
        """Make SSM load what it stores (v0.5 does so only after PUT and DELETE; v0.1 after POST, PUT, PATCH)."""
        name = RELOAD_PREFIX + binascii.hexlify(os.urandom(4)).decode()
        if self.version == '0.1':
            anonymous = [r['name'] for r in self._rows() if r.get('provider') != 'custom' and not r.get('authSet')]
            if anonymous:  # a PATCH of a row that is already reset changes nothing but reloads
                self.call('PATCH', anonymous[0])
            return
        self.call('PUT', name, {'auth': {'url': 'https://squirrel-ssm-reload.invalid'},
                                'authScheme': [{'name': 'url', 'type': 'string'}]})
        self.call('DELETE', name)


def _skip(capability):
    import pytest  # pylint: disable=import-outside-toplevel
    pytest.skip(MISSING[capability])


# -- putting rows back ---------------------------------------------------------------------------------------------
def _values(row):
    return dict((k, v) for k, v in row.items() if k not in SERVER_KEYS)


def _has_values(auth):
    return isinstance(auth, dict) and any(v not in (None, '') for v in auth.values())


def restore(ssm, saved):
    """Write back every row of `saved` (SSM's GET answer) through SSM's API; returns one entry per row:
    {name, provider, status: exact | limited | lost, notes: [text]}."""
    now = dict((r['name'], r) for r in ssm._rows())  # pylint: disable=protected-access
    saved_names = set(r['name'] for r in saved)
    touched, recreated = set(), set()
    # Custom rows the suite left: deleted first (v0.1 registers only the last custom row).
    for name, row in list(now.items()):
        if name not in saved_names and row.get('provider') == 'custom':
            ssm.call('DELETE', name)
            touched.add(name)
    for row in saved:
        name, current = row['name'], now.get(row['name'])
        if row.get('provider') == 'custom' or current is None:
            continue
        if 'auth' in row:
            write = row['auth'] != current.get('auth') or (row.get('authSet') and not current.get('authSet'))
        else:  # no write removes the key: only values are cleared
            write = _has_values(current.get('auth'))
        if write:
            ssm.call('POST', name, {'auth': copy.deepcopy(row.get('auth', {}))})
        if not row.get('authSet') and (write or current.get('authSet')):
            ssm.call('PATCH', name)
        touched.update([name] if write or current.get('authSet') != row.get('authSet') else [])
    # Custom rows, in SSM's order: from the first that differs, every later one is created again.
    saved_customs = [r for r in saved if r.get('provider') == 'custom']
    current_customs = [n for n in now if n in saved_names and now[n].get('provider') == 'custom']
    first = next((i for i, row in enumerate(saved_customs)
                  if i >= len(current_customs) or current_customs[i] != row['name']
                  or _values(now[row['name']]) != _values(row)), len(saved_customs))
    for row in saved_customs[first:]:
        if row['name'] in now:
            ssm.call('DELETE', row['name'])
    for row in saved_customs[first:]:
        ssm.call('PUT', row['name'], {'auth': copy.deepcopy(row.get('auth') or {}),
                                      'authScheme': copy.deepcopy(row.get('authScheme') or [])})
        if not row.get('authSet'):
            ssm.call('PATCH', row['name'])
        recreated.add(row['name'])
    if touched or recreated:
        ssm.reload()
    return compare(saved, ssm._rows(), recreated)  # pylint: disable=protected-access


def compare(saved, after, recreated=()):
    """Row by row, what `after` holds of `saved`: exact, limited (what SSM's API cannot put back: RESTORE_LIMITS)
    or lost. Values are never shown, only key names: rows hold secrets."""
    after_by_name = dict((r['name'], r) for r in after)
    report = []
    for row in saved:
        name, now = row['name'], after_by_name.get(row['name'])
        entry = dict(name=name, provider=row.get('provider'), status='exact', notes=[])
        report.append(entry)
        if now is None:
            entry.update(status='lost', notes=['missing after the suite'])
            continue
        limits, losses = [], []
        for key in sorted(set(row) | set(now)):
            if key in SERVER_KEYS:
                continue
            if key == 'auth' and row.get(key) != now.get(key):
                if 'auth' not in row and now.get('auth') == {}:
                    limits.append('auth_key_added')
                    continue
                if row.get('auth') == {} and 'auth' not in now:
                    limits.append('auth_key_dropped')
                    continue
            if key not in now:
                losses.append('`%s` missing' % key)
            elif key not in row:
                losses.append('`%s` added' % key)
            elif row[key] != now[key]:
                if isinstance(row[key], dict) and isinstance(now[key], dict):
                    fields = sorted(k for k in set(row[key]) | set(now[key]) if row[key].get(k) != now[key].get(k))
                    losses.append('`%s` differs in %s' % (key, ', '.join(fields)))
                else:
                    losses.append('`%s` differs' % key)
        if name in recreated and row.get('_id') != now.get('_id'):
            limits.append('recreated')
        elif any(row.get(k) != now.get(k) for k in SERVER_KEYS):
            limits.append('rewritten')
        entry['notes'] = losses + [RESTORE_LIMITS[code][0] for code in limits]
        entry['limits'] = limits
        if losses:
            entry['status'] = 'lost'
        elif limits:
            entry['status'] = 'limited'
    order_before = [r['name'] for r in saved if r.get('provider') == 'custom']
    order_after = [r['name'] for r in after if r.get('provider') == 'custom' and r['name'] in set(order_before)]
    if order_after != [n for n in order_before if n in set(order_after)]:
        report.append(dict(name='(order of the custom rows)', provider='custom', status='lost',
                           notes=['was %s, is %s' % (order_before, order_after)]))
    for row in after:
        if row['name'] not in set(r['name'] for r in saved):
            report.append(dict(name=row['name'], provider=row.get('provider'), status='lost',
                               notes=['left by the suite (not there before)']))
    return report


def describe(restored):
    """The restore, as lines a user can paste into a ticket."""
    counts = dict((s, sum(1 for r in restored if r['status'] == s)) for s in ('exact', 'limited', 'lost'))
    lines = ['put back: %d rows exactly, %d as closely as SSM\'s API allows, %d NOT put back'
             % (counts['exact'], counts['limited'], counts['lost'])]
    for entry in restored:
        mark = {'exact': 'exact', 'limited': 'close', 'lost': 'NOT BACK'}[entry['status']]
        notes = (': ' + '; '.join(entry['notes'])) if entry['notes'] else ''
        lines.append('  %-8s %s (%s)%s' % (mark, entry['name'], entry['provider'], notes))
    for code in sorted(set(code for entry in restored for code in entry.get('limits', []))):
        lines.append('  why %s: %s' % (RESTORE_LIMITS[code][0], RESTORE_LIMITS[code][1]))
    return lines


def _versions():
    import yaml  # pylint: disable=import-outside-toplevel
    with open(os.path.join(ROOT, 'galaxy.yml')) as handle:
        collection = yaml.safe_load(handle)['version']
    try:
        from ansible.release import __version__ as core  # pylint: disable=import-outside-toplevel
    except ImportError:
        core = '?'
    return collection, core


def staging_report(results, skipped, started, url=None):
    """The end of a run on a running SSM: what a user pastes into a ticket. `results` maps (scenario, target) to
    passed/failed/skipped, `skipped` gives the reasons; the restore is read from the file stop() wrote (under
    pytest-xdist it ran in a worker)."""
    url = (url or os.environ.get('SSM_CONFORMANCE_URL', '')).rstrip('/')
    path = os.path.join(backup_dir(), 'report-%s.json' % _key(url))
    saved = os.path.join(backup_dir(), 'saved-%s.json' % _key(url))
    restored = None
    if os.path.exists(path) and os.path.getmtime(path) >= started - 1:
        with open(path) as handle:
            restored = json.load(handle)
    collection, core = _versions()
    runs = sorted((scenario, outcome) for (scenario, target), outcome in results.items() if target == 'running')
    counts = dict((o, sum(1 for run in runs if run[1] == o)) for o in ('passed', 'failed', 'skipped'))
    lines = ['squirrel.ssm %s staging check of %s (%s)' % (
        collection, url, datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC'))]
    if restored:
        lines.append('SSM: API v%s, the server says version %s; ansible-core %s' % (
            restored['api'], restored.get('server_version') or 'unknown', core))
    lines.append('scenarios: %(passed)d passed, %(failed)d failed, %(skipped)d skipped' % counts)
    for scenario, outcome in runs:
        if outcome != 'passed':
            reason = skipped.get((scenario, 'running'), '')
            lines.append('  %-4s %s%s' % ('FAIL' if outcome == 'failed' else 'skip', scenario,
                                          ': ' + reason if reason else ''))
    if restored is None and not os.path.exists(saved):
        lines.append('put back: nothing (the suite did not reach the server, so it wrote nothing)')
    elif restored is None:
        lines.append('put back: NOT DONE (the suite did not finish its restore); what SSM stored before is in %s: '
                     'python -m tests.conformance.running restore %s' % (saved, saved))
    else:
        lines.extend(describe(restored['rows']))
        if os.path.exists(saved):
            lines.append('what SSM stored before is kept in %s (mode 0600, secrets included)' % saved)
    return '\n'.join(lines)


def main(argv=None):
    """python -m tests.conformance.running restore FILE: put back the rows a run saved, with the connection of
    SSM_CONFORMANCE_API_KEY (or _USERNAME and _PASSWORD)."""
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2 or argv[0] != 'restore':
        sys.exit('usage: python -m tests.conformance.running restore build/conformance-running/saved-<host>.json')
    with open(argv[1]) as handle:
        data = json.load(handle)
    env = os.environ
    ssm = RunningSSM(data['url'], env.get('SSM_CONFORMANCE_API_KEY'), env.get('SSM_CONFORMANCE_USERNAME'),
                     env.get('SSM_CONFORMANCE_PASSWORD'))
    ssm._take_lock()  # pylint: disable=protected-access
    try:
        ssm.version = ssm.client.version = data['api']
        restored = restore(ssm, data['rows'])
    finally:
        ssm._release_lock()  # pylint: disable=protected-access
    print('\n'.join(describe(restored)))
    if [r for r in restored if r['status'] == 'lost']:
        return 1
    os.unlink(argv[1])
    return 0


if __name__ == '__main__':
    sys.exit(main())
