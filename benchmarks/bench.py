"""Benchmark behind `make bench`: converge N registries on the in-process SSM sandbox three ways.

    (a)  the role squirrel.ssm.registries      one task with the whole list
    (b)  a loop of squirrel.ssm.ssm_registry   one module run per registry
    (c0) naive ansible.builtin.uri             a looped uri task POSTing every registry on every run, no read
                                               (PUT for the custom ones the POST finds missing)
    (c)  careful ansible.builtin.uri           one GET, then a looped uri task writing what differs

plus references, at the largest N only: (a') the same list in one ssm_registry task without the role (second
run only), a single squirrel.ssm.ssm_registry_info task, and an empty play (ansible-playbook start-up alone).
For N = 1, 10 and 100 registries (built-in and custom mixed) it times, with real ansible-playbook runs of the
built and installed collection, the first run (from a freshly reset sandbox: everything changes) and the second
run (nothing changes), and counts the HTTP requests the sandbox served.
Variants run interleaved, in a rotating order, so machine noise hits them alike.

It prints a markdown table and writes it into docs/performance.md between `<!-- bench:start -->` and
`<!-- bench:end -->`. It is a benchmark, not a test: targets that are not met are reported, never fatal.
It exits non-zero only when a playbook fails or converges to a wrong state (then the numbers mean nothing).

Environment: BENCH_SIZES (default 1,10,100), BENCH_FIRST_RUNS (3), BENCH_SECOND_RUNS (5), BENCH_CELL_BUDGET
(20 seconds), BENCH_MAX_TASK_RUNS (150), BENCH_NO_DOC=1 (leave docs/performance.md alone). The raw samples
go to build/bench/results.json; BENCH_REPORT=build/bench/results.json renders them again without running.

`make bench` then runs the fleet benchmark, benchmarks/fleet.py (its own settings are there). BENCH_ONLY=single
runs this one alone, BENCH_ONLY=fleet the fleet alone.
"""
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from benchlib import (BIN, DOC, PLAYBOOKS, ROOT, Failure, builtin_count, collections_path, env, machine, note_load,
                      registries, snapshot, write_doc, wrong_state)

sys.path.insert(0, ROOT)

from tests.sandbox.ssm_sandbox import Sandbox  # noqa: E402

START, END = '<!-- bench:start -->', '<!-- bench:end -->'
API_KEY = 'bench-api-key-3c9d'
PATH = '/api/container-registries'

SIZES = [int(n) for n in os.environ.get('BENCH_SIZES', '1,10,100').split(',') if n.strip()]
FIRST_RUNS = int(os.environ.get('BENCH_FIRST_RUNS', '3'))
SECOND_RUNS = int(os.environ.get('BENCH_SECOND_RUNS', '5'))
# A cell (N, way, run) of more than two module runs (a loop) whose runs add up to more than this stops after the
# run that crossed it, so the slow ways get fewer runs at N = 10 and 100 and the bench stays ~11 min. Cells of
# one or two module runs (the ones the targets compare) always get all their runs.
CELL_BUDGET = float(os.environ.get('BENCH_CELL_BUDGET', '20'))
# A cell whose one run would execute more module runs (task or loop item, ~1 s each) than this is not run at
# all: the first run of (c0) at N = 100 (100 POSTs + 90 PUTs, each a uri run: over 3 minutes for one run).
MAX_TASK_RUNS = int(os.environ.get('BENCH_MAX_TASK_RUNS', '150'))


class Variant:
    """A way (first=True: timed on the first and the second run, at every N) or a reference (second run only,
    at the largest N only)."""

    def __init__(self, key, label, playbook, first, gets, writes, tasks):
        self.key, self.label, self.playbook, self.first = key, label, playbook, first
        self.gets, self.writes = gets, writes  # (n, phase) -> expected GETs / writes
        self.tasks = tasks  # (n, phase) -> module runs (tasks and loop items executed) of one run

    def expected(self, n, phase):
        return self.gets(n, phase) + self.writes(n, phase)


def changes(n, phase):
    return n if phase == 'first' else 0


