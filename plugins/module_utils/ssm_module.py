# -*- coding: utf-8 -*-
# Copyright: (c) 2026, squirrel.ssm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The base of every module: connection options, the SSM client, check mode, diff and exit."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import sys

# The collection's Python floor on the target (README, tests/config.yml, the modules' requirements). Checked at
# import, before anything Python-3-only runs: every file under plugins/ still compiles on Python 2.7, so that an
# older target gets this message instead of a SyntaxError. Every module imports it first (ssm_registry by registries).
PYTHON_FLOOR = (3, 7)

if sys.version_info < PYTHON_FLOOR:
    import json
    # The module's own answer, written the way AnsibleModule.fail_json would: that is what needs the newer Python.
    sys.stdout.write(json.dumps({'failed': True, 'msg': 'squirrel.ssm modules need Python %d.%d or newer on the '
                                 'target; this one runs %s (%s): set ansible_python_interpreter to a newer Python'
                                 % (PYTHON_FLOOR + (sys.version.split()[0], sys.executable))}) + '\n')
    raise SystemExit(1)

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.squirrel.ssm.plugins.module_utils.ssm_api import (
    CONNECTION_REQUIRED_ONE_OF, CONNECTION_REQUIRED_TOGETHER, CONNECTION_SPEC, REQUESTS_IMPORT_ERROR,
    ConnectionInputError, SSMClient, SSMError, check_connection)


class _AnsibleModule(AnsibleModule):
    """AnsibleModule whose argument-validation failures can be re-explained by the module's own rules,
    which name the item, the provider and the field."""

    explain = None

    def fail_json(self, msg, **kwargs):
        if not getattr(self, 'ready', False):
            # ansible-core skips collecting no_log values when a list element fails conversion; the
            # invocation it returns would then hold secrets in clear.
            self.no_log_values.update(_raw_secrets(self.argument_spec, self.params))
            # A misspelt option (sate, nmae, credential) is the error to show: the module's own rules would
            # explain its consequence instead (a custom registry "without" a name or credentials).
            unknown = _unknown_options(self.argument_spec, self.params)
            better = self.explain(self.params) if self.explain is not None and not unknown else None
            errors = getattr(getattr(self, 'validation_result', None), 'error_messages', [])
            if better:
                msg = better
            elif len(errors) > 1 and not msg.startswith('Unsupported'):
                # Ansible shows only its first message, which for a bad list element names no option.
                msg = '; '.join(errors)
            # The invocation Ansible returns holds the parameters as given: a misspelt option (clientSecret,
            # aws_secret_access_key) is not no_log, so its value would be echoed at -v. Mask by structure.
            kwargs.setdefault('invocation', dict(module_args=_masked_params(self.argument_spec, self.params)))
        super(_AnsibleModule, self).fail_json(msg=msg, **kwargs)


HIDDEN = 'VALUE_SPECIFIED_IN_NO_LOG_PARAMETER'


def _by_spelling(spec):
    """Each option of spec under its name and under each of its aliases."""
    return dict((spelling, option) for name, option in spec.items() for spelling in [name] + list(option.get('aliases') or []))


def _unknown_options(spec, params, prefix=''):
    """Misspelt options, at any depth but under credentials (whose fields the provider rules explain)."""
    options = _by_spelling(spec)
    unknown = []
    for name, value in params.items():
        option = options.get(name)
        if option is None:
            if not name.startswith('_ansible_'):
                unknown.append(prefix + name)
        elif option.get('options') and name != 'credentials':
            for index, element in enumerate(value if isinstance(value, list) else [value]):
                if isinstance(element, dict):
                    where = '%s%s[%d].' % (prefix, name, index) if isinstance(value, list) else prefix + name + '.'
                    unknown += _unknown_options(option['options'], element, where)
    return unknown


def _masked_params(spec, params):
    """params with the value of every option the spec does not know, or marks no_log, masked, at any depth."""
    options = _by_spelling(spec)
    shown = {}
    for name, value in params.items():
        option = options.get(name)
        if value is None:
            shown[name] = value
        elif option is None or option.get('no_log'):
            shown[name] = HIDDEN
        elif option.get('options') and isinstance(value, dict):
            shown[name] = _masked_params(option['options'], value)
        elif option.get('options') and isinstance(value, list):
            shown[name] = [_masked_params(option['options'], element) if isinstance(element, dict) else HIDDEN
                           for element in value]
        elif option.get('options') or option.get('type') == 'raw':
            shown[name] = HIDDEN  # not the shape asked for: nothing says what it holds
        else:
            shown[name] = value
    return shown


def _raw_secrets(spec, params):
    """Every secret value in params as given, by the no_log flags of spec, at any depth."""
    found = set()
    for name, option in spec.items():
        value = params.get(name) if isinstance(params, dict) else None
        if value is None:
            continue
        if option.get('no_log') and isinstance(value, str) and value:
            found.add(value)
        elif option.get('options'):
            for element in value if isinstance(value, list) else [value]:
                if isinstance(element, dict):
                    found.update(_raw_secrets(option['options'], element))
    return found


class SSMModule:
    def __init__(self, argument_spec, explain=None, **kwargs):
        spec = dict(CONNECTION_SPEC)
        spec.update(argument_spec)
        kwargs['required_one_of'] = kwargs.get('required_one_of', []) + CONNECTION_REQUIRED_ONE_OF
        kwargs['required_together'] = kwargs.get('required_together', []) + CONNECTION_REQUIRED_TOGETHER
        _AnsibleModule.explain = staticmethod(explain) if explain else None
        self.module = _AnsibleModule(argument_spec=spec, supports_check_mode=True, **kwargs)
        self.module.ready = True
        self.params = self.module.params
        if REQUESTS_IMPORT_ERROR:
            self.module.fail_json(msg=missing_required_lib('requests'), exception=REQUESTS_IMPORT_ERROR)
        try:
            connection = check_connection(self.params)
        except ConnectionInputError as e:
            self.module.fail_json(msg=str(e))
        # Every warning names its SSM: a fleet run shows those of many servers together.
        self.url = connection['ssm_url']
        warn = self.module.warn
        self.module.warn = lambda message: warn('SSM at %s: %s' % (self.url, message))
        self.client = SSMClient(warn=self.module.warn, **connection)

    @property
    def check_mode(self):
        return self.module.check_mode

    @property
    def diff_mode(self):
        return self.module._diff

    def fail(self, msg, **result):
        self.module.fail_json(msg=msg, **result)

    def rows(self):
        try:
            rows = self.client.registries()
        except SSMError as e:
            self.fail(str(e))
        # SSM returns stored credentials in clear. They are masked by structure wherever a row is shown
        # (providers.mask), never added to no_log_values: a short stored secret would garble every output.
        return rows

    def exit(self, changed=False, diff=None, **result):
        if diff is not None and self.diff_mode:
            result['diff'] = diff
        self.module.exit_json(changed=changed, **result)
