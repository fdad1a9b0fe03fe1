"""pytest helpers: one started RealSSM per source, shared within a pytest session (per xdist worker), always
stopped at the session's end (and by atexit / the PID file if the process dies).

    from tests.realssm.fixtures import real_ssm, realssm_sources, SKIP_REASON  # noqa: F401 (fixtures)

    @pytest.mark.parametrize('source', realssm_sources(), ids=source_id)
    def test_x(real_ssm, source):
        ssm = real_ssm(source)      # started once per session, then reused
        ssm.reset()
"""
import os
import re

import pytest

from .build import Source
from .launcher import RealSSM, sources_from_env

SKIP_REASON = 'set SSM_SOURCE=<ssm tarball or git checkout>[:...] to run against a real SSM'


def realssm_sources():
    """Parameters for tests over SSM_SOURCE: one per source, or one skipped parameter when it is unset."""
    sources = sources_from_env()
    if not sources:
        return [pytest.param(None, marks=pytest.mark.skip(reason=SKIP_REASON), id='no-SSM_SOURCE')]
    return sources


def upgrade_pairs():
    """(old, new) for each v0.1.x source and each v0.5.x source of SSM_SOURCE, told apart by their labels
    (the tarball's name or the checkout's tag: no build needed to collect the tests)."""
    labelled = [(Source(source).label, source) for source in sources_from_env()]
    return [(old, new) for old_label, old in labelled if re.match(r'v0\.1\.', old_label)
            for new_label, new in labelled if re.match(r'v0\.5\.', new_label)]


def source_id(source):
    return os.path.basename(str(source).rstrip('/')).replace('.tar.gz', '') if source else 'none'


class _Pool:
    def __init__(self):
        self.started = {}

    def get(self, source):
        if source is None:
            pytest.skip(SKIP_REASON)
        key = os.path.abspath(str(source))
        ssm = self.started.get(key)
        if ssm is None:
            ssm = RealSSM(source)
            self.started[key] = ssm  # stopped at teardown even when start() fails half-way
            ssm.start()
        return ssm

    def stop_all(self):
        for ssm in self.started.values():
            ssm.stop()
        self.started.clear()


_POOL = _Pool()  # one per process (per xdist worker), even when several test modules import the fixture


def get_real_ssm(source):
    """The started RealSSM for `source`, shared within this process; stop_all() (or exit) stops them."""
    return _POOL.get(source)


def stop_all():
    _POOL.stop_all()


@pytest.fixture(scope='session')
def real_ssm():
    """A function source -> started RealSSM, shared within the session (per worker); all stopped at the end.
    Import it into a test module or conftest.py (`from tests.realssm.fixtures import real_ssm`)."""
    try:
        yield _POOL.get
    finally:
        _POOL.stop_all()
