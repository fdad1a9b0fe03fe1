"""SSM sandbox: a small local stand-in for Squirrel Servers Manager's container-registry API.

Written from the contract in ssm-api.md (facts about the server's behaviour), not from
SSM's code. Pure stdlib. Use it from tests::

    sb = Sandbox(api_key="k").start()
    requests.get(sb.url + "/api/container-registries", headers={"Authorization": "Bearer k"})
    sb.stop()

or run it: ``python tests/sandbox/ssm_sandbox.py --port 8000``.
"""
import argparse
import copy
import html
import http
import json
import secrets
import signal
import socket
import ssl
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

# The template the web client sends as authScheme for a custom registry (ssm-api.md).
CUSTOM_SCHEME = [
    {"name": "url", "type": "string"},
    {"name": "Connection Type", "type": "choice", "values": [
        [{"name": "login", "type": "string"}, {"name": "password", "type": "string"}],
        [{"name": "auth", "type": "string"}]]},
]


def _fields(*names):
    return [{"name": n, "type": "string"} for n in names]


# provider -> (fullName, canAnonymous, authScheme); seeded in this order, one row each.
PROVIDERS = {
    "ecr": ("Amazon Elastic Container Registry", True, _fields("accesskeyid", "secretaccesskey", "region")),
    "ghcr": ("GitHub Container Registry", True, _fields("username", "token")),
    "gcr": ("Google Container Registry", True, _fields("clientemail", "privatekey")),
    "hub": ("Docker Hub", True, [{"name": "Connection Type", "type": "choice", "values": [
        _fields("login", "password"), _fields("auth")]}]),
    "quay": ("Quay", True, _fields("namespace", "account", "token")),
    "acr": ("Azure Container Registry", False, _fields("clientid", "clientsecret")),
    "gitea": ("Gitea", False, copy.deepcopy(CUSTOM_SCHEME)),
    "forgejo": ("Forgejo", False, copy.deepcopy(CUSTOM_SCHEME)),
    "lscr": ("LinuxServer Container Registry", False, _fields("username", "token")),
    "gitlab": ("GitLab Container Registry", False, _fields("url", "authurl", "token")),
}

WEB_CLIENT_HTML = (b'<!doctype html><html lang="en"><head><meta charset="utf-8">'
                   b'<title>Squirrel Servers Manager</title></head><body><div id="root"></div>'
                   b'<noscript>SSM needs JavaScript.</noscript></body></html>')

EXCEPTION_NAMES = {400: "BadRequestException", 401: "UnauthorizedException", 403: "ForbiddenException",
                   404: "NotFoundException", 408: "RequestTimeoutException", 429: "ThrottlerException",
                   500: "InternalServerErrorException", 502: "BadGatewayException",
                   503: "ServiceUnavailableException", 504: "GatewayTimeoutException"}
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
REGISTRY_PATHS = ("/api/container-registries", "/api/containers/registries")


