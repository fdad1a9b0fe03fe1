"""Every library a plugin may import (lazy ones included) is declared for execution environments
(meta/ee-requirements.txt, read by ansible-builder through meta/execution-environment.yml)."""
import os

from tools.plugin_libraries import EE_REQUIREMENTS, ROOT, undeclared, used


def test_every_library_the_plugins_may_import_is_declared():
    assert undeclared() == {}


def test_the_lazy_imports_of_verify_credentials_are_seen():
    libraries = used(os.path.join(ROOT, 'plugins'))
    for library in ('requests', 'boto3', 'botocore', 'google-auth', 'azure-identity'):
        assert library in libraries, sorted(libraries)


def test_a_library_left_out_of_the_requirements_is_reported(tmp_path):
    requirements = tmp_path / 'ee-requirements.txt'
    with open(EE_REQUIREMENTS) as f:
        lines = [line for line in f if not line.startswith(('google-auth', '-r'))]
    requirements.write_text(''.join(lines) + '-r %s\n' % os.path.join(ROOT, 'requirements.txt'))
    missing = undeclared(requirements=str(requirements))
    assert list(missing) == ['google-auth']
    assert missing['google-auth'] and all(f.startswith('plugins/module_utils/') for f in missing['google-auth'])


def test_undeclared_imports_of_every_kind_are_reported(tmp_path):
    module_utils = tmp_path / 'plugins' / 'module_utils'
    module_utils.mkdir(parents=True)
    (module_utils / 'new.py').write_text(
        'import json\n'
        'from ansible.module_utils.basic import missing_required_lib\n'
        'def f():\n'
        '    import jsonschema\n'
        '    return import_library("hypothesis.strategies", "hypothesis")\n'
        'MSG = missing_required_lib("not-a-real-library")\n')
    missing = undeclared(plugins=str(tmp_path / 'plugins'))
    assert sorted(missing) == ['hypothesis', 'jsonschema', 'not-a-real-library']
    assert missing['jsonschema'] == ['plugins/module_utils/new.py']
