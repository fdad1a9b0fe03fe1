"""CHANGELOG.rst lists everything the collection's version holds: every fragment of changelogs/fragments goes
into the release of galaxy.yml's version. That release is made again (same date) with the fragments added since,
then antsibull-changelog writes CHANGELOG.rst. `make changelog` runs it; `make lint CHECKS=changelog` fails while a
fragment is in no release."""
import datetime
import os
import subprocess
import sys

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHANGES = os.path.join(ROOT, 'changelogs', 'changelog.yaml')


def main():
    version = str(yaml.safe_load(open(os.path.join(ROOT, 'galaxy.yml')))['version'])
    with open(CHANGES) as handle:
        changes = yaml.safe_load(handle)
    release = (changes.get('releases') or {}).pop(version, None)
    date = release['release_date'] if release else datetime.date.today().isoformat()
    with open(CHANGES, 'w') as handle:
        handle.write('---\n' + yaml.safe_dump(changes, sort_keys=False))
    tool = os.path.join(os.path.dirname(sys.executable), 'antsibull-changelog')
    subprocess.check_call([tool, 'release', '--version', version, '--date', date, '--reload-plugins'], cwd=ROOT)
    print('changelogs/changelog.yaml and CHANGELOG.rst: release %s of %s with every fragment' % (version, date))


if __name__ == '__main__':
    main()