class ApiError(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status, self.message = status, message


class Sandbox:
    def __init__(self, api_key="sandbox-api-key", username="admin@example.com", password="sandbox-password",
                 legacy_rows=False, version="0.5", host="127.0.0.1", port=0, tls_cert=None, tls_key=None):
        if version not in ("0.5", "0.1"):
            raise ValueError("version must be '0.5' or '0.1'")
        self.api_key, self.username, self.password = api_key, username, password
        self.legacy_rows, self.version = legacy_rows, version
        self.host, self.port, self.tls_cert, self.tls_key = host, port, tls_cert, tls_key
        self.rows, self.requests = {}, []
        self.url = None
        self._faults, self._sessions = [], set()
        self._lock = threading.RLock()
        self._last_ts = datetime.min.replace(tzinfo=timezone.utc)
        self._server = self._thread = None
        self.reset()

    # ----- store ---------------------------------------------------------------------------
    def _now(self):
        """ISO timestamp like Mongo's JSON dates, strictly increasing so updatedAt always moves."""
        with self._lock:
            ts = max(datetime.now(timezone.utc), self._last_ts + timedelta(milliseconds=1))
            self._last_ts = ts
        return ts.isoformat(timespec="milliseconds").replace("+00:00", "Z")

    def _row(self, name, provider, auth_scheme, can_auth=True, can_anonymous=False, full_name=None, auth=None):
        now = self._now()
        row = {"_id": secrets.token_hex(12), "name": name, "provider": provider}
        if auth is not None:
            row["auth"] = auth
        row.update({"authScheme": auth_scheme, "authSet": auth is not None, "canAuth": can_auth,
                    "canAnonymous": can_anonymous})
        if full_name:
            row["fullName"] = full_name
        row.update({"createdAt": now, "updatedAt": now})
        return row

    def reset(self):
        """Reseed the built-in rows (and legacy rows if enabled); clear the request log and faults."""
        with self._lock:
            self.rows.clear()
            for name, (full_name, anonymous, scheme) in PROVIDERS.items():
                self.rows[name] = self._row(name, name, copy.deepcopy(scheme), True, anonymous, full_name)
            if self.legacy_rows:
                self.rows["hotio"] = self._row("hotio", "hotio", [], can_auth=False, can_anonymous=True)
                self.rows["forjejo"] = self._row(
                    "forjejo", "forjejo", copy.deepcopy(CUSTOM_SCHEME),
                    auth={"url": "https://git.example", "login": "old", "password": "legacy-secret-value"})
            self.requests.clear()
            self._faults.clear()

    def clear_requests(self):
        with self._lock:
            self.requests.clear()

    def writes(self):
        with self._lock:
            return [r for r in self.requests
                    if r["method"] in WRITE_METHODS and r["path"].startswith(REGISTRY_PATHS)]

    def add_faults(self, faults):
        if isinstance(faults, dict):
            faults = [faults]
        for f in faults:
            if f.get("action", "status") not in ("status", "delay", "drop", "html"):
                raise ValueError(f"unknown fault action: {f.get('action')!r}")
        with self._lock:
            for f in faults:
                self._faults.append({"method": f.get("method"), "path_prefix": f.get("path_prefix", "/api"),
                                     "nth": int(f.get("nth", 1)), "times": int(f.get("times", 1)),
                                     "action": f.get("action", "status"), "status": int(f.get("status", 503)),
                                     "seconds": float(f.get("seconds", 1.5)),
                                     "apply_then_fail": bool(f.get("apply_then_fail", False)), "seen": 0})

    def clear_faults(self):
        with self._lock:
            self._faults.clear()

    def _take_fault(self, method, path):
        """Count this request against every matching fault; return the first one that hits it."""
        hit = None
        with self._lock:
            for f in self._faults:
                if (f["method"] is None or f["method"].upper() == method) and path.startswith(f["path_prefix"]):
                    f["seen"] += 1
                    if hit is None and f["nth"] <= f["seen"] < f["nth"] + f["times"]:
                        hit = f
        return hit

    # ----- API -----------------------------------------------------------------------------
    def _authenticated(self, headers, allow_key):
        cookie = SimpleCookie()
        try:
            cookie.load(headers.get("Cookie", ""))
        except Exception:
            pass
        if "jwt" in cookie and cookie["jwt"].value in self._sessions:
            return True
        return allow_key and headers.get("Authorization", "") == f"Bearer {self.api_key}"

    def _login(self, body):
        if not (isinstance(body, dict) and body.get("username") == self.username
                and body.get("password") == self.password):
            raise ApiError(401, "Identification is incorrect!")
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._sessions.add(token)
        return token

    @staticmethod
    def _validate(body, need_scheme):
        """The server's body validation: auth a non-empty object; authScheme present (create)."""
        msgs = []
        auth = body.get("auth")
        if auth in (None, "") or auth == {}:
            msgs.append("auth should not be empty")
        if not isinstance(auth, dict):
            msgs.append("auth must be an object")
        if need_scheme and body.get("authScheme") in (None, ""):
            msgs.append("authScheme should not be empty")
        if msgs:
            raise ApiError(400, msgs)

    def _registry_op(self, method, name, body):
        """Perform a registry call; returns the v0.1 success message (v0.5 always says the same)."""
        with self._lock:
            if method == "GET":
                return "Get registries", {"registries": copy.deepcopy(list(self.rows.values()))}
            if method in ("POST", "PUT"):
                self._validate(body, need_scheme=method == "PUT")
            row = self.rows.get(name)
            if method == "PUT":
                if row is not None:
                    raise ApiError(400, f"Registry already exist with same name: ({name})")
                self.rows[name] = self._row(name, "custom", copy.deepcopy(body["authScheme"]),
                                            auth=copy.deepcopy(body["auth"]))
                return "Get registries", None
            if row is None:
                raise ApiError(404, f"Registry not found ({name})")
            if method == "POST":
                row["auth"] = copy.deepcopy(body["auth"])
                row["authSet"] = True
                row["updatedAt"] = self._now()
                return "Get registries", None
            if method == "PATCH":
                row.pop("auth", None)
                row["authSet"] = False
                row["updatedAt"] = self._now()
                return "Reset registry", None
            if row["provider"] != "custom":  # DELETE
                raise ApiError(403, f"Cannot delete non-custom registry provider ({name})"
                               if self.version == "0.5" else "You cannot delete a non custom registry provider")
            del self.rows[name]
            return "Remove registry", None

    def handle_api(self, method, path, headers, raw):
        """Answer one /api request: returns (status, content_type, body bytes, extra headers)."""
        v05 = self.version == "0.5"
        route = path[len("/api"):] or "/"       # the server's own view: the proxy strips /api
        seen = route if v05 else path           # what the server puts in "Cannot GET ..." / "path"

        def envelope(status, message, data=None, cookie=None):
            if status < 400:
                doc = {"success": True, "message": message if not v05 else "Operation successful"}
                if data is not None:
                    doc["data"] = data
            elif v05:
                doc = {"success": False, "message": message,
                       "error": EXCEPTION_NAMES.get(status, "HttpException"), "statusCode": status,
                       "timestamp": self._now(), "path": seen, "data": None}
            else:
                doc = {"success": False, "message": message if isinstance(message, str) else ", ".join(message)}
            extra = {"Set-Cookie": f"jwt={cookie}; Path=/; HttpOnly"} if cookie else {}
            return status, "application/json; charset=utf-8", json.dumps(doc).encode(), extra

        def not_found():
            if v05:
                return envelope(404, f"Cannot {method} {seen}")
            page = ('<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>Error</title>\n'
                    f'</head>\n<body>\n<pre>Cannot {html.escape(method)} {html.escape(seen)}</pre>\n</body>\n</html>\n')
            return 404, "text/html; charset=utf-8", page.encode(), {}

        try:
            body = json.loads(raw) if raw.strip() else {}
        except ValueError as exc:
            return envelope(400, f"Unexpected token in JSON at position {getattr(exc, 'pos', 0)}")
        body = body if isinstance(body, dict) else {}
        target = seen.rstrip("/") or "/"        # Express routing is not strict about a trailing /
        base = "/container-registries" if v05 else "/api/containers/registries"
        name, routed = None, target == base and method == "GET"
        if target.startswith(base + "/") and "/" not in target[len(base) + 1:]:
            name, routed = unquote(target[len(base) + 1:]), method in WRITE_METHODS
        try:
            if method == "POST" and target == ("/users/login" if v05 else "/api/users/login"):
                return envelope(200, "Login success", None if v05 else {}, cookie=self._login(body))
            if not v05 and not self._authenticated(headers, allow_key=False):
                return 401, "text/plain; charset=utf-8", b"Unauthorized", {}  # passport, before routing
            if not routed:
                return not_found()
            if v05 and not self._authenticated(headers, allow_key=True):
                raise ApiError(401, "Unauthorized")
            message, data = self._registry_op(method, name, body)
            return envelope(200, message, data if data is not None or v05 else {})
        except ApiError as err:
            return envelope(err.status, err.message)

    def fault_answer(self, status, path):
        """An injected failure: a v0.5 error envelope with that status."""
        try:
            message = http.HTTPStatus(status).phrase
        except ValueError:
            message = "Error"
        doc = {"success": False, "message": message, "error": EXCEPTION_NAMES.get(status, "HttpException"),
               "statusCode": status, "timestamp": self._now(),
               "path": path[len("/api"):] or "/" if self.version == "0.5" else path, "data": None}
        return status, "application/json; charset=utf-8", json.dumps(doc).encode(), {}

    # ----- server --------------------------------------------------------------------------
    def start(self):
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        server_cls = type("_Server", (_Server,), {"address_family": family})
        self._server = server_cls((self.host, self.port), _Handler)
        self._server.sandbox = self
        scheme = "http"
        if self.tls_cert or self.tls_key:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(self.tls_cert, self.tls_key)
            self._server.tls = ctx
            scheme = "https"
        port = self._server.server_address[1]
        host = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(self.host, self.host)
        self.url = f"{scheme}://[{host}]:{port}" if ":" in host else f"{scheme}://{host}:{port}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="ssm-sandbox", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server.close_all()
            self._thread.join(5)
            self._server = self._thread = None

    def __enter__(self):
        return self.start() if self._server is None else self

    def __exit__(self, *exc):
        self.stop()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    tls = None  # an ssl.SSLContext when serving https

    def __init__(self, *args, **kwargs):
        self._conn_lock, self._conns = threading.Lock(), set()
        super().__init__(*args, **kwargs)

    def server_bind(self):  # skip the reverse-DNS lookup HTTPServer does
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind(self.server_address)
        self.server_address = self.socket.getsockname()
        self.server_name, self.server_port = self.server_address[:2]

    def get_request(self):
        sock, addr = self.socket.accept()
        if self.tls is not None:  # handshake later, in the handler's thread
            sock = self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        with self._conn_lock:
            self._conns.add(sock)
        return sock, addr

    def shutdown_request(self, request):
        with self._conn_lock:
            self._conns.discard(request)
        super().shutdown_request(request)

    def close_all(self):
        """Cut idle keep-alive connections so a stopped sandbox really stops answering."""
        with self._conn_lock:
            conns, self._conns = list(self._conns), set()
        for sock in conns:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request, client_address):  # quiet: clients hanging up are expected
        pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "SSM-sandbox"
    sys_version = ""
    timeout = 120  # idle keep-alive connections are closed after this
    # Node (SSM) answers at once on a kept-alive connection; without this, Nagle holds each answer ~40 ms.
    disable_nagle_algorithm = True

    def setup(self):
        super().setup()
        if isinstance(self.request, ssl.SSLSocket):
            self.request.do_handshake()

    def log_message(self, *args):
        pass

    def _send(self, status, ctype, body, headers=None):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _handle(self):
        sb = self.server.sandbox
        method, path = self.command, urlsplit(self.path).path
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if path == "/_sandbox" or path.startswith("/_sandbox/"):
            return self._control(sb, method, path, raw)
        if not (path == "/api" or path.startswith("/api/")):
            return self._send(200, "text/html; charset=utf-8", WEB_CLIENT_HTML)
        fault = sb._take_fault(method, path)
        action = fault and fault["action"]
        if action == "delay":
            time.sleep(fault["seconds"])
        answer = None
        if fault is None or action == "delay" or fault["apply_then_fail"]:
            answer = sb.handle_api(method, path, self.headers, raw)
        if action == "drop":
            answer, self.close_connection = None, True
        elif action == "html":
            answer = (200, "text/html; charset=utf-8", WEB_CLIENT_HTML, {})
        elif action == "status":
            answer = sb.fault_answer(fault["status"], path)
        with sb._lock:
            sb.requests.append({"method": method, "path": path, "status": answer and answer[0]})
        if answer is not None:
            self._send(*answer)

    def _control(self, sb, method, path, raw):
        try:
            body = json.loads(raw) if raw.strip() else None
        except ValueError:
            return self._send(400, "application/json", {"error": "invalid JSON"})
        ok = {"ok": True}
        if path == "/_sandbox/requests" and method == "GET":
            with sb._lock:
                return self._send(200, "application/json", list(sb.requests))
        if path == "/_sandbox/requests" and method == "DELETE":
            sb.clear_requests()
            return self._send(200, "application/json", ok)
        if path == "/_sandbox/reset" and method == "POST":
            sb.reset()
            return self._send(200, "application/json", ok)
        if path == "/_sandbox/rows" and method == "GET":
            with sb._lock:
                return self._send(200, "application/json", dict(sb.rows))
        if path.startswith("/_sandbox/rows/") and method == "PUT" and isinstance(body, dict):
            name = unquote(path[len("/_sandbox/rows/"):])
            now = sb._now()
            row = {"_id": secrets.token_hex(12), **body, "name": name}
            row.setdefault("createdAt", now)
            row.setdefault("updatedAt", now)
            with sb._lock:
                sb.rows[name] = row
            return self._send(200, "application/json", row)
        if path == "/_sandbox/faults" and method == "POST" and isinstance(body, (list, dict)):
            try:
                sb.add_faults(body)
            except (ValueError, TypeError, AttributeError) as exc:
                return self._send(400, "application/json", {"error": str(exc)})
            return self._send(200, "application/json", ok)
        if path == "/_sandbox/faults" and method == "DELETE":
            sb.clear_faults()
            return self._send(200, "application/json", ok)
        return self._send(404, "application/json", {"error": f"no sandbox control {method} {path}"})

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle


def main(argv=None):
    p = argparse.ArgumentParser(description="Local SSM container-registry API sandbox")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--api-key", default="sandbox-api-key")
    p.add_argument("--username", default="admin@example.com")
    p.add_argument("--password", default="sandbox-password")
    p.add_argument("--legacy-rows", action="store_true")
    p.add_argument("--version", choices=("0.5", "0.1"), default="0.5")
    p.add_argument("--url-file")
    p.add_argument("--tls-cert")
    p.add_argument("--tls-key")
    args = p.parse_args(argv)
    if bool(args.tls_cert) != bool(args.tls_key):
        p.error("--tls-cert and --tls-key go together")
    sb = Sandbox(api_key=args.api_key, username=args.username, password=args.password,
                 legacy_rows=args.legacy_rows, version=args.version, host=args.host, port=args.port,
                 tls_cert=args.tls_cert, tls_key=args.tls_key).start()
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    if args.url_file:
        with open(args.url_file, "w", encoding="utf-8") as fh:
            fh.write(sb.url + "\n")
    print(f"SSM sandbox listening on {sb.url}", flush=True)
    while not stop.wait(0.5):
        pass
    sb.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
