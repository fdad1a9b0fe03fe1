"""Child processes of the launcher: started in their own process group, marked in their environment, stopped by
PID (SIGTERM, grace, SIGKILL), and written to a PID file so that a later run kills what a crashed run left."""
import errno
import json
import os
import random
import signal
import socket
import subprocess
import time

from .build import CACHE

RUN_DIR = os.path.join(CACHE, 'run')
MARK = 'REALSSM_INSTANCE'


def free_port():
    """A TCP port free on 127.0.0.1 right now, below the kernel's ephemeral range: a port the kernel picks
    there can be taken by any outgoing connection (of another server starting beside) before ours listens."""
    for port in random.sample(range(20000, 32000), 200):
        with socket.socket() as sock:
            try:
                sock.bind(('127.0.0.1', port))
            except OSError:
                continue
            return port
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def port_open(port, host='127.0.0.1', timeout=0.2):
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def alive(pid):
    try:
        os.kill(pid, 0)
    except OSError as exc:
        return exc.errno == errno.EPERM
    try:  # a zombie is dead for us
        with open(f'/proc/{pid}/stat') as handle:
            return handle.read().rsplit(')', 1)[1].split()[0] != 'Z'
    except OSError:
        return False


def start_time(pid):
    """The process's start time (clock ticks since boot), or None."""
    try:
        with open(f'/proc/{pid}/stat') as handle:
            return int(handle.read().rsplit(')', 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def carries_mark(pid, instance, started=None):
    """True when process `pid` was started by the launcher instance `instance` (guards against PID reuse): its
    environment holds the mark, or (redis-server rewrites its environ area) its start time is the one noted."""
    if started is not None and start_time(pid) == started:
        return True
    try:
        with open(f'/proc/{pid}/environ', 'rb') as handle:
            return f'{MARK}={instance}'.encode() in handle.read().split(b'\0')
    except OSError:
        return False


def spawn(argv, instance, log_path, cwd=None, env=None):
    env = dict(os.environ if env is None else env)
    env[MARK] = instance
    log = open(log_path, 'ab')  # pylint: disable=consider-using-with
    try:
        return subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    finally:
        log.close()


def kill(pid, instance=None, grace=1.0, started=None):
    """SIGTERM the process group of `pid`, wait up to `grace` seconds, then SIGKILL it. SSM and CongoDB ignore
    SIGTERM, so they get the SIGKILL."""
    if instance is not None and not carries_mark(pid, instance, started):
        return
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        except PermissionError:
            os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:  # reap it when it is our child
                if os.waitpid(pid, os.WNOHANG)[0] == pid:
                    return
            except ChildProcessError:
                if not alive(pid):
                    return
            time.sleep(0.05)


def write_pidfile(instance, pids, workdir):
    os.makedirs(RUN_DIR, exist_ok=True)
    path = os.path.join(RUN_DIR, f'{instance}.json')
    tmp = path + '.tmp'
    with open(tmp, 'w') as handle:
        json.dump({'owner': os.getpid(), 'instance': instance, 'pids': pids, 'workdir': workdir,
                   'started': {name: start_time(pid) for name, pid in pids.items()}}, handle)
    os.replace(tmp, path)
    return path


def remove_pidfile(instance):
    try:
        os.unlink(os.path.join(RUN_DIR, f'{instance}.json'))
    except FileNotFoundError:
        pass


def reap_leftovers():
    """Kill the processes of launcher instances whose owning Python process is gone; returns how many."""
    killed = 0
    if not os.path.isdir(RUN_DIR):
        return killed
    for name in os.listdir(RUN_DIR):
        if not name.endswith('.json'):
            continue
        path = os.path.join(RUN_DIR, name)
        try:
            with open(path) as handle:
                data = json.load(handle)
        except (OSError, ValueError):
            continue
        if data.get('owner') != os.getpid() and alive(data.get('owner', 0)):
            continue
        if data.get('owner') == os.getpid():
            continue
        started = data.get('started', {})
        for name, pid in data.get('pids', {}).items():
            if pid and carries_mark(pid, data['instance'], started.get(name)):
                kill(pid, data['instance'], grace=0.5, started=started.get(name))
                killed += 1
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
    return killed
