"""python -m tests.realssm start SOURCE | build SOURCE... | reap"""
import argparse
import signal
import sys
import time

from . import procs
from .build import build
from .launcher import RealSSM, sources_from_env


def _sources(given):
    sources = given or sources_from_env()
    if not sources:
        sys.exit('give SOURCE (an SSM source tarball or git checkout) or set SSM_SOURCE')
    return sources


def main(argv=None):
    parser = argparse.ArgumentParser(prog='python -m tests.realssm', description=__doc__)
    sub = parser.add_subparsers(dest='command', required=True)
    start = sub.add_parser('start', help='start one real SSM and keep it running until Ctrl-C / SIGTERM')
    start.add_argument('source', nargs='?')
    start.add_argument('--workdir')
    builder = sub.add_parser('build', help='build (or find cached) every SOURCE')
    builder.add_argument('sources', nargs='*')
    sub.add_parser('reap', help='kill the processes that a crashed run left behind')
    args = parser.parse_args(argv)

    if args.command == 'build':
        for source in _sources(args.sources):
            started = time.monotonic()
            info = build(source)
            print(f'{info["label"]}: {info["tree"]} (flavour {info["flavour"]}, '
                  f'{time.monotonic() - started:.1f}s)', flush=True)
        return 0
    if args.command == 'reap':
        print(f'killed {procs.reap_leftovers()} process(es)')
        return 0

    source = _sources([args.source] if args.source else [])[0]

    def _terminate(_signum, _frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _terminate)
    ssm = RealSSM(source, workdir=args.workdir)
    try:
        ssm.start()
        print(f'label:      {ssm.label} (SSM {ssm.version} API)')
        print(f'url:        {ssm.url}')
        print(f'server_url: {ssm.server_url}')
        print(f'api_key:    {ssm.api_key}')
        print(f'username:   {ssm.username}')
        print(f'password:   {ssm.password}')
        print(f'workdir:    {ssm.workdir} (server.log, access.log)')
        print(f'started in {ssm.timings}; Ctrl-C or SIGTERM stops it', flush=True)
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        ssm.stop()
    return 0


if __name__ == '__main__':
    sys.exit(main())
