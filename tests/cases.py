"""Credentials per provider shared by the unit and integration tests. Every value is a placeholder."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64

PEM = '-----BEGIN ' + 'PRIVATE KEY-----\nMIIBVgIBADANBgkqhkiG9w0BAQEFAASCAUAwggE8\n-----END ' + 'PRIVATE KEY-----\n'
AUTH = base64.b64encode(b'robot:s3cret-pass').decode()

# One good set of credentials per provider: what SSM should store for it.
GOOD = {
    'acr': {'clientid': '5f1c9e1e-0000-4000-8000-000000000001', 'clientsecret': 'acr-secret-1'},
    'custom': {'url': 'http://registry.local:5000', 'login': 'robot', 'password': 'custom-secret-1'},
    'ecr': {'accesskeyid': 'AKIAIOSFODNN7EXAMPLE', 'secretaccesskey': 'ecr-secret-1', 'region': 'eu-west-1'},
    'forgejo': {'url': 'https://forgejo.example.com', 'login': 'deploy', 'password': 'forgejo-secret-1'},
    'gcr': {'clientemail': 'ssm@project.iam.gserviceaccount.com', 'privatekey': PEM},
    'ghcr': {'username': 'octocat', 'token': 'ghcr-secret-1'},
    'gitea': {'url': 'gitea.example.com', 'auth': AUTH},
    'gitlab': {'url': 'https://registry.gitlab.com', 'authurl': 'https://gitlab.com', 'token': 'gitlab-secret-1'},
    'hub': {'login': 'johndoe', 'password': 'hub-secret-1'},
    'lscr': {'username': 'octocat', 'token': 'lscr-secret-1'},
    'quay': {'namespace': 'myorg', 'account': 'ssm', 'token': 'quay-secret-1'},
}

# (provider, credentials, the field the message must name)
BAD = [
    ('acr', {'clientid': 'x'}, 'clientsecret'),
    ('acr', {'clientid': 'x', 'clientsecret': 'bad-case-clientsecret-y', 'tenant': 'z'}, 'tenant'),
    ('custom', {'login': 'a', 'password': 'bad-case-password-b'}, 'url'),
    ('custom', {'url': 'ftp://registry'}, 'url'),
    ('custom', {'url': 'registry.local:5000'}, 'url'),
    ('custom', {'url': 'http://registry.local:5000/v2/'}, 'url'),
    ('custom', {'url': 'http://r', 'login': 'a'}, 'password'),
    ('custom', {'url': 'http://r', 'auth': AUTH, 'login': 'a', 'password': 'bad-case-password-b'}, 'auth'),
    ('custom', {'url': 'http://r', 'auth': 'not base64!'}, 'auth'),
    ('custom', {'url': 'http://r', 'auth': base64.b64encode(b'nocolon').decode()}, 'auth'),
    ('custom', {'url': 'http://r', 'token': 'bad-case-token-x'}, 'token'),
    ('ecr', {'accesskey': 'AKIAIOSFODNN7EXAMPLE', 'secretaccesskey': 'bad-case-secretaccesskey-s'}, 'region'),
    ('ecr', {'accesskeyid': 'AKIAIOSFODNN7EXAMPLE', 'secretaccesskey': 'bad-case-secretaccesskey-s', 'region': 'eu-west'}, 'region'),
    ('ecr', {'accesskeyid': 'akia-lower', 'secretaccesskey': 'bad-case-secretaccesskey-s', 'region': 'eu-west-1'}, 'accesskeyid'),
    ('ecr', {'accesskeyid': 'ASIAIOSFODNN7EXAMPLE', 'secretaccesskey': 'bad-case-secretaccesskey-s', 'region': 'eu-west-1'}, 'accesskeyid'),
    ('forgejo', {'url': 'ftp://forgejo'}, 'url'),
    ('forgejo', {'login': 'a', 'password': 'bad-case-password-b'}, 'url'),
    ('gcr', {'clientemail': 'not-an-email', 'privatekey': PEM}, 'clientemail'),
    ('gcr', {'clientemail': 'a@b.com', 'privatekey': 'just text'}, 'privatekey'),
    ('gcr', {'clientemail': 'a@b.com'}, 'privatekey'),
    ('ghcr', {'username': 'octocat'}, 'token'),
    ('ghcr', {'username': '', 'token': 'bad-case-token-t'}, 'username'),
    ('ghcr', {'username': 'octocat', 'token': 'bad-case-token-t', 'password': 'bad-case-password-p'}, 'password'),
    ('gitea', {'url': 'https://g', 'password': 'bad-case-password-p'}, 'login'),
    ('gitlab', {}, 'token'),
    ('gitlab', {'token': 'bad-case-token-t', 'url': 'registry.gitlab.com'}, 'url'),
    ('gitlab', {'token': 'bad-case-token-t', 'authurl': 'gitlab.com'}, 'authurl'),
    ('hub', {}, 'login'),
    ('hub', {'login': 'a'}, 'password'),
    ('hub', {'auth': AUTH, 'login': 'a', 'password': 'bad-case-password-b'}, 'auth'),
    ('hub', {'username': 'a', 'token': 'bad-case-token-b'}, 'username'),
    ('lscr', {'token': 'bad-case-token-t'}, 'username'),
    ('quay', {'namespace': 'myorg', 'token': 'bad-case-token-t'}, 'account'),
    ('quay', {'namespace': 'myorg+ssm', 'account': 'ssm', 'token': 'bad-case-token-t'}, 'namespace'),
    ('quay', {'namespace': 'myorg', 'account': 'ssm', 'token': ['bad-case-token']}, 'token'),
    ('acr', {'clientid': '   ', 'clientsecret': 'bad-case-clientsecret-x'}, 'clientid'),
    ('custom', {'url': ''}, 'url'),
    ('ecr', {'accesskeyid': 'AKIAIOSFODNN7EXAMPLE', 'region': 'eu-west-1'}, 'secretaccesskey'),
    ('forgejo', {'url': 'https://f', 'login': 'deploy'}, 'password'),
    ('forgejo', {'url': 'https://f', 'auth': 'bm9jb2xvbg=='}, 'auth'),
    ('gcr', {'clientemail': ['a@b.com'], 'privatekey': PEM}, 'clientemail'),
    ('gitea', {'url': 'https://g', 'auth': '%%%'}, 'auth'),
    ('gitea', {'url': 'http://g', 'login': 'a', 'password': 'bad-case-password-g', 'region': 'x'}, 'region'),
    ('gitlab', {'token': '  '}, 'token'),
    ('hub', {'auth': AUTH, 'token': 'bad-case-token-h'}, 'auth'),
    ('lscr', {'username': 'octocat'}, 'token'),
    ('lscr', {'username': 'octocat', 'token': 'bad-case-token-l', 'url': 'https://lscr.io'}, 'url'),
    ('quay', {'namespace': 'myorg', 'account': 'org+ssm', 'token': 'bad-case-token-q'}, 'account'),
    ('ghcr', {'username': {'name': 'octocat'}, 'token': 'bad-case-token-g'}, 'username'),
    # URLs SSM would use wrongly: /v2 in any case, a query or fragment, credentials in the URL.
    ('custom', {'url': 'http://registry.local:5000/V2'}, 'url'),
    ('custom', {'url': 'http://registry.local:5000/V2/'}, 'url'),
    ('custom', {'url': 'http://registry.local:5000?ns=x'}, 'url'),
    ('custom', {'url': 'http://registry.local:5000/#top'}, 'url'),
    ('custom', {'url': 'http://robot:pw@registry.local:5000'}, 'url'),
    ('gitlab', {'token': 'bad-case-token-t', 'url': 'https://registry.gitlab.com/?x=1'}, 'url'),
    ('gitea', {'url': 'gitea.example.com?x=1', 'auth': AUTH}, 'url'),
    ('forgejo', {'url': 'https://forgejo.example.com#frag', 'auth': AUTH}, 'url'),
    # Gitea and Forgejo need credentials: a url alone stores a row that serves nothing.
    ('gitea', {'url': 'https://gitea.example.com'}, 'login, auth'),
    ('forgejo', {'url': 'https://forgejo.example.com'}, 'login, auth'),
    # Surrounding whitespace (echo, a file, a YAML block scalar) is refused, never stored nor stripped silently.
    ('ghcr', {'username': 'octocat', 'token': 'ghp_bad-case-token-nl\n'}, 'token'),
    ('hub', {'login': 'johndoe ', 'password': 'bad-case-password-sp'}, 'login'),
    ('custom', {'url': 'http://r', 'login': 'a', 'password': ' bad-case-password-lead'}, 'password'),
    ('custom', {'url': 'http://r', 'auth': AUTH + '\n'}, 'auth'),
    ('ecr', {'accesskeyid': 'AKIAIOSFODNN7EXAMPLE', 'secretaccesskey': 'bad-case-secretaccesskey-t\t',
             'region': 'eu-west-1'}, 'secretaccesskey'),
    ('gitlab', {'token': 'bad-case-token-crlf\r\n'}, 'token'),
    # A field and its alias together: Ansible would silently keep one.
    ('hub', {'login': 'a', 'password': 'bad-case-password-h', 'token': 'bad-case-token-h2'}, 'password and token'),
    ('ecr', {'accesskeyid': 'AKIAIOSFODNN7EXAMPLE', 'accesskey': 'AKIAIOSFODNN7EXAMPLX',
             'secretaccesskey': 'bad-case-secretaccesskey-e', 'region': 'eu-west-1'}, 'accesskeyid and accesskey'),
]
