"""SSM configured by hand in its own web UI, then adopted, on every SSM: the requests SSM's web client sends
(tests/webui), then the export, a converge from the file, the same with purge, and the health check.

On v0.5 the UI's rows are used as they are: the converge writes nothing. On v0.1 the custom rows the UI made are
never registered (their auth holds the form's newName, and a field sent as ""): the converge stores the same
credentials without them, which are exactly the writes that make v0.1 use the rows (docs/compatibility.md)."""
import re
from urllib.parse import unquote

from tests import webui
from tests.conformance.test_export import changed, export, playbook
from tests.integration.conftest import assert_no_secret

CUSTOMS = ['Harbor Prod', 'mirror']
EXPORTED = ['Harbor Prod', 'ghcr', 'gitlab', 'hub', 'mirror']


def info(scenario):
    run = scenario.play({'squirrel.ssm.ssm_registry_info': {}}, secrets=webui.secrets())
    assert run.rc == 0 and not run[0].get('failed'), run.output[-3000:]
    assert set(EXPORTED) <= set(r['name'] for r in run[0]['registries'])
    # A running staging SSM may hold rows of its own: only the journey's rows are judged.
    return dict((r['name'], sorted(p['code'] for p in r['problems'])) for r in run[0]['registries']
                if r['problems'] and r['name'] in EXPORTED + ['quay'])


def expected_problems(target, leftover, converged):
    """The codes the rows must get, and no other row any: only what SSM really does with a row (docs/problems.md)."""
    codes = dict((name, []) for name in EXPORTED + ['quay'])
    if leftover and not converged:
        codes['quay'] = ['leftover_secret']  # reset in the UI: SSM keeps the old token
    if target.version == '0.5':
        codes['hub'] = ['credentials_unused']  # v0.5 never uses stored Docker Hub credentials
    else:
        # v0.1 fails to register ghcr and gitlab with credentials ("name" is not allowed); converging changes nothing
        codes['ghcr'] = codes['gitlab'] = ['not_registered']
        codes['Harbor Prod'] = ['custom_ignored']  # v0.1 uses only the last custom registry (mirror)
        if not converged:
            codes['Harbor Prod'].append('not_registered')  # "newName" is not allowed
            codes['mirror'] = ['not_registered']  # "login" is not allowed (sent as "")
    return dict((name, found) for name, found in codes.items() if found)


def writes(target, mark):
    """The writes since `mark`, names decoded, without the short-lived registry that makes SSM reload."""
    return [(method, unquote(name), status) for method, name, status in target.writes_since(mark)
            if not unquote(name).startswith('squirrel-ssm-reload-')]


def last_registration_errors(target, since):
    """The components SSM v0.1 failed to register at its last reload after `since` (its log's length); None where
    its log is out of reach."""
    if not target.has('log'):
        return None
    last = target.server.log()[since:].split('Configuration registered will be processed')[-1]
    return re.findall(r'Error when registering component ([^ ]+/[^(]+?) \(', last)


def test_adopted_from_the_ui(scenario, target):
    answers = webui.seed(target.api)
    assert all(a.status_code in (200, 500) for a in answers), [(a.status_code, a.text[:200]) for a in answers]
    rows = target.rows()
    assert set(CUSTOMS) <= set(n for n, r in rows.items() if r['provider'] == 'custom')
    assert rows['Harbor Prod']['auth']['newName'] == 'Harbor Prod', 'SSM stores the form as the UI sends it'
    leftover = any((rows['quay'].get('auth') or {}).values())  # not on an SSM whose reset removes the values

    # The health check of what the UI left: a problem only where SSM does not use a row.
    assert info(scenario) == expected_problems(target, leftover, converged=False)

    text, output, converge = export(scenario, 'ui.yml')
    exported = sorted(re.findall(r'^  # ([^:]+): ', text, re.M))
    assert set(EXPORTED) <= set(exported) and (exported == EXPORTED or target.holds_data), text
    assert 'newName:' not in text and ('# - quay (provider quay):' in text) == leftover
    assert_no_secret(text + output, webui.secrets())

    mark, log = len(target.requests()), len(target.server.log()) if target.has('log') else 0
    rc, output = playbook(scenario, *converge)
    assert rc == 0, output[-3000:]
    if target.version == '0.5':
        assert changed(output) == 0 and writes(target, mark) == []
    else:
        # v0.1 never registers the UI's custom rows: storing the same credentials without newName and the ""
        # field is the repair, and all that is written; the mirror row (the custom one v0.1 uses) then registers.
        assert sorted(writes(target, mark)) == [('POST', 'Harbor Prod', 200), ('POST', 'mirror', 200)]
        errors = last_registration_errors(target, log)
        assert errors is None or not [e for e in errors if e.startswith('custom/')], errors
    rows = target.rows()
    assert all(rows[name]['authSet'] for name in EXPORTED)

    # Purge: nothing the user made is lost; only the reset quay row's leftover secret goes.
    mark = len(target.requests())
    rc, output = playbook(scenario, *(converge + ['-e', '{"ssm_registries_purge": true}']))
    assert rc == 0, output[-3000:]
    done = writes(target, mark)
    assert not [w for w in done if w[1] != 'quay' and (w[1] in EXPORTED or w[0] == 'DELETE')], done
    assert [w[0] for w in done if w[1] == 'quay'] == (['POST', 'PATCH'] if leftover else [])
    after = target.rows()
    assert set(CUSTOMS) <= set(n for n, r in after.items() if r['provider'] == 'custom')
    assert all(after[name]['authSet'] for name in EXPORTED)
    assert dict((n, after[n].get('auth')) for n in EXPORTED) == dict((n, rows[n].get('auth')) for n in EXPORTED)

    assert info(scenario) == expected_problems(target, leftover, converged=True)
    rc, output = playbook(scenario, *converge)
    assert rc == 0 and changed(output) == 0, output[-3000:]
