"""The real Squirrel Servers Manager server for tests: built from a source tarball or a git checkout given at
test time (SSM_SOURCE), run with CongoDB, Redis and an nginx proxy on free ports. See README.md here."""
from .build import BuildError, Source, build, congodb
from .launcher import RealSSM, RealSSMError, ServerDidNotStart, sources_from_env

__all__ = ['RealSSM', 'RealSSMError', 'ServerDidNotStart', 'BuildError', 'Source', 'build', 'congodb',
           'sources_from_env']
