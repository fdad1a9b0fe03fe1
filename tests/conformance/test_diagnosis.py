"""The diagnosis on every SSM: broken rows seeded through SSM's own API, as a hand-made or older client writes
them (or straight into the database, for rows no current client can write), are each reported by
ssm_registry_info with the right code; a healthy set reports none; the suggested fix, applied with the
collection, clears the problem. The crash case: a field of the wrong type is reported before a restart shows
that SSM v0.5 no longer starts with it."""
import base64
import json
import os

from ansible_collections.squirrel.ssm.plugins.module_utils.registries import CUSTOM_AUTH_SCHEME
from ansible_collections.squirrel.ssm.tests.cases import GOOD
from tests.conformance.test_scenarios import GHCR, HARBOR, MIRROR, QUAY, converge, one

SEED_SECRET = 'conformance-diagnosis-secret-7'
GITEA = {'url': 'https://gitea.example.com', 'login': 'someone', 'password': 'conformance-gitea-pass'}


def info(scenario, **args):
    run = scenario.play({'squirrel.ssm.ssm_registry_info': args}, secrets=[SEED_SECRET])
    assert run.rc == 0 and not run[0].get('failed'), run.output[-3000:]
    return run[0], dict((r['name'], sorted(p['code'] for p in r['problems'])) for r in run[0]['registries'])


def record(target, problems):
    """With DIAGNOSIS_CODES set: append the codes reported on this target (one JSON line), for the table of
    codes x servers."""
    path = os.environ.get('DIAGNOSIS_CODES')
    if path:
        with open(path, 'a') as handle:
            handle.write(json.dumps(dict(target=target.label, codes=sorted(set(
                code for codes in problems.values() for code in codes)))) + '\n')


def seed(target):
    """Each kind of broken row, written as a client that does not validate would; the codes each must get."""
    api = target.api
    api('POST', 'lscr', {'auth': {'username': 'octocat'}})                                  # token missing; v0.1
    api('POST', 'quay', {'auth': dict(QUAY, robot='ssm+robot')})                            # unknown field
    api('POST', 'gitlab', {'auth': {'token': SEED_SECRET}})                                 # url, authurl; v0.1
    api('POST', 'acr', {'auth': {'clientid': 'c', 'clientsecret': SEED_SECRET}})
    api('PATCH', 'acr')                                                                     # SSM's own reset
    api('POST', 'hub', {'auth': {'login': 'someone', 'password': SEED_SECRET}})             # unused on v0.5
    api('POST', 'ghcr', {'auth': GHCR})                                                     # not registered on v0.1
    api('POST', 'ecr', {'auth': dict(GOOD['ecr'], region='Europe')})                        # invalid value
    both = base64.b64encode(b'someone:conformance-forgejo-pass').decode()
    api('POST', 'forgejo', {'auth': dict(GOOD['forgejo'], auth=both)})                      # conflicting fields
    api('PUT', 'harbor', {'auth': HARBOR, 'authScheme': CUSTOM_AUTH_SCHEME})                                # ignored on v0.1
    api('PUT', 'mirror', {'auth': dict(MIRROR, url=MIRROR['url'] + '/v2'), 'authScheme': CUSTOM_AUTH_SCHEME})  # /v2
    expected = {'lscr': ['missing_field'], 'quay': ['unknown_field'], 'gitlab': ['gitlab_url_missing'],
                'acr': ['leftover_secret'], 'mirror': ['url_ends_in_v2'], 'hub': [], 'ghcr': [], 'harbor': [],
                'ecr': ['invalid_value'], 'forgejo': ['conflicting_fields']}
    if target.has('database'):  # rows no client can write: straight into the database
        target.insert_row({'name': 'hotio', 'provider': 'hotio', 'authScheme': [], 'authSet': False,
                           'canAnonymous': True, 'canAuth': False})                         # legacy
        target.insert_row({'name': 'team/mirror', 'provider': 'custom', 'authScheme': [], 'authSet': False,
                           'canAnonymous': False, 'canAuth': True})                         # not routable
        expected.update({'hotio': ['legacy_provider'], 'team/mirror': ['unreachable_name']})
    if not any((target.rows()['acr'].get('auth') or {}).values()):
        expected['acr'] = []  # an SSM whose reset removes the values (the sandbox's fixed flavour)
    if target.version == '0.5':
        expected['hub'] = ['credentials_unused']
    else:
        # v0.1 fails to register ghcr, gitlab and lscr with credentials, whatever they are ("name" is not allowed)
        expected['ghcr'] = ['not_registered']
        expected['gitlab'].append('not_registered')
        expected['lscr'].append('not_registered')
        expected['harbor'] = ['custom_ignored']  # mirror, stored after it, is the one v0.1 uses
    return expected


def fixes(target):
    """The fix each seeded row's problems name: on v0.1 a gitlab or lscr row cannot be used with credentials, so the
    fix of its not_registered (a reset, nothing SSM uses is lost) clears the field problems too."""
    if target.version == '0.5':
        return FIXES
    return dict(FIXES, gitlab=one('gitlab', state='reset'), lscr=one('lscr', state='reset'))


