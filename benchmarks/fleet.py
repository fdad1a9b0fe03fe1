"""The fleet benchmark of `make bench`: one declared set of registries on S SSM servers in one ansible-playbook run.

For S = 1, 10 and 50 SSM servers (one SSM sandbox process each, tests/sandbox/ssm_sandbox.py, SSM v0.5.2 as
measured, started in parallel) with 20 registries each (the ten built-in providers and ten custom ones, all with
secrets), and forks 1, 10 and 50, it times one `ansible-playbook benchmarks/playbooks/fleet.yml` run over an
inventory where each host is one server (`ssm_url`, `ssm_api_key` in its host vars; `ssm_registries` in the
group's vars): the first run, from freshly reset servers (everything changes), and the unchanged run (the same
command again). It counts the requests every server served and, after every run, checks that every server stores
exactly the wanted rows; a failed run or a wrong state aborts (the numbers would mean nothing), a missed target
does not. Cells run in a rotating order, round after round, so load on the machine hits them alike.

Probes, unchanged, at the smallest and the largest S with the most forks, show where the time goes: the empty
play, one `ansible.builtin.ping` per server, one `ssm_registry_info` per server, the list in one `ssm_registry`
task without the role, and the role under `strategy: free` and with pipelining.

Every run also records the CPU time (user + system) of the ansible-playbook command and all its processes.

Environment: BENCH_FLEET_SERVERS (1,10,50), BENCH_FLEET_FORKS (1,10,50), BENCH_FLEET_RUNS (3 of each run per
cell), BENCH_FLEET_CELL_BUDGET (120 seconds: a cell stops after the round its runs added up to more than this),
BENCH_FLEET_PROBES=0 (no probes), BENCH_NO_DOC=1. Raw samples go to build/bench/fleet.json;
BENCH_FLEET_REPORT=build/bench/fleet.json renders them again without running.
"""
import json
import os
import resource
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import requests
import yaml

import benchlib
from benchlib import ROOT, Failure

START, END = '<!-- bench-fleet:start -->', '<!-- bench-fleet:end -->'
REGISTRIES = 20
SERVERS = [int(n) for n in os.environ.get('BENCH_FLEET_SERVERS', '1,10,50').split(',') if n.strip()]
FORKS = [int(n) for n in os.environ.get('BENCH_FLEET_FORKS', '1,10,50').split(',') if n.strip()]
RUNS = int(os.environ.get('BENCH_FLEET_RUNS', '3'))
CELL_BUDGET = float(os.environ.get('BENCH_FLEET_CELL_BUDGET', '120'))
PROBES_ON = os.environ.get('BENCH_FLEET_PROBES', '1') != '0'
RAW = os.path.join(ROOT, 'build', 'bench', 'fleet.json')
API = '/api/container-registries'
RELOAD_PREFIX = API + '/squirrel-ssm-reload-'

# Probes: (key, label, playbook, extra environment). 'role' is the benchmark's own playbook.
PROBES = [
    ('empty', 'empty play (start-up, inventory)', 'fleet_empty.yml', {}),
    ('ping', '`ansible.builtin.ping` (smallest module run)', 'fleet_ping.yml', {}),
    ('info', '`ssm_registry_info` (module run + 1 GET)', 'fleet_info.yml', {}),
    ('list', '`ssm_registry` list form, without the role', 'fleet_list.yml', {}),
    ('role', 'the role (`fleet.yml`), as in the table', 'fleet.yml', {}),
    ('free', 'the role, `strategy: free`', 'fleet.yml', {'ANSIBLE_STRATEGY': 'free'}),
    ('pipe', 'the role, pipelining on', 'fleet.yml', {'ANSIBLE_PIPELINING': 'true'}),
]
PROBE_REQUESTS = {'empty': 0, 'ping': 0}  # the others: 1 GET per server


# ----- the servers ------------------------------------------------------------------------------------------

