"""The list form of ssm_registry, purge and the registries role, with the requests SSM served counted."""
from ansible_collections.squirrel.ssm.tests.cases import GOOD
from tests.integration.conftest import API_KEY, PASSWORD, USERNAME

SET = [
    dict(provider='ghcr', credentials=GOOD['ghcr']),
    dict(provider='quay', credentials=GOOD['quay']),
    dict(provider='custom', name='harbor', credentials=GOOD['custom']),
    dict(provider='custom', name='mirror', credentials={'url': 'https://mirror.example.com'}),
    dict(provider='hub', state='reset'),
]


def converge(registries, purge=False):
    return {'squirrel.ssm.ssm_registry': dict(registries=registries, purge=purge)}


def test_a_set_converges_then_costs_one_request(ansible, sandbox):
    first = ansible.play(converge(SET))
    assert first[0]['changed']
    assert [(r['name'], r['action']) for r in first[0]['results']] == [
        ('ghcr', 'updated'), ('quay', 'updated'), ('harbor', 'created'), ('mirror', 'created'), ('hub', 'unchanged')]
    # One read, the writes (SSM v0.5 answers 500 after its POSTs), one read to confirm those, then SSM is made
    # to load its registries again with a short-lived registry.
    calls = [(r['method'], r['path'].rsplit('/', 1)[-1][:20]) for r in sandbox.requests]
    assert calls == [('GET', 'container-registries'), ('POST', 'ghcr'), ('POST', 'quay'), ('PUT', 'harbor'),
                     ('PUT', 'mirror'), ('GET', 'container-registries'), ('PUT', 'squirrel-ssm-reload-'),
                     ('DELETE', 'squirrel-ssm-reload-')]
    sandbox.clear_requests()
    second = ansible.play(converge(SET))
    assert not second[0]['changed'] and all(r['action'] == 'unchanged' for r in second[0]['results'])
    assert [r['method'] for r in sandbox.requests] == ['GET']


def test_login_adds_one_request(ansible, sandbox):
    ansible.play(converge(SET))
    sandbox.clear_requests()
    run = ansible.play(converge(SET), connection=dict(ssm_url=sandbox.url, ssm_username=USERNAME,
                                                      ssm_password=PASSWORD))
    assert not run[0]['changed']
    assert [r['method'] for r in sandbox.requests] == ['POST', 'GET']


def test_one_bad_item_writes_nothing_and_is_named(ansible, sandbox):
    bad = SET[:2] + [dict(provider='gitlab', credentials={'url': 'registry.gitlab.com'})] + SET[2:]
    run = ansible.play(converge(bad))
    assert run[0]['failed']
    assert 'registries[2] (gitlab)' in run[0]['msg'] and 'provider gitlab' in run[0]['msg']
    assert 'token' in run[0]['msg']
    assert sandbox.requests == []
    unknown = ansible.play(converge([SET[0], dict(provider='custom', name='x', credentials={'url': 'http://x',
                                                                                            'pasword': 'p'})]))
    assert 'registries[1] (x)' in unknown[0]['msg'] and 'pasword do not belong to custom' in unknown[0]['msg']
    twice = ansible.play(converge([SET[0], SET[0]]))
    assert 'registries[1] (ghcr)' in twice[0]['msg'] and 'already given as registries[0]' in twice[0]['msg']
    conflict = ansible.play(converge([SET[0], dict(provider='custom', name='quay', credentials={'url': 'http://q'})]))
    assert 'registries[1] (quay)' in conflict[0]['msg'] and 'belongs to a quay registry' in conflict[0]['msg']
    assert sandbox.writes() == []


def test_purge_deletes_and_resets_what_is_not_listed_but_never_legacy_rows(ansible, sandbox):
    ansible.play(converge(SET + [dict(provider='lscr', credentials=GOOD['lscr'])]))
    sandbox.clear_requests()
    check = ansible.play(dict(converge(SET[:1], purge=True), check_mode=True, diff=True))
    assert check[0]['changed'] and sandbox.writes() == []
    assert sorted((p['name'], p['action']) for p in check[0]['purged']) == [
        ('harbor', 'deleted'), ('lscr', 'reset'), ('mirror', 'deleted'), ('quay', 'reset')]
    assert len(check[0]['diff']) == 4
    run = ansible.play(converge(SET[:1], purge=True))
    assert run[0]['purged'] == check[0]['purged']
    assert sorted(sandbox.rows) == sorted(['acr', 'ecr', 'forgejo', 'gcr', 'ghcr', 'gitea', 'gitlab', 'hub', 'lscr',
                                           'quay', 'hotio', 'forjejo'])
    assert sandbox.rows['forjejo']['auth']['password'] == 'legacy-secret-value'
    assert [name for name, row in sandbox.rows.items() if row.get('authSet')] == ['ghcr'] or \
        sorted(name for name, row in sandbox.rows.items() if row.get('authSet')) == ['forjejo', 'ghcr']
    sandbox.clear_requests()
    again = ansible.play(converge(SET[:1], purge=True))
    assert not again[0]['changed'] and again[0]['purged'] == [] and len(sandbox.requests) == 1


def test_a_failed_write_says_what_ssm_holds(ansible, sandbox):
    sandbox.add_faults([dict(method='PUT', action='status', status=400, nth=1)])
    run = ansible.play(converge(SET))
    assert run[0]['failed']
    assert 'creating harbor' in run[0]['msg'] and 'Already written: ghcr (updated), quay (updated)' in run[0]['msg']
    assert 'Not written: mirror' in run[0]['msg']


def test_the_role_converges_and_validates_its_variables(ansible, sandbox):
    role = {'ansible.builtin.include_role': {'name': 'squirrel.ssm.registries'}}
    outcome = {'ansible.builtin.set_fact': {'outcome': '{{ registries_result }}'}}
    play_vars = dict(ssm_url=sandbox.url, ssm_api_key=API_KEY, ssm_registries=SET, ssm_registries_purge=True)
    first = ansible.play(role, outcome, connection=None, play_vars=play_vars)
    assert first[1]['ansible_facts']['outcome']['changed']
    assert len(first[1]['ansible_facts']['outcome']['purged']) == 0
    assert len([w for w in sandbox.writes() if 'squirrel-ssm-reload-' not in w['path']]) == 4
    sandbox.clear_requests()
    second = ansible.play(role, outcome, connection=None, play_vars=play_vars)
    assert not second[1]['ansible_facts']['outcome']['changed'] and len(sandbox.requests) == 1
    wrong = ansible.play(role, connection=None, play_vars=dict(play_vars, ssm_registries_purge='perhaps'))
    assert 'ssm_registries_purge' in wrong.output and len(sandbox.requests) == 1