FIXES = {
    'lscr': one('lscr', credentials={'username': 'octocat', 'token': 'conformance-lscr-token'}),
    'quay': one('quay', credentials=QUAY),
    'gitlab': one('gitlab', credentials={'token': 'conformance-gitlab-token'}),
    'acr': one('acr', state='reset'),
    'hub': one('hub', state='reset'),
    'ghcr': one('ghcr', state='reset'),
    'harbor': one('custom', name='harbor', state='absent'),
    'mirror': one('custom', name='mirror', credentials=MIRROR),
    'ecr': one('ecr', credentials=GOOD['ecr']),
    'forgejo': one('forgejo', credentials=GOOD['forgejo']),
}


def theirs(problems, expected):
    """The problems of the rows a scenario did not write (on a running SSM, its own rows it could not clear)."""
    return dict((name, codes) for name, codes in problems.items() if name not in expected and codes)


def test_diagnosis_healthy_set_reports_none(scenario, target):
    result, before = info(scenario)
    assert target.holds_data or (result['problems_found'] == 0 and not any(before.values())), before
    declared = [dict(provider='quay', credentials=QUAY), dict(provider='custom', name='harbor', credentials=HARBOR),
                dict(provider='gitlab', credentials={'token': 'conformance-gitlab-token'}),
                dict(provider='gitea', credentials=GITEA)]
    assert scenario.play(converge(declared)).rc == 0
    result, problems = info(scenario)
    names = ('quay', 'harbor', 'gitlab', 'gitea')
    # Stored right, but v0.1 fails to register gitlab with credentials all the same ("name" is not allowed).
    unusable = {'gitlab': ['not_registered']} if target.version == '0.1' else {}
    assert dict((name, problems[name]) for name in names if problems[name]) == unusable, problems
    assert theirs(problems, names) == theirs(before, names)
    assert result['problems_found'] == sum(len(codes) for codes in theirs(before, names).values()) + len(unusable)


def test_diagnosis_reports_each_seeded_problem_and_the_fix_clears_it(scenario, target):
    before = info(scenario)[1]
    expected = seed(target)
    result, problems = info(scenario)
    record(target, problems)
    for name, codes in expected.items():
        assert problems.get(name) == codes, (name, problems.get(name))
    assert theirs(problems, expected) == theirs(before, expected), problems
    assert result['problems_found'] == sum(len(codes) for codes in expected.values()) + sum(
        len(codes) for codes in theirs(before, expected).values())
    assert SEED_SECRET not in json.dumps(result)
    # Every fix is the task the problem names; applied with the collection, it clears the problem.
    rows = dict((r['name'], r) for r in result['registries'])
    for name, codes in expected.items():
        if codes and name in FIXES:
            assert 'squirrel.ssm.ssm_registry: ' in rows[name]['problems'][0]['fix'], rows[name]['problems'][0]
            if fixes(target)[name]['squirrel.ssm.ssm_registry'].get('state') == 'reset':
                assert any('state: reset}' in p['fix'] for p in rows[name]['problems']), rows[name]['problems']
            run = scenario.play(fixes(target)[name], secrets=[SEED_SECRET])
            assert run.rc == 0 and not run[0].get('failed'), run.output[-2000:]
    result, problems = info(scenario)
    left = dict((name, codes) for name, codes in problems.items() if codes)
    unfixable = dict((name, expected[name]) for name in ('hotio', 'team/mirror') if name in expected)
    assert left == dict(theirs(before, expected), **unfixable), left


def test_diagnosis_wrong_type_is_reported_and_fixed(scenario, target):
    before = info(scenario)[1]
    target.api('POST', 'gitea', {'auth': dict(GITEA, url=123)})
    result, problems = info(scenario, name='gitea')
    assert problems == {'gitea': ['wrong_type']}
    problem = result['registries'][0]['problems'][0]
    assert problem['severity'] == 'error' and 'crash SSM' in problem['message']
    run = scenario.play(one('gitea', credentials=GITEA))
    assert run.rc == 0, run.output[-2000:]
    assert theirs(info(scenario)[1], ()) == theirs(before, ('gitea',))


def test_diagnosis_finds_the_row_that_keeps_ssm_from_starting(scenario, target):
    """Measured on v0.5.2 (tests/realssm/FACTS.md, c.): the row is reported while SSM still runs; a restart then
    shows what it would have cost."""
    target.api('POST', 'gitea', {'auth': dict(GITEA, url=123)})
    result, problems = info(scenario, name='gitea')
    assert problems == {'gitea': ['wrong_type']} and result['registries'][0]['problems'][0]['severity'] == 'error'
    record(target, problems)
    if target.version != '0.5' or getattr(target.server, 'flavour', '') == 'fixed':
        return
    target.requires('restart')
    try:
        assert target.restart(check=False) is False, 'SSM started with the bad row'
        record(target, {'gitea': ['(restart: SSM does not start)']})
    finally:
        target.reset()
    assert target.rows()['gitea'].get('authSet') is False
