"""Build a Squirrel Servers Manager (SSM) server from a source tarball or a git checkout, and install CongoDB.

Nothing of SSM is copied into this repository: the source is given at test time (a path) and built under
build/realssm/<key>, a cache shared by every run and every pytest-xdist worker (file locks).
"""
import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import tarfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CACHE = os.path.join(ROOT, 'build', 'realssm')
HERE = os.path.dirname(os.path.abspath(__file__))
NPM_NODE_GYP = '/usr/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js'
CONGO_PACKAGE = '@push.rocks/smartmongo@2.2.0'
# Only what CongoDB (dist_ts/congodb) imports; smartmongo's own 2.2.0 dependencies pull much more.
CONGO_DEPS = ('bson', 'mingo', '@push.rocks/smartfs', '@push.rocks/smartpath', '@push.rocks/smartpromise',
              '@push.rocks/smartrx')
MARKER = '.realssm-built.json'


class BuildError(RuntimeError):
    pass


@contextlib.contextmanager
def file_lock(path):
    """An exclusive lock between processes (flock): two xdist workers never build the same tree at once."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'a+') as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, 'rb') as handle:
        for block in iter(lambda: handle.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


def _git(directory, *args):
    return subprocess.run(['git', '-C', directory, *args], check=True, capture_output=True,
                          text=True).stdout.strip()


def _safe(text):
    return re.sub(r'[^A-Za-z0-9._-]+', '-', text).strip('-') or 'ssm'


class Source:
    """What `source` designates: a tarball (key from its sha256) or a git checkout (key from HEAD and its path)."""

    def __init__(self, source):
        self.path = os.path.abspath(os.path.expanduser(str(source)))
        if os.path.isdir(self.path):
            self.kind = 'git'
            try:
                self.head = _git(self.path, 'rev-parse', 'HEAD')
            except (subprocess.CalledProcessError, FileNotFoundError) as exc:
                raise BuildError(f'{self.path} is not a git checkout of SquirrelServersManager: {exc}') from exc
            try:
                tag = _git(self.path, 'describe', '--tags', '--exact-match', 'HEAD')
            except subprocess.CalledProcessError:
                tag = ''
            self.label = tag if tag else f'head-{self.head[:8]}'
            where = hashlib.sha256(self.path.encode()).hexdigest()[:8]
            self.key = f'git-{_safe(self.label)}-{self.head[:12]}-{where}'
        elif os.path.isfile(self.path):
            self.kind = 'tarball'
            self.sha256 = _sha256(self.path)
            with tarfile.open(self.path) as tar:
                first = tar.next()
                top = first.name.split('/')[0] if first else 'ssm'
            self.top = top
            self.label = top[4:] if top.startswith('ssm-') else top
            self.key = f'tar-{_safe(self.label)}-{self.sha256[:16]}'
        else:
            raise BuildError(f'SSM source not found: {self.path} (a source tarball or a git checkout)')

    def __repr__(self):
        return f'<Source {self.label} {self.path}>'


def _run(cmd, cwd, log, env=None):
    log.write(f'\n$ (cd {cwd} && {" ".join(cmd)})\n')
    log.flush()
    started = time.monotonic()
    proc = subprocess.run(cmd, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, env=env, check=False)
    log.write(f'# exit {proc.returncode} after {time.monotonic() - started:.1f}s\n')
    log.flush()
    if proc.returncode:
        raise BuildError(f'`{" ".join(cmd)}` failed in {cwd} (exit {proc.returncode}); see {log.name}')


def flavour_of(tree):
    """'0.5' for the NestJS server (v0.5 and the main branch), '0.1' for the Express one."""
    server = os.path.join(tree, 'server')
    with open(os.path.join(server, 'package.json')) as handle:
        package = json.load(handle)
    build = package.get('scripts', {}).get('build', '')
    if 'nest' in build or os.path.exists(os.path.join(server, 'src', 'main.ts')):
        return '0.5'
    return '0.1'


def entry_of(tree, flavour):
    return os.path.join(tree, 'server', 'dist', 'src', 'main.js' if flavour == '0.5' else 'index.js')


def _unpack(source, dest, log):
    os.makedirs(dest)
    if source.kind == 'tarball':
        log.write(f'unpacking {source.path} (sha256 {source.sha256})\n')
        with tarfile.open(source.path) as tar:
            tar.extractall(dest, filter='data')
        inner = os.path.join(dest, source.top)
    else:
        log.write(f'git archive HEAD ({source.head}) of {source.path}\n')
        inner = os.path.join(dest, 'ssm')
        os.makedirs(inner)
        archive = subprocess.Popen(['git', '-C', source.path, 'archive', '--format=tar', 'HEAD'],
                                   stdout=subprocess.PIPE)
        subprocess.run(['tar', 'x', '-C', inner], stdin=archive.stdout, check=True)
        if archive.wait():
            raise BuildError(f'git archive failed in {source.path}')
    if not os.path.isdir(os.path.join(inner, 'server')):
        raise BuildError(f'{source.path}: no server/ folder, not an SSM source')
    return inner


def _build_tree(tree, log):
    flavour = flavour_of(tree)
    env = dict(os.environ, npm_config_audit='false', npm_config_fund='false', npm_config_update_notifier='false',
               CI='1')
    shared = os.path.join(tree, 'shared-lib')
    server = os.path.join(tree, 'server')
    if os.path.isdir(shared):
        _run(['npm', 'ci'], shared, log, env)
        _run(['npm', 'run', 'build'], shared, log, env)
    # Install scripts are skipped: some download prebuilt binaries (no network but PyPI/npm/Debian here).
    _run(['npm', 'ci', '--ignore-scripts'], server, log, env)
    bcrypt = os.path.join(server, 'node_modules', 'bcrypt')
    if os.path.isdir(bcrypt):
        gyp_env = dict(env, npm_config_node_gyp=NPM_NODE_GYP,
                       PATH=os.path.dirname(NPM_NODE_GYP) + os.pathsep + env.get('PATH', ''))
        pre_gyp = os.path.join(server, 'node_modules', '@mapbox', 'node-pre-gyp', 'bin', 'node-pre-gyp')
        if os.path.exists(pre_gyp):
            _run(['node', pre_gyp, 'rebuild', '--build-from-source', '--nodedir=/usr'], bcrypt, log, gyp_env)
        else:
            _run(['node', NPM_NODE_GYP, 'rebuild', '--nodedir=/usr'], bcrypt, log, gyp_env)
    _run(['npm', 'run', 'build'], server, log, env)
    entry = entry_of(tree, flavour)
    if not os.path.exists(entry):
        raise BuildError(f'the build did not produce {entry}; see {log.name}')
    return flavour


def build(source):
    """Build `source` once (cached under build/realssm/<key>); returns the info dict of the built tree."""
    src = source if isinstance(source, Source) else Source(source)
    final = os.path.join(CACHE, src.key)
    marker = os.path.join(final, MARKER)
    with file_lock(os.path.join(CACHE, 'locks', src.key + '.lock')):
        if os.path.exists(marker):
            with open(marker) as handle:
                return json.load(handle)
        shutil.rmtree(final, ignore_errors=True)
        partial = final + '.partial'
        shutil.rmtree(partial, ignore_errors=True)
        os.makedirs(CACHE, exist_ok=True)
        log_path = os.path.join(CACHE, src.key + '.build.log')
        started = time.monotonic()
        with open(log_path, 'w') as log:
            inner = _unpack(src, partial, log)
            flavour = _build_tree(inner, log)
        top = os.path.basename(inner)
        os.rename(partial, final)
        info = {'label': src.label, 'key': src.key, 'source': src.path, 'flavour': flavour,
                'tree': os.path.join(final, top), 'build_seconds': round(time.monotonic() - started, 1),
                'log': log_path}
        # The tree was built in the .partial folder: npm links (shared-lib) are relative, so the move is safe.
        with open(marker, 'w') as handle:
            json.dump(info, handle, indent=1)
        return info


def congodb():
    """Install CongoDB (from the npm package @push.rocks/smartmongo@2.2.0) once; returns its folder."""
    final = os.path.join(CACHE, 'congodb')
    marker = os.path.join(final, MARKER)
    with file_lock(os.path.join(CACHE, 'locks', 'congodb.lock')):
        if os.path.exists(marker):
            return final
        partial = final + '.partial'
        shutil.rmtree(partial, ignore_errors=True)
        shutil.rmtree(final, ignore_errors=True)
        os.makedirs(partial)
        with open(os.path.join(partial, 'install.log'), 'w') as log:
            _run(['npm', 'pack', CONGO_PACKAGE], partial, log)
            tgz = [name for name in os.listdir(partial) if name.endswith('.tgz')][0]
            with tarfile.open(os.path.join(partial, tgz)) as tar:
                tar.extractall(partial, filter='data')
            os.rename(os.path.join(partial, 'package'), os.path.join(partial, 'smartmongo'))
            with open(os.path.join(partial, 'smartmongo', 'package.json')) as handle:
                wanted = json.load(handle)['dependencies']
            deps = {name: wanted[name] for name in CONGO_DEPS}
            with open(os.path.join(partial, 'package.json'), 'w') as handle:
                json.dump({'name': 'realssm-congodb', 'private': True, 'type': 'module', 'dependencies': deps},
                          handle, indent=1)
            _run(['npm', 'install', '--ignore-scripts', '--no-audit', '--no-fund'], partial, log)
            _fix_hello(os.path.join(partial, 'smartmongo', 'dist_ts', 'congodb', 'server', 'handlers',
                                    'HelloHandler.js'), log)
        shutil.copy(os.path.join(HERE, 'js', 'congodb.mjs'), os.path.join(partial, 'congodb.mjs'))
        os.rename(partial, final)
        with open(marker, 'w') as handle:
            json.dump({'package': CONGO_PACKAGE, 'deps': deps}, handle)
        return final


def _fix_hello(path, log):
    """CongoDB's `hello` answer carries a new topologyVersion.processId each time: the MongoDB driver then
    believes the server changed and Mongoose reconnects every second. Drop topologyVersion from the answer."""
    with open(path) as handle:
        text = handle.read()
    fixed, count = re.subn(r'\n\s*topologyVersion:\s*\{[^{}]*\},?', '\n', text)
    if count != 1:
        raise BuildError(f'could not apply the hello fix to {path} (found {count} topologyVersion blocks)')
    with open(path, 'w') as handle:
        handle.write(fixed)
    log.write(f'hello fix applied to {path}\n')