class Fleet:
    """S sandbox processes, each its own SSM with its own API key, started in parallel."""

    def __init__(self):
        self.servers, self.procs = [], []
        self.session = requests.Session()

    def start(self, count, tmp):
        for i in range(1, count + 1):
            url_file = os.path.join(tmp, 'url-%02d' % i)
            key = 'fleet-key-%02d-7e1a' % i
            self.procs.append(subprocess.Popen(
                [sys.executable, '-m', 'tests.sandbox.ssm_sandbox', '--api-key', key, '--url-file', url_file],
                cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            self.servers.append(dict(name='ssm%02d' % i, key=key, url_file=url_file, url=None))
        deadline = time.monotonic() + 180
        for server, proc in zip(self.servers, self.procs):
            while server['url'] is None:
                if proc.poll() is not None:
                    raise Failure('the sandbox of %s exited at start (rc=%s)' % (server['name'], proc.returncode))
                if time.monotonic() > deadline:
                    raise Failure('the sandbox of %s did not start within 180 s' % server['name'])
                if os.path.exists(server['url_file']):
                    with open(server['url_file'], encoding='utf-8') as fh:
                        server['url'] = fh.read().strip() or None
                if server['url'] is None:
                    time.sleep(0.1)

    def control(self, server, method, path):
        response = self.session.request(method, server['url'] + '/_sandbox/' + path, timeout=30)
        response.raise_for_status()
        return response.json()

    def stop(self):
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def write_inventory(directory, servers, items):
    """The fleet inventory: host vars per server, the shared registries in the group's vars."""
    os.makedirs(os.path.join(directory, 'group_vars'), exist_ok=True)
    hosts = dict((s['name'], dict(ssm_url=s['url'], ssm_api_key=s['key'])) for s in servers)
    with open(os.path.join(directory, 'hosts.yml'), 'w', encoding='utf-8') as fh:
        yaml.safe_dump({'ssm': {'hosts': hosts}}, fh, sort_keys=True)
    with open(os.path.join(directory, 'group_vars', 'ssm.yml'), 'w', encoding='utf-8') as fh:
        yaml.safe_dump({'ansible_python_interpreter': '{{ ansible_playbook_python }}', 'ssm_registries': items},
                       fh, sort_keys=True)
    return os.path.join(directory, 'hosts.yml')


# ----- one run ------------------------------------------------------------------------------------------------

RECAP = re.compile(r'^(\S+)\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)', re.M)
LOADS = []


def children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_playbook(playbook, inventory, forks, servers, extra_env=None):
    """One timed ansible-playbook run: (wall seconds, CPU seconds, {host: changed})."""
    command = [os.path.join(benchlib.BIN, 'ansible-playbook'), '-i', inventory, '-f', str(forks),
               os.path.join(benchlib.PLAYBOOKS, playbook)]
    environ = dict(benchlib.env(), **(extra_env or {}))
    cpu = children_cpu()
    started = time.perf_counter()
    proc = subprocess.run(command, env=environ, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    cpu = children_cpu() - cpu
    benchlib.note_load(LOADS)
    output = proc.stdout + proc.stderr
    recap = dict((m.group(1), [int(g) for g in m.groups()[1:]]) for m in RECAP.finditer(proc.stdout))
    bad = [h for h, (ok, changed, unreachable, failed) in recap.items() if unreachable or failed]
    missing = sorted(set(s['name'] for s in servers) - set(recap)) if playbook != 'fleet_empty.yml' else []
    if proc.returncode or bad or missing:
        raise Failure('%s over %d server(s), forks %d failed (rc=%s, failed %s, missing %s):\n%s'
                      % (playbook, len(servers), forks, proc.returncode, bad, missing, output[-4000:]))
    return seconds, cpu, dict((h, v[1]) for h, v in recap.items())


def served(fleet, servers):
    """The requests each server served since its last reset or clear: {name: [(method, path)]}."""
    return dict((s['name'], [(r['method'], r['path']) for r in fleet.control(s, 'GET', 'requests')])
                for s in servers)


def expected_requests(phase):
    """What one server must serve. Unchanged: the one GET. First run on SSM v0.5.2: the GET, a POST per built-in
    and a PUT per custom registry, one GET confirming the POSTs SSM answered with 500 after storing them, and a
    short-lived registry created and deleted so that SSM loads the new credentials (the built-ins' POSTs do not
    make it reload)."""
    if phase == 'unchanged':
        return dict(GET=1)
    builtins = benchlib.builtin_count(REGISTRIES)
    return dict(GET=2, POST=builtins, PUT=REGISTRIES - builtins + 1, DELETE=1)


def tally(requests_of_one):
    counts = {}
    for method, dummy in requests_of_one:
        counts[method] = counts.get(method, 0) + 1
    return counts


def check(fleet, servers, items, phase, changed, label):
    """Every server stores exactly the wanted rows and served exactly what the phase needs."""
    per_server = served(fleet, servers)
    for s in servers:
        wrong, extra = benchlib.wrong_state(fleet.control(s, 'GET', 'rows'), items)
        if wrong or extra:
            raise Failure('%s: %s stores a wrong state: wrong %s, unexpected %s' % (label, s['name'], wrong, extra))
        if changed.get(s['name']) != (1 if phase == 'first' else 0):
            raise Failure('%s: %s reported changed=%s' % (label, s['name'], changed.get(s['name'])))
    return dict((name, tally(r)) for name, r in per_server.items())


# ----- the benchmark ------------------------------------------------------------------------------------------

def cells():
    return [(s, f) for s in SERVERS for f in FORKS]


def bench_fleet():
    samples = {}  # (S, forks, phase) -> [dict(seconds, cpu, requests: {method: count} per server, all alike?)]
    probes = {}  # (S, key) -> [dict(seconds, cpu, requests)]
    tmp = tempfile.mkdtemp(prefix='squirrel-ssm-fleet-')
    items = benchlib.registries(REGISTRIES)
    started = time.perf_counter()
    fleet = Fleet()
    try:
        benchlib.snapshot(tmp)
        fleet.start(max(SERVERS), tmp)
        print('started %d SSM sandboxes in %.1f s' % (max(SERVERS), time.perf_counter() - started), flush=True)
        inventories = dict((s, write_inventory(os.path.join(tmp, 'inventory-%d' % s), fleet.servers[:s], items))
                           for s in SERVERS)
        todo = cells()
        for r in range(RUNS):
            order = todo[r % len(todo):] + todo[:r % len(todo)]
            for s, forks in order:
                if sum(x['seconds'] for p in ('first', 'unchanged') for x in samples.get((s, forks, p), [])) \
                        > CELL_BUDGET:
                    continue
                servers = fleet.servers[:s]
                for server in servers:
                    fleet.control(server, 'POST', 'reset')
                for phase in ('first', 'unchanged'):
                    for server in servers:
                        fleet.control(server, 'DELETE', 'requests')
                    label = 'S=%d forks=%d %s run' % (s, forks, phase)
                    seconds, cpu, changed = run_playbook('fleet.yml', inventories[s], forks, servers)
                    counts = check(fleet, servers, items, phase, changed, label)
                    samples.setdefault((s, forks, phase), []).append(dict(seconds=seconds, cpu=cpu, requests=counts))
                    print('round %d/%d  S=%-3d forks=%-3d %-9s %7.2f s  cpu %6.2f s  requests/server %s'
                          % (r + 1, RUNS, s, forks, phase, seconds, cpu, describe(counts)), flush=True)
        if PROBES_ON:
            forks = max(FORKS)
            sizes = sorted(set((min(SERVERS), max(SERVERS))))
            for s in sizes:  # leave every server converged: the probes are unchanged runs
                for server in fleet.servers[:s]:
                    fleet.control(server, 'POST', 'reset')
                run_playbook('fleet.yml', inventories[s], forks, fleet.servers[:s])
            for r in range(RUNS):
                for i, (key, label, playbook, extra) in enumerate(PROBES[r % len(PROBES):] + PROBES[:r % len(PROBES)]):
                    for s in sizes if (r + i) % 2 else sizes[::-1]:
                        servers = fleet.servers[:s]
                        for server in servers:
                            fleet.control(server, 'DELETE', 'requests')
                        seconds, cpu, changed = run_playbook(playbook, inventories[s], forks, servers, extra)
                        counts = dict((name, tally(x)) for name, x in served(fleet, servers).items())
                        if any(changed.values()):
                            raise Failure('probe %s reported a change on converged servers' % key)
                        want = PROBE_REQUESTS.get(key, 1)
                        if any(sum(c.values()) != want for c in counts.values()):
                            raise Failure('probe %s: requests per server %s, expected %d' % (key, describe(counts), want))
                        probes.setdefault((s, key), []).append(dict(seconds=seconds, cpu=cpu, requests=counts))
                        print('probe %d/%d S=%-3d forks=%-3d %-45s %7.2f s  cpu %6.2f s'
                              % (r + 1, RUNS, s, forks, label, seconds, cpu), flush=True)
    finally:
        fleet.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return samples, probes, time.perf_counter() - started


def describe(counts):
    """{server: {method: n}} (or a list of {method: n}) -> '1 GET' when all are alike, else the distinct ones."""
    kinds = sorted(set(json.dumps(c, sort_keys=True) for c in (counts.values() if isinstance(counts, dict) else counts)))
    return ' | '.join(' + '.join('%d %s' % (n, m) for m, n in sorted(json.loads(k).items())) or '0' for k in kinds)


# ----- report -------------------------------------------------------------------------------------------------

def median(runs, field='seconds'):
    return statistics.median(x[field] for x in runs) if runs else None


def timing(runs):
    if not runs:
        return '–'
    times = [x['seconds'] for x in runs]
    return '**%.2f s** (%.2f–%.2f, %d)' % (statistics.median(times), min(times), max(times), len(times))


def requests_ok(runs, phase):
    want = expected_requests(phase)
    return bool(runs) and all(c == want for x in runs for c in x['requests'].values())


def requests_cell(runs, phase):
    if not runs:
        return '–'
    merged = [c for x in runs for c in x['requests'].values()]
    total = sum(sum(c.values()) for c in runs[0]['requests'].values())
    return '%s per server (%d in all) %s' % (describe(merged), total, '✓' if requests_ok(runs, phase) else '✗')


def fewest_servers_runs(samples, phase):
    """The unchanged (or first) runs of the smallest S at every forks >= S: alike, as Ansible starts one worker per
    host at most, so they are pooled."""
    small = min(SERVERS)
    return [x for f in FORKS if f >= small for x in samples.get((small, f, phase), [])]


def verdicts(samples, info):
    out = []
    big, small = max(SERVERS), min(SERVERS)
    enough = [f for f in FORKS if f >= big]
    one_runs = fewest_servers_runs(samples, 'unchanged')
    fleet_runs = samples.get((big, min(enough), 'unchanged')) if enough else None
    if fleet_runs and one_runs and big > small:
        forks = min(enough)
        ratio = median(fleet_runs) / median(one_runs)
        cpus = info.get('nproc') or 1
        out.append((ratio <= 2, 'with forks >= S, an unchanged run of %d servers takes at most 2x the time of %d: '
                    'S = %d, forks %d: %.2f s / S = %d (every forks, %d runs): %.2f s = **%.1fx**. That run takes '
                    '%.1f s of CPU time: on %d CPU(s) no less than %.1f s of wall time, %.1fx the time of S = %d'
                    % (big, small, big, forks, median(fleet_runs), small, len(one_runs), median(one_runs), ratio,
                       median(fleet_runs, 'cpu'), cpus, median(fleet_runs, 'cpu') / cpus,
                       median(fleet_runs, 'cpu') / cpus / median(one_runs), small)))
    unchanged = [(s, f) for s, f in cells() if samples.get((s, f, 'unchanged'))]
    wrong = ['S=%d forks=%d' % (s, f) for s, f in unchanged if not requests_ok(samples[(s, f, 'unchanged')], 'unchanged')]
    out.append((bool(unchanged) and not wrong, 'exactly one request per server when nothing changes: %s'
                % ('every server, every unchanged run of every cell (%d runs)'
                   % sum(len(samples[(s, f, 'unchanged')]) for s, f in unchanged) if not wrong
                   else 'NOT in ' + ', '.join(wrong))))
    first = [(s, f) for s, f in cells() if samples.get((s, f, 'first'))]
    wrong = ['S=%d forks=%d' % (s, f) for s, f in first if not requests_ok(samples[(s, f, 'first')], 'first')]
    want = expected_requests('first')
    out.append((bool(first) and not wrong, 'first run: every server served exactly what its writes need, %d requests '
                '(%s)%s' % (sum(want.values()), describe([want]), '' if not wrong else ': NOT in ' + ', '.join(wrong))))
    return out


def report(samples, probes, elapsed, info):
    load = info.get('load')
    lines = [
        'Measured %s on %d CPU(s) (%s), %s, Python %s, ansible-core %s; the fleet benchmark took %.0f s%s. '
        'The SSM servers are sandboxes on the same machine, one process each, answering as SSM v0.5.2 does.'
        % (info['date'], info['nproc'], info['cpu'], info['os'], info['python'], info['ansible'], elapsed,
           '' if not load else '; the 1-minute load average after its runs was %.1f (%.1f–%.1f)'
           % (load[1], load[0], load[2])),
        '',
        'Wall time of one `ansible-playbook` run over S servers with %d registries each: median (min–max, runs); '
        'CPU: the median CPU time (user + system) of the command and all its processes. First run: from freshly '
        'reset servers, every registry changes. Unchanged run: the same command again.' % REGISTRIES,
        '',
        '| S | forks | first run | CPU | requests | unchanged run | CPU | requests |',
        '|---:|---:|---|---:|---|---|---:|---|',
    ]
    for s, f in cells():
        first, unchanged = samples.get((s, f, 'first'), []), samples.get((s, f, 'unchanged'), [])
        if not first and not unchanged:
            continue
        lines.append('| %d | %d%s | %s | %s | %s | %s | %s | %s |' % (
            s, f, ' (= %d)' % s if f > s else '', timing(first), cpu_cell(first), requests_cell(first, 'first'),
            timing(unchanged), cpu_cell(unchanged), requests_cell(unchanged, 'unchanged')))
    lines += ['', 'Forks above S (shown "= S") change nothing: Ansible starts at most one worker per host. Runs per '
              'cell: %d of each, fewer once a cell\'s runs add up to more than %.0f s.' % (RUNS, CELL_BUDGET), '',
              '### Targets', '']
    for met, text in verdicts(samples, info):
        lines.append('- %s %s' % ({True: '**MET**', False: '**NOT MET**'}[met], text))
    if probes:
        lines += probe_table(probes)
    lines += derived(samples, probes, info)
    return '\n'.join(lines)


def derived(samples, probes, info):
    """Where the time goes, from differences of medians."""
    big, small = max(SERVERS), min(SERVERS)
    lines = []
    if big == small:
        return lines
    one = fewest_servers_runs(samples, 'unchanged')
    top = max(FORKS)
    for forks in FORKS:
        runs = samples.get((big, forks, 'unchanged'))
        if runs and one:
            wall = (median(runs) - median(one)) / (big - small)
            cpu = (median(runs, 'cpu') - median(one, 'cpu')) / (big - small)
            lines.append('- unchanged, forks %d: each further server adds **%.0f ms** of wall time and **%.0f ms** of '
                         'CPU time (S = %d to %d)' % (forks, 1000 * wall, 1000 * cpu, small, big))
    first_one, first_big = fewest_servers_runs(samples, 'first'), samples.get((big, top, 'first'))
    unchanged_big = samples.get((big, top, 'unchanged'))
    if first_one and first_big and unchanged_big:
        per_server = (median(first_big, 'cpu') - median(first_one, 'cpu')) / (big - small)
        writes = (median(first_big, 'cpu') - median(unchanged_big, 'cpu')) / big
        lines.append('- first run, forks %d: each further server adds **%.0f ms** of CPU time, of which %.0f ms more '
                     'than unchanged: its %d requests beyond the GET'
                     % (top, 1000 * per_server, 1000 * writes, sum(expected_requests('first').values()) - 1))

    def slope(key):
        low, high = probes.get((small, key)), probes.get((big, key))
        return (median(high, 'cpu') - median(low, 'cpu')) / (big - small) if low and high else None

    steps = [('ping', None, 'one module run of Ansible itself (`ping`: the worker, the module sent and started in a new '
                            'Python, its result read back)'),
             ('info', 'ping', "`ssm_registry_info` on top of that (the collection's imports, `requests` among them, "
                              'and one GET)'),
             ('list', 'info', '`ssm_registry` with 20 registries instead (their validation and comparison)'),
             ('role', 'list', "the role on top of that (its argument-spec validation and its assert, two tasks that "
                              'run in the controller)'),
             ('free', 'role', '`strategy: free` instead of linear'),
             ('pipe', 'role', 'pipelining on')]
    for key, base, text in steps:
        if slope(key) is not None and (base is None or slope(base) is not None):
            value = slope(key) - (slope(base) if base else 0)
            lines.append('- CPU time per server: %s: **%+.0f ms**' % (text, 1000 * value) if base else
                         '- CPU time per server: %s: **%.0f ms**' % (text, 1000 * value))
    if lines:
        lines = ['', '### Where the time goes (derived from the medians above)', ''] + lines + [
            '- (differences of medians: one smaller than the spread of the runs is noise)']
    return lines


def cpu_cell(runs):
    return '%.1f s' % median(runs, 'cpu') if runs else '–'


def probe_table(probes):
    sizes = sorted(set(s for s, dummy in probes))
    forks = max(FORKS)
    lines = ['', '### Where the time goes: probes', '',
             'Unchanged runs on converged servers, forks %d: median wall time (min–max) and CPU time; the last '
             'column is the CPU time each further server adds.' % forks, '',
             '| probe | %s | CPU per further server |' % ' | '.join('S = %d: wall | CPU' % s for s in sizes),
             '|---|%s---:|' % ('---|---:|' * len(sizes))]
    for key, label, dummy, dummy2 in PROBES:
        row = [probes.get((s, key), []) for s in sizes]
        if not any(row):
            continue
        cells_ = []
        for runs in row:
            cells_ += [timing(runs), cpu_cell(runs)]
        slope = '–'
        if len(sizes) > 1 and row[0] and row[-1]:
            slope = '%d ms' % round(1000 * (median(row[-1], 'cpu') - median(row[0], 'cpu')) / (sizes[-1] - sizes[0]))
        lines.append('| %s | %s | %s |' % (label, ' | '.join(cells_), slope))
    return lines


def save(samples, probes, elapsed, info):
    os.makedirs(os.path.dirname(RAW), exist_ok=True)
    with open(RAW, 'w', encoding='utf-8') as fh:
        json.dump(dict(elapsed=elapsed, machine=info, servers=SERVERS, forks=FORKS, runs=RUNS, cell_budget=CELL_BUDGET,
                       samples=[dict(servers=s, forks=f, run=p, runs=v) for (s, f, p), v in sorted(samples.items())],
                       probes=[dict(servers=s, probe=k, runs=v) for (s, k), v in sorted(probes.items())]), fh, indent=1)


def load(path):
    global SERVERS, FORKS, RUNS, CELL_BUDGET
    with open(path, encoding='utf-8') as fh:
        raw = json.load(fh)
    SERVERS, FORKS, RUNS, CELL_BUDGET = raw['servers'], raw['forks'], raw['runs'], raw['cell_budget']
    samples = dict(((c['servers'], c['forks'], c['run']), c['runs']) for c in raw['samples'])
    probes = dict(((c['servers'], c['probe']), c['runs']) for c in raw['probes'])
    return samples, probes, raw['elapsed'], raw['machine']


def main():
    if os.environ.get('BENCH_FLEET_REPORT'):
        samples, probes, elapsed, info = load(os.environ['BENCH_FLEET_REPORT'])
    else:
        try:
            samples, probes, elapsed = bench_fleet()
        except (Failure, requests.RequestException) as e:
            print('\nfleet benchmark aborted: %s' % e, file=sys.stderr)
            return 1
        info = benchlib.machine(LOADS)
        save(samples, probes, elapsed, info)
    table = report(samples, probes, elapsed, info)
    print('\n' + table)
    if os.environ.get('BENCH_NO_DOC') != '1':
        benchlib.write_doc(table, START, END)
        print('\nwritten into %s' % os.path.relpath(benchlib.DOC, ROOT))
    return 0


if __name__ == '__main__':
    sys.exit(main())
