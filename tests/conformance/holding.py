"""A proxy of the tests in front of any SSM (sandbox or real): it forwards every request, and can hold one -- the one
after the n-th, or the first that matches -- until the test lets it go on or drops it. That is how a test kills a run
right after any of its requests, or changes SSM between a run's read and its write, the same way on every server."""
import threading

import requests

from tests.harness import serve


def relay(handler, upstream, body, timeout, verify=True, seen=None):
    """Send the request `handler` received on to `upstream` and its answer back, calling seen(answer) first (so that
    a recorder has the request before its client has the answer). The one forwarding path of the tests' proxies
    (this one, and the running SSM's recorder in running.py)."""
    headers = dict((k, v) for k, v in handler.headers.items() if k.lower() not in ('host', 'content-length'))
    answer = requests.request(handler.command, upstream + handler.path, data=body or None, headers=headers,
                              timeout=timeout, allow_redirects=False, verify=verify)
    if seen is not None:
        seen(answer)
    handler.send_response(answer.status_code)
    for key, value in answer.headers.items():
        if key.lower() not in ('content-length', 'transfer-encoding', 'connection', 'content-encoding'):
            handler.send_header(key, value)
    handler.send_header('Content-Length', str(len(answer.content)))
    handler.end_headers()
    handler.wfile.write(answer.content)


class Holding:
    def __init__(self, upstream):
        self.upstream = upstream.rstrip('/')
        self.url = None
        self._lock = threading.Lock()
        self._server = None
        self.arm()

    def arm(self, after=None, match=None):
        """Hold request number after + 1 (counted from now), or the first request for which match(method, path)."""
        with self._lock:
            self.count, self._after, self._match = 0, after, match
            self.held, self._go = threading.Event(), threading.Event()
            self._forward = False

    def release(self, forward):
        """Let the held request go on to SSM (forward) or drop it, never sent."""
        self._forward = forward
        self._go.set()

    def _hold(self, method, path):
        with self._lock:
            self.count += 1
            if self.held.is_set():
                return False
            hit = (self._after is not None and self.count == self._after + 1) or (
                self._match is not None and self._match(method, path))
            if hit:
                self.held.set()
            return hit

    def start(self):
        def forward(handler, body):
            if self._hold(handler.command, handler.path):
                self._go.wait(300)
                if not self._forward:
                    handler.close_connection = True
                    return
            relay(handler, self.upstream, body, timeout=120)

        self._server, self.url = serve(forward)
        return self

    def stop(self):
        self.release(False)
        self._server.shutdown()
        self._server.server_close()