# SSM v0.5 loads its registries again only after a registry is created or deleted, so after the POST of a built-in's
# credentials the module creates and deletes a short-lived registry (2 writes) to make it use them.
RELOAD_WRITES = 2


def module_writes(n, phase):
    """(a): the changes, then one reload for the run (the first run always POSTs a built-in)."""
    return n + RELOAD_WRITES if phase == 'first' else 0


def loop_writes(n, phase):
    """(b): the changes, and a reload in each module run that POSTed a built-in."""
    return n + RELOAD_WRITES * builtin_count(n) if phase == 'first' else 0


def naive_writes(n, phase):
    """(c0): a POST per registry on every run, plus a PUT per custom registry the first run creates."""
    return n + (n - builtin_count(n) if phase == 'first' else 0)


def one(n, phase):
    return 1


def none(n, phase):
    return 0


VARIANTS = [
    Variant('a', '(a) role `squirrel.ssm.registries`', 'role.yml', True, one, module_writes, one),
    Variant('list', "(a') one `ssm_registry` task, list form", 'list.yml', False, one, none, one),
    Variant('b', '(b) loop of `ssm_registry` tasks', 'loop.yml', True, lambda n, p: n, loop_writes, lambda n, p: n),
    Variant('c0', '(c0) naive `uri`: write all, no read', 'uri_naive.yml', True, none, naive_writes, naive_writes),
    Variant('c', '(c) careful `uri`: read, write the diff', 'uri.yml', True, one, changes,
            lambda n, p: 1 + changes(n, p)),
    Variant('info', 'ref: one `ssm_registry_info` task', 'info.yml', False, one, none, one),
    Variant('empty', 'ref: empty play (start-up only)', 'empty.yml', False, none, none, none),
]
BY_KEY = dict((v.key, v) for v in VARIANTS)


def role_list_variable():
    """The role's list variable, as the installed role's meta/argument_specs.yml names it: its first list option (the
    list of every server; the per-server list, ssm_registries_host, comes after it)."""
    import yaml
    spec = os.path.join(collections_path(), 'ansible_collections', 'squirrel', 'ssm', 'roles', 'registries', 'meta',
                        'argument_specs.yml')
    with open(spec, encoding='utf-8') as fh:
        options = yaml.safe_load(fh)['argument_specs']['main']['options']
    names = [name for name, option in options.items() if option.get('type') == 'list']
    if not names:
        raise Failure('cannot tell the list variable of the registries role from %s' % spec)
    return names[0]


LOADS = []  # the 1-minute load average after each run: how busy the machine was meanwhile
RECAP = re.compile(r'localhost\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)')


