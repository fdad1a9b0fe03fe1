"""The option tables agree everywhere, and the shipped docs speak to users."""
import glob
import os
import re

import yaml

from tests.examples.examples import ROOT


def read(path):
    with open(os.path.join(ROOT, path)) as f:
        return f.read()


def connection_options():
    spec = read('plugins/module_utils/ssm_api.py').split('CONNECTION_SPEC = dict(', 1)[1].split('\n)\n', 1)[0]
    options = re.findall(r'^    (\w+)=dict\(', spec, re.M)
    assert 'ssm_api_version' in options and 'validate_certs' in options
    return options


def role_options():
    spec = yaml.safe_load(read('roles/registries/meta/argument_specs.yml'))
    return set(spec['argument_specs']['main']['options'])


def test_the_readme_connection_table_has_every_connection_option():
    readme = read('README.md')
    table = readme.split('| option | environment |', 1)[1].split('\n\n', 1)[0]
    for option in connection_options():
        assert '`%s`' % option in table, option
        env = 'SSM_' + option.replace('ssm_', '').upper()
        assert '`%s`' % env in table, env


def test_the_role_variables_are_the_connection_options_prefixed_plus_its_own():
    prefixed = set(o if o.startswith('ssm_') else 'ssm_' + o for o in connection_options())
    options = role_options()
    assert prefixed <= options, prefixed - options
    own = options - prefixed
    assert own == set(o for o in options if o.startswith('ssm_registries')), own
    readme = read('README.md')
    paragraph = readme.split("The role's variables are", 1)[1].split('\n\n', 1)[0]
    for option in options:
        assert '`%s`' % option in paragraph, option
    defaults = read('roles/registries/defaults/main.yml')
    for option in prefixed:
        assert option in defaults, option  # named in the comment on the connection variables


def test_shipped_docs_say_what_not_where_from():
    shipped = ['README.md'] + [os.path.relpath(p, ROOT) for pattern in (
        'docs/**/*.md', 'roles/**/*.yml', 'playbooks/**/*.yml', 'plugins/**/*.py', 'meta/*.yml')
        for p in glob.glob(os.path.join(ROOT, pattern), recursive=True)]
    cited = [path for path in shipped if re.search(r'\bissues? #?\d+', read(path), re.I)]
    assert not cited, 'shipped files cite an issue number instead of saying what is meant: %s' % cited
