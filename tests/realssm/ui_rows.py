"""What a real SSM does with the rows its own web client writes (tests/webui/payloads.json): seeds the UI journey,
makes SSM load its registries, and prints the registration lines of its log; then the probes FACTS.md records
(a UI custom row stored again without newName, hub's token spellings, fields sent as "").

    PYTHONPATH=. python3 -m tests.realssm.ui_rows /work/shared/ssm-server/ssm-v0.5.2.tar.gz ...
"""
import re
import secrets
import sys
import time

import requests

from tests.webui import JOURNEY, body_of
from .launcher import RealSSM, _strip_ansi

LINES = re.compile(r'Registering|Error when registering|Setting up custom|Some registries|failed to register')


def _session(ssm):
    session = requests.Session()
    if ssm.version == '0.5':
        session.headers['Authorization'] = 'Bearer ' + ssm.api_key
    else:
        answer = session.post(ssm.server_url + '/users/login', timeout=30,
                              json={'username': ssm.username, 'password': ssm.password})
        answer.raise_for_status()
    return session


def _call(ssm, session, method, name, body=None):
    base = ssm.server_url + ('/container-registries' if ssm.version == '0.5' else '/containers/registries')
    answer = session.request(method, base + '/' + requests.utils.quote(name, safe=''), json=body, timeout=30)
    return answer.status_code


def _reload(ssm, session):
    """v0.5 loads its registries again after a PUT or DELETE only; v0.1 after its POST already did."""
    if ssm.version == '0.5':
        temp = 'ui-rows-reload-' + secrets.token_hex(3)
        _call(ssm, session, 'PUT', temp, {'auth': {'url': 'https://reload.invalid'}, 'authScheme': []})
        _call(ssm, session, 'DELETE', temp)
    time.sleep(1.5)


def _lines(ssm, since):
    text = _strip_ansi(ssm.log(full=True))[since:]
    return [re.sub(r'^.*?(\[|Registering|Error|Setting)', r'\1', line, count=1)
            for line in text.splitlines() if LINES.search(line)], len(_strip_ansi(ssm.log(full=True)))


def measure(source):
    ssm = RealSSM(source)
    ssm.start()
    try:
        session = _session(ssm)
        print('=== %s (API %s)' % (ssm.label, ssm.version), flush=True)
        mark = len(_strip_ansi(ssm.log(full=True)))
        for step in JOURNEY:
            status = _call(ssm, session, step['method'], step['name'], body_of(step))
            print('  %s %s %s -> %s' % (step['id'], step['method'], step['name'], status))
        _reload(ssm, session)
        lines, mark = _lines(ssm, mark)
        print('  -- registration after the UI journey:\n    ' + '\n    '.join(lines))
        rows = dict((r['name'], r) for r in ssm.rows())
        print('  -- stored auth keys: %s' % dict((n, sorted((r.get('auth') or {}).keys()) if isinstance(
            r.get('auth'), dict) else r.get('auth')) for n, r in rows.items() if r.get('auth') is not None))
        probes = [
            ('custom rows stored again without newName and without the "" field (the export converged)', [
                ('POST', 'Harbor Prod', {'auth': {'url': 'https://harbor.example.com', 'login': 'robot$ci',
                                                  'password': 'ui-harbor-secret-1'}}),
                ('POST', 'mirror', {'auth': {'url': 'http://mirror.example.com:5000',
                                             'auth': 'cm9ib3Q6dWktbWlycm9yLXNlY3JldC0y'}})]),
            ('hub {login, password: "", token} (password typed and emptied, then method 2)', [
                ('POST', 'hub', {'auth': {'login': 'johndoe', 'password': '', 'token': 'ui-hub-secret-4'}})]),
            ('hub {login, password} (the collection\'s spelling)', [
                ('POST', 'hub', {'auth': {'login': 'johndoe', 'password': 'ui-hub-secret-4'}})]),
            ('custom {url, login, password, auth: ""} without newName', [
                ('POST', 'mirror', {'auth': {'url': 'http://mirror.example.com:5000', 'login': 'robot',
                                             'password': 'ui-mirror-secret-2', 'auth': ''}})]),
        ]
        for title, calls in probes:
            for method, name, body in calls:
                _call(ssm, session, method, name, body)
            _reload(ssm, session)
            lines, mark = _lines(ssm, mark)
            print('  -- %s:\n    %s' % (title, '\n    '.join(lines)), flush=True)
    finally:
        ssm.stop()


if __name__ == '__main__':
    for argument in sys.argv[1:]:
        measure(argument)
