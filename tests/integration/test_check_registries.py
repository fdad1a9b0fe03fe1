"""The check_registries playbook as cron or CI runs it: connection from SSM_* variables, a report per registry,
a JSON summary, and a failure at or above the chosen severity."""
import json
import os
import subprocess

from tests.integration.conftest import API_KEY, BIN, assert_no_secret


def check(ansible, sandbox, *extra):
    env = ansible.env({'SSM_URL': sandbox.url, 'SSM_API_KEY': API_KEY})
    proc = subprocess.run([os.path.join(BIN, 'ansible-playbook'), 'squirrel.ssm.check_registries'] + list(extra),
                          env=env, capture_output=True, text=True, check=False)
    output = proc.stdout + proc.stderr
    assert_no_secret(output, {API_KEY, 'legacy-secret-value', 'check-gitea-password'})
    return proc.returncode, output


def test_passes_on_a_healthy_ssm_and_writes_the_summary(ansible, sandbox, tmp_path):
    report = tmp_path / 'report.json'
    rc, output = check(ansible, sandbox, '-e', 'check_registries_report=%s' % report)
    assert rc == 0, output[-3000:]
    assert 'ghcr (ghcr): ok' in output
    summary = json.loads(report.read_text())
    # The sandbox's legacy rows: warnings, below the default threshold.
    assert summary['failed'] is False and summary['fail_on'] == 'error' and summary['counts']['error'] == 0
    assert summary['problems_found'] == summary['counts']['warning'] > 0
    rows = dict((row['name'], row) for row in summary['registries'])
    assert [p['code'] for p in rows['forjejo']['problems']] == ['legacy_provider', 'leftover_secret']
    assert 'credentials' not in rows['forjejo'] and 'legacy-secret-value' not in report.read_text()


def test_fails_on_an_error_and_at_a_lower_threshold(ansible, sandbox, tmp_path):
    rc, output = check(ansible, sandbox, '-e', 'check_registries_fail_on=warning')
    assert rc != 0 and 'forjejo: legacy_provider' in output, output[-3000:]
    sandbox.insert_row(dict(sandbox.rows['gitea'], authSet=True,
                            auth={'url': 123, 'login': 'someone', 'password': 'check-gitea-password'}))
    report = tmp_path / 'report.json'
    rc, output = check(ansible, sandbox, '-e', 'check_registries_report=%s' % report)
    assert rc != 0 and '1 problem(s) at or above error' in output and 'gitea: wrong_type' in output, output[-3000:]
    summary = json.loads(report.read_text())
    assert summary['failed'] is True and summary['counts']['error'] == 1
    rc, output = check(ansible, sandbox, '-e', 'check_registries_fail_on=never')
    assert rc == 0, output[-3000:]
