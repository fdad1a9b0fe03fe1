"""Bad input beyond the provider fields: connection options and the shape of the task. Each fails before
any request to SSM, with a message naming the field."""
from ansible_collections.squirrel.ssm.tests.cases import GOOD
from tests.integration.conftest import API_KEY

# (module arguments beyond a working connection, connection overrides, the word the message must contain)
CASES = [
    (dict(provider='docker'), {}, 'provider'),
    (dict(provider='ghcr', state='gone'), {}, 'state'),
    (dict(provider='ghcr', credentials=['username', 'token']), {}, 'credentials'),
    (dict(provider='ghcr', credentials='username=octocat'), {}, 'credentials'),
    (dict(provider='ghcr', credentials=GOOD['ghcr'], purge='perhaps'), {}, 'purge'),
    (dict(provider='ghcr', credentials=GOOD['ghcr'], verify_credentials='sometimes'), {}, 'verify_credentials'),
    (dict(registries='ghcr'), {}, 'registries'),
    (dict(registries=[dict(name='x')]), {}, 'provider'),
    (dict(registries=[dict(provider='ghcr', state='gone')]), {}, 'state'),
    (dict(registries=[dict(provider='custom', credentials={'url': 'http://x'})]), {}, 'name is required'),
    (dict(registries=[dict(provider='ghcr', credentials=GOOD['ghcr'])], provider='quay'), {}, 'registries'),
    (dict(), {}, 'provider'),
    (dict(name='ghcr'), {}, 'provider'),
    (dict(provider='ghcr'), dict(ssm_url=None), 'ssm_url'),
    (dict(provider='ghcr'), dict(ssm_api_key=None), 'ssm_api_key'),
    (dict(provider='ghcr'), dict(ssm_api_key=None, ssm_username='a@b.c'), 'ssm_password'),
    (dict(provider='ghcr'), dict(timeout='soon'), 'timeout'),
    (dict(provider='ghcr'), dict(validate_certs='maybe'), 'validate_certs'),
    (dict(provider='ghcr'), dict(ssm_api_version='0.3'), 'ssm_api_version'),
    (dict(provider='ghcr', bogus_option=1), {}, 'bogus_option'),
    # Connection options that cannot work: named before any header is built, never a traceback.
    (dict(provider='ghcr'), dict(ssm_api_key='cl\u00e9-\u043a\u043b\u044e\u0447-8a61f'), 'ssm_api_key'),
    (dict(provider='ghcr'), dict(ssm_api_key='two words-key-8a61f'), 'ssm_api_key'),
    (dict(provider='ghcr'), dict(ssm_api_key='\n'), 'ssm_api_key'),
    (dict(provider='ghcr'), dict(timeout=0), 'timeout'),
    (dict(provider='ghcr'), dict(timeout=-5), 'timeout'),
    (dict(provider='ghcr'), dict(ca_path='/nonexistent/ca.pem'), 'ca_path'),
    (dict(provider='ghcr'), dict(ssm_url=''), 'ssm_url'),
    (dict(provider='ghcr'), dict(ssm_url='ssm.example:8000'), 'ssm_url'),
    (dict(provider='ghcr'), dict(ssm_url='http://'), 'ssm_url'),
    (dict(provider='ghcr'), dict(ssm_url='ftp://ssm.example'), 'ssm_url'),
    (dict(provider='ghcr'), dict(ssm_url='http://ssm.example:99999'), 'ssm_url'),
    (dict(provider='ghcr'), dict(ssm_url='http://admin:pw-in-url-7@ssm.example'), 'ssm_url'),
    (dict(provider='ghcr', credentials=dict(GOOD['ghcr'], extra='x')), {}, 'extra'),
    (dict(provider='acr', name='acr', credentials={'clientid': 'only'}), {}, 'clientsecret'),
    (dict(provider='custom', name='   ', credentials={'url': 'http://x'}), {}, ('name', 'custom', 'spaces')),
    (dict(provider='custom', name=' harbor', credentials={'url': 'http://x'}), {}, ('name', 'custom', 'spaces')),
    (dict(registries=[dict(provider='custom', name='', credentials={'url': 'http://x'})]), {},
     ('name is required', 'custom')),
    # A misspelt option is reported as such, not as the credentials error it causes.
    (dict(provider='custom', name='h', sate='present', credentials={'url': 'http://x'}), {},
     ('Unsupported parameters', 'sate')),
    (dict(provider='custom', nmae='harbor', credentials={'url': 'http://x'}), {}, ('Unsupported parameters', 'nmae')),
    (dict(provider='custom', name='h', credential={'url': 'http://x'}), {}, ('Unsupported parameters', 'credential')),
    (dict(registries=[dict(provider='custom', nmae='h', credentials={'url': 'http://x'})]), {},
     ('Unsupported parameters', 'nmae')),
]


def test_bad_module_input_fails_before_any_request(ansible, sandbox):
    tasks = []
    for args, overrides, dummy in CASES:
        connection = dict(ssm_url=sandbox.url, ssm_api_key=API_KEY)
        connection.update(overrides)
        args = dict(args)
        args.update((key, value) for key, value in connection.items() if value is not None)
        tasks.append({'squirrel.ssm.ssm_registry': args})
    run = ansible.play(*tasks, connection=None)
    for (args, overrides, word), result in zip(CASES, run.results):
        assert result.get('failed'), (args, overrides)
        for word in (word if isinstance(word, tuple) else (word,)):
            assert word in result['msg'], (word, result['msg'])
        assert 'Traceback' not in result['msg']
    assert sandbox.requests == []
