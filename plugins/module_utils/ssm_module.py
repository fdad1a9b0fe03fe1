# -*- coding: utf-8 -*-
# Copyright: (c) 2026, squirrel.ssm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The base of every module: connection options, the SSM client, check mode, diff and exit."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import sys

# The collection's Python floor on the target (README, tests/config.yml, the modules' requirements). Checked at
# import, before anything Python-3-only runs: every file under plugins/ still compiles on Python 2.7, so that an
# older target gets this message instead of a SyntaxError. Both modules import this file first.
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
    CONNECTION_REQUIRED_ONE_OF, CONNECTION_REQUIRED_TOGETHER, CONNECTION_SPEC, REQUESTS_IMPORT_ERROR, SSMClient,
    SSMError)
from ansible_collections.squirrel.ssm.plugins.module_utils.providers import secret_values


class _AnsibleModule(AnsibleModule):
    """AnsibleModule whose argument-validation failures can be re-explained by the module's own rules,
    which name the item, the provider and the field."""

    explain = None

    def fail_json(self, msg, **kwargs):
        if not getattr(self, 'ready', False):
            # ansible-core skips collecting no_log values when a list element fails conversion; the
            # invocation it returns would then hold secrets in clear.
            self.no_log_values.update(_raw_secrets(self.argument_spec, self.params))
            better = self.explain(self.params) if self.explain is not None else None
            errors = getattr(getattr(self, 'validation_result', None), 'error_messages', [])
            if better:
                msg = better
            elif len(errors) > 1 and not msg.startswith('Unsupported'):
                # Ansible shows only its first message, which for a bad list element names no option.
                msg = '; '.join(errors)
        super(_AnsibleModule, self).fail_json(msg=msg, **kwargs)


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
        kwargs['mutually_exclusive'] = kwargs.get('mutually_exclusive', [])
        kwargs['required_one_of'] = kwargs.get('required_one_of', []) + CONNECTION_REQUIRED_ONE_OF
        kwargs['required_together'] = kwargs.get('required_together', []) + CONNECTION_REQUIRED_TOGETHER
        _AnsibleModule.explain = staticmethod(explain) if explain else None
        self.module = _AnsibleModule(argument_spec=spec, supports_check_mode=True, **kwargs)
        self.module.ready = True
        self.params = self.module.params
        if REQUESTS_IMPORT_ERROR:
            self.module.fail_json(msg=missing_required_lib('requests'), exception=REQUESTS_IMPORT_ERROR)
        self.client = SSMClient(warn=self.module.warn, **dict((key, self.params[key]) for key in CONNECTION_SPEC))

    @property
    def check_mode(self):
        return self.module.check_mode

    @property
    def diff_mode(self):
        return self.module._diff

    def fail(self, msg, **result):
        self.module.fail_json(msg=msg, **result)

    def hide_secrets_of(self, rows):
        """SSM returns stored credentials in clear: make sure none of them can reach any output."""
        for row in rows.values():
            self.module.no_log_values.update(secret_values(row.get('provider'), row.get('auth')))

    def rows(self):
        try:
            rows = self.client.registries()
        except SSMError as e:
            self.fail(str(e))
        self.hide_secrets_of(rows)
        return rows

    def exit(self, changed=False, diff=None, **result):
        if diff is not None and self.diff_mode:
            result['diff'] = diff
        self.module.exit_json(changed=changed, **result)
