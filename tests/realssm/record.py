"""Record what real SSM servers answer, as JSON data for contract tests.

    python -m tests.realssm.record SOURCE... [--out tests/contract/recorded]

Writes <out>/<label>/<scenario>.json: {"scenario", "label", "request": {method, path, body},
"response": {status, content_type, json | text, set_cookie}, "reloads": [N...] (the server's registry
reloads logged during the exchange, see RealSSM.registering()), and for follow-up reads "row"}. Every request
goes through the proxy (the path is the one users' ssm_url + /api gives). `data.stack` values are replaced.
"""
import argparse
import json
import os
import re
import sys
import time

import requests

from .launcher import RealSSM

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STACK = '<stack trace removed>'
CUSTOM_SCHEME = [{'name': 'url', 'type': 'string'},
                 {'name': 'Connection Type', 'type': 'choice',
                  'values': [[{'name': 'login', 'type': 'string'}, {'name': 'password', 'type': 'string'}],
                             [{'name': 'auth', 'type': 'string'}]]}]
CUSTOM_AUTH = {'url': 'https://registry.example.com', 'login': 'someone', 'password': 's3cret-custom'}
GHCR_AUTH = {'username': 'octocat', 'token': 'ghp_recorded0000000000000000000000000000'}


def scrub(value):
    if isinstance(value, dict):
        return {k: (STACK if k == 'stack' and isinstance(v, str) else scrub(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub(v) for v in value]
    return value


class Recorder:
    def __init__(self, ssm, out):
        self.ssm = ssm
        self.out = os.path.join(out, ssm.label)
        os.makedirs(self.out, exist_ok=True)
        self.session = requests.Session()
        self.v05 = ssm.version == '0.5'
        self.base = '/api/container-registries' if self.v05 else '/api/containers/registries'
        self.written = []

    def login(self):
        if self.v05:
            self.session.headers['Authorization'] = f'Bearer {self.ssm.api_key}'
        else:
            self.session.post(self.ssm.url + '/api/users/login',
                              json={'username': self.ssm.username, 'password': self.ssm.password}, timeout=15)

    def route(self, name=None):
        if name is None:
            return self.base + ('' if self.v05 else '/')
        return f'{self.base}/{name}' + ('' if self.v05 else '/')

    def exchange(self, scenario, method, path, body=None, session=None, headers=None, note=None):
        before = len(self.ssm.registering(full=True))
        kwargs = {'timeout': 30, 'headers': headers or {}}
        if body is not None:
            kwargs['json'] = body
        answer = (session or self.session).request(method, self.ssm.url + path, **kwargs)
        if method != 'GET':
            self.settle()
        ctype = answer.headers.get('Content-Type')
        response = {'status': answer.status_code, 'content_type': ctype}
        try:
            response['json'] = scrub(answer.json())
        except ValueError:
            response['text'] = answer.text
        if 'Set-Cookie' in answer.headers:
            response['set_cookie'] = [c.split('=', 1)[0] + '=...' + (';' + c.split(';', 1)[1] if ';' in c else '')
                                      for c in answer.headers['Set-Cookie'].split(', jwt')[:1]]
        if isinstance(body, dict) and body.get('password') == self.ssm.password:
            body = dict(body, password='<admin password>')
        record = {'scenario': scenario, 'label': self.ssm.label,
                  'request': {'method': method, 'path': path, 'body': body},
                  'response': response,
                  'reloads': self.ssm.registering(full=True)[before:]}
        if note:
            record['note'] = note
        if scenario:
            self.save(scenario, record)
        return record

    def settle(self):
        try:
            self.ssm._settle(quiet=0.6, timeout=5)  # pylint: disable=protected-access
        except Exception:  # pylint: disable=broad-except
            time.sleep(1)

    def row(self, scenario, name, note=None):
        record = self.exchange(None, 'GET', self.route())
        data = record['response'].get('json', {}).get('data')
        rows = data['registries'] if isinstance(data, dict) else data
        record['scenario'] = scenario
        record['row'] = next((r for r in rows or [] if r.get('name') == name), None)
        if note:
            record['note'] = note
        self.save(scenario, record)
        return record

    def save(self, scenario, record):
        with open(os.path.join(self.out, scenario + '.json'), 'w') as handle:
            json.dump(record, handle, indent=1, sort_keys=False)
            handle.write('\n')
        self.written.append(scenario)
        resp = record['response']
        print(f'  {self.ssm.label} {scenario}: {record["request"]["method"]} {record["request"]["path"]} -> '
              f'{resp["status"]} reloads={record["reloads"]}', flush=True)

    # ------------------------------------------------------------------ the scenarios
    def common(self):
        ssm = self.ssm
        anonymous = requests.Session()
        self.exchange('login_ok', 'POST', '/api/users/login',
                      {'username': ssm.username, 'password': ssm.password}, session=anonymous)
        self.exchange('login_wrong', 'POST', '/api/users/login',
                      {'username': ssm.username, 'password': 'wrong-password'}, session=requests.Session())
        self.exchange('wrong_key_401', 'GET', self.route(), session=requests.Session(),
                      headers={'Authorization': 'Bearer 00000000-0000-0000-0000-000000000000'})
        self.login()
        self.exchange('list_fresh', 'GET', self.route())
        self.exchange('post_credentials_ghcr', 'POST', self.route('ghcr'), {'auth': GHCR_AUTH})
        self.row('row_after_post_ghcr', 'ghcr')
        self.exchange('patch_reset_ghcr', 'PATCH', self.route('ghcr'))
        self.row('row_after_patch_ghcr', 'ghcr')
        self.exchange('post_auth_empty_quay', 'POST', self.route('quay'), {'auth': {}})
        self.row('row_after_post_auth_empty_quay', 'quay')
        self.exchange('patch_after_auth_empty_quay', 'PATCH', self.route('quay'))
        self.row('row_after_auth_empty_and_patch_quay', 'quay')
        self.exchange('put_custom', 'PUT', self.route('recorded-custom'),
                      {'auth': CUSTOM_AUTH, 'authScheme': CUSTOM_SCHEME})
        self.row('row_after_put_custom', 'recorded-custom')
        self.exchange('put_existing', 'PUT', self.route('recorded-custom'),
                      {'auth': CUSTOM_AUTH, 'authScheme': CUSTOM_SCHEME})
        self.exchange('delete_custom', 'DELETE', self.route('recorded-custom'))
        self.exchange('delete_builtin', 'DELETE', self.route('ghcr'))
        self.exchange('unknown_post', 'POST', self.route('no-such-registry'), {'auth': GHCR_AUTH})
        self.exchange('unknown_patch', 'PATCH', self.route('no-such-registry'))
        self.exchange('unknown_delete', 'DELETE', self.route('no-such-registry'))
        self.exchange('post_empty_body', 'POST', self.route('ghcr'), {})
        self.exchange('put_without_authscheme', 'PUT', self.route('recorded-noscheme'), {'auth': CUSTOM_AUTH})
        self.exchange('put_name_with_space', 'PUT', self.route('recorded%20space'),
                      {'auth': CUSTOM_AUTH, 'authScheme': CUSTOM_SCHEME})
        self.row('row_name_with_space', 'recorded space')
        self.exchange('delete_name_with_space', 'DELETE', self.route('recorded%20space'))
        self.exchange('put_name_with_slash_proxy', 'PUT', self.route('recorded%2Fslash'),
                      {'auth': CUSTOM_AUTH, 'authScheme': CUSTOM_SCHEME})
        self.exchange('unknown_route', 'GET', '/api/no-such-route')
        self.exchange('other_version_route', 'GET',
                      '/api/containers/registries' if self.v05 else '/api/container-registries')

    def v05_reloads(self):
        """v0.5: what N of `Registering N registries` counts (hub with stored credentials included)."""
        self.exchange('v05_reload_a_post_hub', 'POST', self.route('hub'),
                      {'auth': {'login': 'someone', 'password': 'hub-secret'}})
        self.exchange('v05_reload_b_post_ghcr', 'POST', self.route('ghcr'), {'auth': GHCR_AUTH})
        self.exchange('v05_reload_c_put_custom', 'PUT', self.route('short-lived'),
                      {'auth': CUSTOM_AUTH, 'authScheme': CUSTOM_SCHEME})
        self.exchange('v05_reload_d_delete_custom', 'DELETE', self.route('short-lived'))
        self.exchange('v05_reload_e_patch_ghcr', 'PATCH', self.route('ghcr'))

    def v05_bad_row(self):
        """v0.5: a gitea row whose url is a number, then a restart."""
        self.exchange('v05_badrow_a_post_gitea_url_number', 'POST', self.route('gitea'),
                      {'auth': {'url': 123, 'login': 'someone', 'password': 'gitea-secret'}})
        self.row('v05_badrow_b_row_gitea', 'gitea')
        self.exchange('v05_badrow_c_put_custom', 'PUT', self.route('after-bad-row'),
                      {'auth': CUSTOM_AUTH, 'authScheme': CUSTOM_SCHEME})
        mark = len(self.ssm.log(full=True))
        started = time.monotonic()
        came_up = self.ssm.restart(check=False)
        seconds = round(time.monotonic() - started, 1)
        tail = self.ssm.log(full=True)[mark:]
        server = self.ssm._procs.get('server')  # pylint: disable=protected-access
        record = {'scenario': 'v05_badrow_d_restart', 'label': self.ssm.label,
                  'restart_came_up': came_up, 'seconds': seconds,
                  'exit_code': server.poll() if server else None,
                  'log_after_restart': [line for line in _plain(tail).splitlines()
                                        if any(w in line for w in ('ERROR', 'WARN', 'Registering', 'rror',
                                                                   'exit', 'Failed'))][-40:]}
        with open(os.path.join(self.out, 'v05_badrow_d_restart.json'), 'w') as handle:
            json.dump(record, handle, indent=1)
        print(f'  restart with the bad row: came_up={came_up} after {seconds}s exit={record["exit_code"]}')

    def v01_resets(self):
        """v0.1.30: which POST body leaves no secret stored after a reset (PATCH)."""
        tries = [
            ('gcr', {'auth': {}}),
            ('acr', {'auth': {'clientid': '', 'clientsecret': ''}}),
            ('lscr', {'auth': {'x': ''}}),
            ('gitlab', {'auth': None}),
            ('ecr', {'auth': ''}),
        ]
        for index, (name, body) in enumerate(tries, 1):
            # first real credentials, then the candidate, then PATCH: is the secret gone?
            self.exchange(f'v01_reset{index}_a_post_secret_{name}', 'POST', self.route(name),
                          {'auth': {'username': 'someone', 'token': 'old-secret', 'clientsecret': 'old-secret',
                                    'password': 'old-secret'}})
            self.exchange(f'v01_reset{index}_b_post_{name}', 'POST', self.route(name), body)
            self.row(f'v01_reset{index}_c_row_{name}', name)
            self.exchange(f'v01_reset{index}_d_patch_{name}', 'PATCH', self.route(name))
            self.row(f'v01_reset{index}_e_row_{name}', name)


def _plain(text):
    return re.sub(r'\x1b\[[0-9;]*m', '', text)


def record(source, out):
    ssm = RealSSM(source)
    ssm.start()
    try:
        print(f'{ssm.label}: {ssm.url} started in {ssm.timings}', flush=True)
        rec = Recorder(ssm, out)
        rec.common()
        ssm.reset()
        if ssm.version == '0.1':
            rec.login()
            rec.v01_resets()
        else:
            rec.v05_reloads()
            ssm.reset()
            rec.v05_bad_row()
        return rec.written
    finally:
        ssm.stop()


def main(argv=None):
    parser = argparse.ArgumentParser(prog='python -m tests.realssm.record')
    parser.add_argument('sources', nargs='+')
    parser.add_argument('--out', default=os.path.join(ROOT, 'tests', 'contract', 'recorded'))
    args = parser.parse_args(argv)
    for source in args.sources:
        record(source, args.out)
    return 0


if __name__ == '__main__':
    sys.exit(main())
