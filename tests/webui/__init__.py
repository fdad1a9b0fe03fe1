"""What SSM's web client writes, as data (payloads.json): the journey of a user who filled Settings -> Registries by
hand. The sandbox, the conformance suite and the staging check seed rows exactly so, through SSM's own API."""
import json
import os

with open(os.path.join(os.path.dirname(__file__), 'payloads.json')) as _handle:
    PAYLOADS = json.load(_handle)

JOURNEY = PAYLOADS['journey']


def body_of(step):
    """The request body the UI sends for `step` (the custom template spelled out)."""
    body = step['body']
    if body is None:
        return None
    body = dict(body)
    if body.get('authScheme') == 'custom_template_auth_scheme':
        body['authScheme'] = PAYLOADS['custom_template_auth_scheme']
    return body


def seed(api, steps=None):
    """Send the UI's requests through `api(method, name, body)` (a conformance Target's api); returns the answers.
    SSM v0.5 answers 500 to its POST and PATCH after it has written (its known defect): that is what the UI gets too."""
    answers = []
    for step in JOURNEY if steps is None else steps:
        answers.append(api(step['method'], step['name'], body_of(step)))
    return answers


def rows_after(steps=None):
    """The rows the journey leaves in SSM (name -> row, in the order SSM lists them), for tests without a server:
    PUT stores a custom row with the whole form as auth, POST replaces auth whole and sets authSet, PATCH clears
    authSet and keeps auth (both versions, measured). The built-in rows the journey does not touch are left out."""
    rows = {}
    for step in JOURNEY if steps is None else steps:
        body, name = body_of(step), step['name']
        if step['method'] == 'PUT':
            rows[name] = dict(name=name, provider='custom', auth=dict(body['auth']), authSet=True)
        elif step['method'] == 'POST':
            rows.setdefault(name, dict(name=name, provider=name)).update(auth=dict(body['auth']), authSet=True)
        elif step['method'] == 'PATCH':
            rows[name]['authSet'] = False
        elif step['method'] == 'DELETE':
            del rows[name]
    return rows


def secrets():
    """Every secret value the journey sends (for the tests that prove none is ever shown)."""
    return [value for step in JOURNEY for key, value in ((step['body'] or {}).get('auth') or {}).items()
            if key in ('password', 'token', 'auth') and value]