def run(variant, vars_file, sandbox, phase):
    """One timed ansible-playbook run; returns (seconds, requests served, changed tasks in the recap)."""
    sandbox.clear_requests()
    command = [os.path.join(BIN, 'ansible-playbook'), os.path.join(PLAYBOOKS, variant.playbook),
               '-e', '@' + vars_file]
    started = time.perf_counter()
    proc = subprocess.run(command, env=env(), capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    output = proc.stdout + proc.stderr
    recap = RECAP.search(output)
    if proc.returncode or (recap and (int(recap.group(3)) or int(recap.group(4)))) or \
            (not recap and variant.key != 'empty'):  # an empty play has no host in its recap
        raise Failure('%s (%s run) failed, rc=%s:\n%s' % (variant.label, phase, proc.returncode, output[-4000:]))
    served = list(sandbox.requests)
    note_load(LOADS)
    gets = sum(1 for r in served if r['method'] == 'GET')
    return seconds, served, gets, int(recap.group(2)) if recap else 0


def check_state(sandbox, items, label):
    """Every variant must leave SSM in the same state: the wanted credentials, nothing else."""
    wrong, extra = wrong_state(sandbox.rows, items)
    if wrong or extra:
        raise Failure('%s left SSM in a wrong state: wrong %s, unexpected %s' % (label, wrong, extra))


def seed(sandbox, items):
    """Put the wanted set into a fresh sandbox directly (in-process, no HTTP), for second-run-only rounds."""
    sandbox.reset()
    headers = {'Authorization': 'Bearer %s' % API_KEY}
    scheme = [{'name': 'url', 'type': 'string'}, {'name': 'Connection Type', 'type': 'choice', 'values': [
        [{'name': 'login', 'type': 'string'}, {'name': 'password', 'type': 'string'}],
        [{'name': 'auth', 'type': 'string'}]]}]
    for item in items:
        if item['name'] in sandbox.rows:
            body = dict(auth=item['credentials'])
            method = 'POST'
        else:
            body = dict(auth=item['credentials'], authScheme=scheme)
            method = 'PUT'
        status = sandbox.handle_api(method, '%s/%s' % (PATH, item['name']), headers, json.dumps(body).encode())[0]
        if status != 200:
            raise Failure('seeding %s answered %s' % (item['name'], status))
    check_state(sandbox, items, 'seeding')
    sandbox.clear_requests()


SKIPPED = {}  # (n, key, phase) -> module runs one run would take, over MAX_TASK_RUNS


def bench():
    samples = {}  # (n, key, phase) -> [(seconds, requests, gets, changed)]
    # flavour='fixed': the uri baselines and seed() expect 200s; v0.5.2's 500-after-write would fail them
    sandbox = Sandbox(api_key=API_KEY, flavour='fixed').start()
    tmp = tempfile.mkdtemp(prefix='squirrel-ssm-bench-')
    started = time.perf_counter()
    try:
        snapshot(tmp)
        for n in SIZES:
            items = registries(n)
            vars_file = os.path.join(tmp, 'vars-%d.json' % n)
            with open(vars_file, 'w', encoding='utf-8') as fh:
                json.dump({'ssm_url': sandbox.url, 'ssm_api_key': API_KEY, 'ssm_registries': items,
                           role_list_variable(): items}, fh)
            builtins = sum(1 for i in items if i['provider'] != 'custom')
            print('\n## N = %d (%d built-in, %d custom)' % (n, builtins, n - builtins), flush=True)
            rounds = max(FIRST_RUNS, SECOND_RUNS)

            def wanted(v, phase, runs):
                done = samples.get((n, v.key, phase), [])
                return (n, v.key, phase) not in SKIPPED and len(done) < runs and \
                    (v.tasks(n, phase) <= 2 or sum(s[0] for s in done) < CELL_BUDGET)

            for v in VARIANTS:
                for phase in ('first', 'second') if v.first else ('second',):
                    if v.tasks(n, phase) > MAX_TASK_RUNS:
                        SKIPPED[(n, v.key, phase)] = v.tasks(n, phase)
                        print('N=%-3d not run: %s, %s run: %d module runs (BENCH_MAX_TASK_RUNS=%d)'
                              % (n, v.label, phase, v.tasks(n, phase), MAX_TASK_RUNS), flush=True)

            for r in range(rounds):
                order = VARIANTS[r % len(VARIANTS):] + VARIANTS[:r % len(VARIANTS)]
                for v in order:
                    if not v.first and n != max(SIZES):
                        continue
                    phases = []
                    if v.first and wanted(v, 'first', FIRST_RUNS):
                        sandbox.reset()
                        phases.append('first')
                    if wanted(v, 'second', SECOND_RUNS):
                        if not phases:
                            seed(sandbox, items)
                        phases.append('second')
                    for phase in phases:
                        seconds, served, gets, changed = run(v, vars_file, sandbox, phase)
                        if v.key != 'empty':
                            check_state(sandbox, items, '%s (%s run)' % (v.label, phase))
                        if phase == 'second' and changed:
                            raise Failure('%s reported a change on the second run' % v.label)
                        samples.setdefault((n, v.key, phase), []).append((seconds, len(served), gets, changed))
                        print('N=%-3d round %d/%d  %-41s %-6s %7.2f s  %3d request(s)'
                              % (n, r + 1, rounds, v.label, phase, seconds, len(served)), flush=True)
    finally:
        sandbox.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return samples, time.perf_counter() - started


def round_trip(n, count=200):
    """Median time of one keep-alive GET of the list and one POST, client and sandbox in this process."""
    import requests
    # flavour='fixed': the uri baselines and seed() expect 200s; v0.5.2's 500-after-write would fail them
    sandbox = Sandbox(api_key=API_KEY, flavour='fixed').start()
    try:
        items = registries(n)
        seed(sandbox, items)
        session = requests.Session()
        session.headers['Authorization'] = 'Bearer %s' % API_KEY
        url = sandbox.url + PATH
        timed = {'GET': [], 'POST': []}
        for i in range(count):
            for method in ('GET', 'POST'):
                started = time.perf_counter()
                if method == 'GET':
                    response = session.get(url)
                else:
                    response = session.post(url + '/ghcr', json={'auth': {'username': 'u', 'token': 't%d' % i}})
                timed[method].append(time.perf_counter() - started)
                response.raise_for_status()
        return n, 1000 * statistics.median(timed['GET']), 1000 * statistics.median(timed['POST'])
    finally:
        sandbox.stop()


# ----- report -------------------------------------------------------------------------------------------

def median(samples):
    return statistics.median(s[0] for s in samples) if samples else None


def timing(samples):
    if not samples:
        return '–'
    times = [s[0] for s in samples]
    return '**%.2f s** (%.2f–%.2f, %d runs)' % (statistics.median(times), min(times), max(times), len(times))


def not_run(samples, variant, n, phase):
    """The time cell of a cell skipped for BENCH_MAX_TASK_RUNS, with an estimate from its other run at that N."""
    other = 'second' if phase == 'first' else 'first'
    done = samples.get((n, variant.key, other))
    guess = (', ~%.0f s at the pace of its %s run' % (median(done) * SKIPPED[(n, variant.key, phase)]
                                                      / max(1, variant.tasks(n, other)), other) if done else '')
    return 'not run: %d module runs%s' % (SKIPPED[(n, variant.key, phase)], guess)


def requests_cell(samples, variant, n, phase):
    if not samples:
        return '–'
    counts = sorted(set(s[1] for s in samples))
    gets = sorted(set(s[2] for s in samples))
    expected = variant.expected(n, phase)
    shown = '/'.join(str(c) for c in counts)
    ok = counts == [expected] and gets == [variant.gets(n, phase)]
    detail = '%d GET + %d writes' % (variant.gets(n, phase), variant.writes(n, phase))
    return '%s %s' % (shown, '✓' if ok else '✗ (expected %d: %s)' % (expected, detail))


def requests_ok(samples, variant, n, phase):
    return bool(samples) and all(s[1] == variant.expected(n, phase) and s[2] == variant.gets(n, phase)
                                 for s in samples)


def verdicts(samples):
    """The targets of the issue, each (met: True/False/None, text)."""
    out = []
    a100, i100 = (samples.get((100, k, 'second')) for k in ('a', 'info'))
    for key, what in (('c0', 'the naive `uri` playbook (N POSTs, no read)'),
                      ('c', 'the careful `uri` playbook (1 GET, writes only what differs)')):
        base = samples.get((100, key, 'second'))
        if a100 and base:
            ratio = median(base) / median(a100)
            out.append((ratio >= 10, 'N = 100 unchanged: (a) at least 10x faster than (%s), %s: (%s) %.2f s / (a) '
                        '%.2f s = **%.1fx**' % (key, what, key, median(base), median(a100), ratio)))
        else:
            out.append((None, 'N = 100 unchanged: (a) at least 10x faster than (%s), %s: not measured' % (key, what)))
    if a100 and i100:
        ratio = median(a100) / median(i100)
        l100 = samples.get((100, 'list', 'second'))
        extra = (" (the list form without the role, (a'): %.2f s = %.2fx)" % (median(l100), median(l100) / median(i100))
                 if l100 else '')
        out.append((ratio <= 1.5, 'N = 100 unchanged: (a) within 1.5x of one `ssm_registry_info` task: (a) %.2f s / '
                    'info %.2f s = **%.2fx**%s' % (median(a100), median(i100), ratio, extra)))
    else:
        out.append((None, 'N = 100 unchanged: (a) within 1.5x of `ssm_registry_info`: not measured'))
    a = BY_KEY['a']
    for phase, text in (('second', 'unchanged set = exactly 1 request for (a)'),
                        ('first', 'changed set = 1 + number of changes + %d to make SSM reload, for (a)' % RELOAD_WRITES)):
        got = ['N=%d: %s' % (n, '/'.join(str(c) for c in sorted(set(s[1] for s in samples[(n, 'a', phase)]))))
               for n in SIZES if (n, 'a', phase) in samples]
        want = ['N=%d: %d' % (n, a.expected(n, phase)) for n in SIZES]
        met = all(requests_ok(samples.get((n, 'a', phase)), a, n, phase) for n in SIZES)
        out.append((met, '%s: served %s (expected %s)' % (text, ', '.join(got), ', '.join(want))))
    others = [(v, n, p) for v in VARIANTS if v.key != 'a' for n in SIZES for p in ('first', 'second')
              if (n, v.key, p) in samples and not requests_ok(samples[(n, v.key, p)], v, n, p)]
    context = []
    for key, phase, text in (('b', 'second', 'unchanged'), ('b', 'first', 'first run'), ('c0', 'first', 'first run'),
                             ('c', 'first', 'first run')):
        ways, a_way = samples.get((100, key, phase)), samples.get((100, 'a', phase))
        if ways and a_way:
            context.append('(%s) / (a) %s = %.1fx' % (key, text, median(ways) / median(a_way)))
    out.append((not others, "request counts of (a'), (b), (c0), (c) and the references as expected (a': 1; b: N "
                'GETs + changes + %d per built-in written; c0: N POSTs + a PUT per custom registry created; c: 1 GET + '
                'changes; info: 1; empty play: 0)%s'
                % (RELOAD_WRITES, '' if not others else ': NOT for ' + ', '.join('%s N=%d %s' % (v.key, n, p) for v, n, p in others))))
    if context:
        out.append((None, 'for comparison, not targets, at N = 100: ' + '; '.join(context)))
    return out


def breakdown(samples, rtt=None):
    """Where the time goes, from differences between medians."""
    def m(n, key, phase):
        return median(samples.get((n, key, phase), []))

    lines = []
    empty = [s for n in SIZES for s in samples.get((n, 'empty', 'second'), [])]
    start = median(empty)
    if start is not None:
        lines.append('- ansible-playbook start-up (empty play): **%.2f s**' % start)
    info = [s for n in SIZES for s in samples.get((n, 'info', 'second'), [])]
    if info and start is not None:
        lines.append('- one module task with one GET (`ssm_registry_info` minus start-up): **%.2f s**'
                     % (median(info) - start))
    big, small = max(SIZES), min(SIZES)
    if start is not None and m(big, 'a', 'second') is not None:
        lines.append('- (a) at N = %d unchanged, beyond start-up (argument-spec check + one module run, one GET): '
                     '**%.2f s**' % (big, m(big, 'a', 'second') - start))
    if m(big, 'a', 'second') is not None and m(big, 'list', 'second') is not None:
        lines.append("- the role's argument-spec validation task ((a) minus (a') at N = %d unchanged): **%.2f s**"
                     % (big, m(big, 'a', 'second') - m(big, 'list', 'second')))
    if m(big, 'a', 'first') is not None and m(big, 'a', 'second') is not None:
        lines.append('- (a) per registry written, inside its one module run ((first - second) / N at N = %d): '
                     '**%.1f ms**' % (big, 1000 * (m(big, 'a', 'first') - m(big, 'a', 'second')) / big))
    if big > small and m(big, 'a', 'second') is not None and m(small, 'a', 'second') is not None:
        lines.append('- (a) per registry compared, unchanged (slope of the second run, N = %d to %d): **%.1f ms**'
                     % (small, big, 1000 * (m(big, 'a', 'second') - m(small, 'a', 'second')) / (big - small)))
    if big > small and m(big, 'b', 'second') is not None and m(small, 'b', 'second') is not None:
        slope = (m(big, 'b', 'second') - m(small, 'b', 'second')) / (big - small)
        lines.append('- (b) per registry, unchanged: one more module run with its own GET (slope, N = %d to %d): '
                     '**%.0f ms**' % (small, big, 1000 * slope))
    if m(big, 'b', 'first') is not None and m(big, 'b', 'second') is not None:
        lines.append('- (b) per registry written ((first - second) / N at N = %d): **%.0f ms**'
                     % (big, 1000 * (m(big, 'b', 'first') - m(big, 'b', 'second')) / big))
    if big > small and m(big, 'c0', 'second') is not None and m(small, 'c0', 'second') is not None:
        slope = (m(big, 'c0', 'second') - m(small, 'c0', 'second')) / (big - small)
        lines.append('- (c0) per registry POSTed by a uri loop item, on every run (slope of the second run, N = %d to '
                     '%d): **%.0f ms**' % (small, big, 1000 * slope))
    if big > small and m(big, 'c', 'second') is not None and m(small, 'c', 'second') is not None:
        lines.append('- (c) per registry skipped by `when:` (slope of the second run, N = %d to %d): **%.1f ms**'
                     % (small, big, 1000 * (m(big, 'c', 'second') - m(small, 'c', 'second')) / (big - small)))
    if m(big, 'c', 'first') is not None and m(big, 'c', 'second') is not None:
        lines.append('- (c) per registry written by a uri loop item ((first - second) / N at N = %d): **%.0f ms**'
                     % (big, 1000 * (m(big, 'c', 'first') - m(big, 'c', 'second')) / big))
    lines.append('- (these are differences of medians: one smaller than the spread of the runs in the table is noise, '
                 'and a negative one means too small to measure here)')
    if rtt:
        lines.append('- one HTTP round trip to the sandbox on a keep-alive session (in-process, %d registries '
                     'stored): GET of the list **%.1f ms**, POST of one registry **%.1f ms**' % rtt)
    return lines


def report(samples, elapsed, rtt, info):
    lines = [
        'Measured %s on %d CPU(s) (%s), %s, Python %s, ansible-core %s; the whole benchmark took %.0f s%s.'
        % (info['date'], info['nproc'], info['cpu'], info['os'], info['python'], info['ansible'], elapsed,
           '' if not info.get('load') else ', the 1-minute load average after its runs was %.1f (%.1f–%.1f)'
           % (info['load'][1], info['load'][0], info['load'][2])),
        '',
        'Reproduce with `make bench` (builds and installs the collection, then runs `benchmarks/bench.py`).',
        'Wall time of each `ansible-playbook` run: median (min–max, runs). Requests: what the sandbox served in '
        'one run (✓ = as expected). First run: from a freshly reset sandbox, every registry changes. '
        'Second run: the same playbook again, nothing changes.',
        '',
        '| N | way | first run (all change) | requests | second run (none change) | requests |',
        '|---:|---|---|---|---|---|',
    ]
    for n in SIZES:
        for v in VARIANTS:
            first = samples.get((n, v.key, 'first'), [])
            second = samples.get((n, v.key, 'second'), [])
            if not v.first and not second:
                continue
            cells = [not_run(samples, v, n, p) if (n, v.key, p) in SKIPPED else timing(s) for p, s in
                     (('first', first), ('second', second))]
            lines.append('| %d | %s | %s | %s | %s | %s |' % (
                n, v.label, cells[0], requests_cell(first, v, n, 'first'), cells[1],
                requests_cell(second, v, n, 'second')))
    lines += ['', "Expected requests: (a) and (a') 1 GET + one write per change, + %d writes (a short-lived registry "
              'created and deleted, so that SSM v0.5 loads the new credentials) when a built-in was written; (b) one '
              'GET per registry + one write per change, + %d per built-in written; (c0) no GET, a POST per registry '
              'on every run + a PUT per custom registry the first run creates (its POST answered 404); (c) 1 GET + '
              'one write per change; `ssm_registry_info` 1 GET; empty play none.'
              " (a') and the references run on the converged set only. Runs per cell: %d first, %d second, "
              'fewer for a cell of more than two module runs (tasks and loop items, about a second each) once its runs '
              'add up to more than %.0f s; a cell whose one run would take more than %d module runs is not run. The '
              'references run at N = %d only.'
              % (RELOAD_WRITES, RELOAD_WRITES, FIRST_RUNS, SECOND_RUNS, CELL_BUDGET, MAX_TASK_RUNS, max(SIZES)), '',
              '### Targets', '']
    for met, text in verdicts(samples):
        if met is None and text.startswith('for comparison'):
            lines.append('- %s%s' % (text[0].upper(), text[1:]))
        else:
            lines.append('- %s %s' % ({True: '**MET**', False: '**NOT MET**', None: '**NOT MEASURED**'}[met], text))
    lines += ['', '### Where the time goes (derived from the medians above)', ''] + breakdown(samples, rtt)
    return '\n'.join(lines)


RAW = os.path.join(ROOT, 'build', 'bench', 'results.json')


def save(samples, elapsed, rtt, info):
    os.makedirs(os.path.dirname(RAW), exist_ok=True)
    with open(RAW, 'w', encoding='utf-8') as fh:
        json.dump(dict(elapsed=elapsed, rtt=rtt, machine=info, sizes=SIZES, first_runs=FIRST_RUNS,
                       second_runs=SECOND_RUNS, cell_budget=CELL_BUDGET, max_task_runs=MAX_TASK_RUNS,
                       skipped=[dict(n=n, way=k, run=p, tasks=t) for (n, k, p), t in sorted(SKIPPED.items())],
                       samples=[dict(n=n, way=k, run=p, seconds=[x[0] for x in v], requests=[x[1] for x in v],
                                     gets=[x[2] for x in v], changed=[x[3] for x in v])
                                for (n, k, p), v in sorted(samples.items())]), fh, indent=1)


def load(path):
    """BENCH_REPORT=build/bench/results.json: render the table of a past run again, without running."""
    global SIZES, FIRST_RUNS, SECOND_RUNS, CELL_BUDGET, MAX_TASK_RUNS
    with open(path, encoding='utf-8') as fh:
        raw = json.load(fh)
    SIZES, FIRST_RUNS, SECOND_RUNS = raw['sizes'], raw['first_runs'], raw['second_runs']
    CELL_BUDGET, MAX_TASK_RUNS = raw['cell_budget'], raw.get('max_task_runs', MAX_TASK_RUNS)
    SKIPPED.update(((c['n'], c['way'], c['run']), c['tasks']) for c in raw.get('skipped', []))
    samples = dict(((c['n'], c['way'], c['run']), list(zip(c['seconds'], c['requests'], c['gets'], c['changed'])))
                   for c in raw['samples'])
    return samples, raw['elapsed'], tuple(raw['rtt']) if raw['rtt'] else None, raw['machine']


def main():
    """BENCH_ONLY=single runs this benchmark alone, BENCH_ONLY=fleet the fleet benchmark (benchmarks/fleet.py) alone;
    by default both, this one first. BENCH_REPORT (BENCH_FLEET_REPORT) alone renders that part alone."""
    only = os.environ.get('BENCH_ONLY', '')
    if only not in ('', 'single', 'fleet'):
        print('BENCH_ONLY must be single or fleet, not %r' % only, file=sys.stderr)
        return 2
    single = only == 'single' or (not only and not (os.environ.get('BENCH_FLEET_REPORT') and
                                                    not os.environ.get('BENCH_REPORT')))
    fleet_too = only == 'fleet' or (not only and not (os.environ.get('BENCH_REPORT') and
                                                      not os.environ.get('BENCH_FLEET_REPORT')))
    status = main_single() if single else 0
    if fleet_too and status == 0:
        import fleet  # noqa: E402  (benchmarks/fleet.py, next to this file)
        status = fleet.main()
    return status


def main_single():
    if os.environ.get('BENCH_REPORT'):
        samples, elapsed, rtt, info = load(os.environ['BENCH_REPORT'])
    else:
        try:
            samples, elapsed = bench()
            rtt = round_trip(max(SIZES))
        except Failure as e:
            print('\nbenchmark aborted: %s' % e, file=sys.stderr)
            return 1
        info = machine(LOADS)
        save(samples, elapsed, rtt, info)
    table = report(samples, elapsed, rtt, info)
    print('\n' + table)
    if os.environ.get('BENCH_NO_DOC') != '1':
        write_doc(table, START, END)
        print('\nwritten into %s' % os.path.relpath(DOC, ROOT))
    return 0


if __name__ == '__main__':
    sys.exit(main())
