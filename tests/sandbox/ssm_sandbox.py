"""SSM sandbox: a small local stand-in for Squirrel Servers Manager's container-registry API.

It reproduces the real server as measured (ssm-api.md, and the answers recorded from the real servers in
tests/contract/recorded/), defects included: by default SSM v0.5.2; `flavour="fixed"` is v0.5 with its registry
defects fixed; `version="0.1"` is v0.1.30. Pure stdlib. Use it from tests::

    sb = Sandbox(api_key="k").start()
    requests.get(sb.url + "/api/container-registries", headers={"Authorization": "Bearer k"})
    sb.stop()

or run it: ``python tests/sandbox/ssm_sandbox.py --port 8000 [--flavour fixed] [--version 0.1]``.

Registration (what SSM's update checker uses) is modelled as the servers do it (read from their code, counts
and failures measured): v0.5 re-registers at start and after PUT and DELETE only (the 500 of POST and PATCH comes
before the reload), an anonymous Docker Hub plus every row with authSet true except hub rows, and logs
`Registering N registries` with N counting the hub rows; a row whose component throws (unknown provider, gitea's
`url` not a string) stops the reload: the PUT/DELETE answers 500 after its write, and restart() leaves SSM down.
v0.1 reloads after POST, PUT and PATCH (not DELETE), one slot per provider. `registering()`, `log()` and
`registered()` show it; the helpers `rows()`, `insert_row()`, `requests()`, `writes()`, `restart()`, `upgrade()`
have the names and meaning of the real-server launcher's (tests/realssm), so a test can take either.
"""
import argparse
import copy
import html
import http
import json
import os
import secrets
import shlex
import signal
import socket
import ssl
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote, unquote, urlsplit

# The template the web client sends as authScheme for a custom registry (ssm-api.md).
CUSTOM_SCHEME = [
    {"name": "url", "type": "string"},
    {"name": "Connection Type", "type": "choice", "values": [
        [{"name": "login", "type": "string"}, {"name": "password", "type": "string"}],
        [{"name": "auth", "type": "string"}]]},
]


def _fields(*names):
    return [{"name": n, "type": "string"} for n in names]


# The built-in rows SSM seeds at start (same table in v0.1.30 and v0.5.2), in the order the real server
# lists them on a fresh database: provider -> (fullName or None, canAnonymous, authScheme). fullName is
# absent for gitea, forgejo and gitlab; hub's choice is "Connection type" (lower-case t) of three single
# fields; gitea's scheme is flat (measured: ssm-api.md "A stored row").
PROVIDERS = {
    "ecr": ("AWS Elastic Container Registry", True, _fields("accesskeyid", "secretaccesskey", "region")),
    "ghcr": ("Github Container Registry", True, _fields("username", "token")),
    "gcr": ("Google Container Registry", True, _fields("clientemail", "privatekey")),
    "hub": ("Docker Hub", True, _fields("login") + [{"name": "Connection type", "type": "choice", "values": [
        _fields("password"), _fields("token"), _fields("auth")]}]),
    "quay": ("Red Hat Quay.io", True, _fields("namespace", "account", "token")),
    "acr": ("Azure Container Registry", False, _fields("clientid", "clientsecret")),
    "gitea": (None, False, _fields("login", "password", "url")),
    "forgejo": (None, False, copy.deepcopy(CUSTOM_SCHEME)),
    "lscr": ("Linux Server Container Registry", False, _fields("username", "token")),
    "gitlab": (None, False, _fields("url", "authurl", "token")),
}
# SSM's default anonymous registries (provider.conf `default: true`): what v0.1 registers without credentials.
V01_DEFAULTS = ("ecr", "ghcr", "gcr", "hub", "quay")
# v0.1 passes {name, provider, ...auth} to the provider's Joi schema when it registers a row (read from SSM's
# v0.1.30 code; measured: ghcr, gitlab and lscr `"name" is not allowed`, a UI custom row `"newName" is not allowed`, a
# field the UI sent as "" `"login" is not allowed` or `"password" is not allowed to be empty`): the keys each
# schema allows, in its order, and which of them are required. Joi checks the schema's keys in that order, then
# reports the first key it does not know; its strings may not be empty. ghcr, lscr and gitlab do not allow `name`,
# so they never register with credentials. Hub needs no field.
_URL_LOGIN = ("name", "provider", "url", "login", "password", "auth")
V01_SCHEMAS = {
    "ecr": (("name", "provider", "accesskeyid", "secretaccesskey", "region"), ("accesskeyid", "secretaccesskey", "region")),
    "gcr": (("name", "provider", "clientemail", "privatekey"), ("clientemail", "privatekey")),
    "ghcr": (("username", "token"), ("username", "token")),
    "lscr": (("username", "token"), ("username", "token")),
    "gitlab": (("url", "authurl", "token"), ("token",)),
    "quay": (("name", "provider", "namespace", "account", "token"), ("namespace", "account", "token")),
    "acr": (("name", "provider", "clientid", "clientsecret"), ("clientid", "clientsecret")),
    "hub": (("name", "provider", "login", "password", "token", "auth"), ()),
    "gitea": (_URL_LOGIN, ("url",)), "forgejo": (_URL_LOGIN, ("url",)), "custom": (_URL_LOGIN, ("url",)),
}
REGISTRY_PROVIDERS = tuple(PROVIDERS) + ("custom",)
# The order of a stored row's fields: the mongoose schema's (recorded from both servers).
ROW_FIELDS = {"0.5": ("name", "auth", "authScheme", "provider", "authSet", "canAuth", "canAnonymous", "fullName"),
              "0.1": ("name", "authScheme", "auth", "provider", "authSet", "canAuth", "canAnonymous", "fullName")}

WEB_CLIENT_HTML = (b'<!doctype html><html lang="en"><head><meta charset="utf-8">'
                   b'<title>Squirrel Servers Manager</title></head><body><div id="root"></div>'
                   b'<noscript>SSM needs JavaScript.</noscript></body></html>')
# What SSM's proxy (nginx) answers when the server behind it is down.
BAD_GATEWAY_HTML = (b'<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway'
                    b'</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n')

EXCEPTION_NAMES = {400: "BadRequestException", 401: "UnauthorizedException", 403: "ForbiddenException",
                   404: "NotFoundException", 408: "RequestTimeoutException", 429: "ThrottlerException",
                   500: "InternalServerErrorException", 502: "BadGatewayException",
                   503: "ServiceUnavailableException", 504: "GatewayTimeoutException"}
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
REGISTRY_PATHS = ("/api/container-registries", "/api/containers/registries")
FLAVOURS = ("real", "fixed")

# The 500 that v0.5.2's POST and PATCH answer after they have written (mongoose's strictPopulate on
# `.populate('device')` in the repository's update). The stack is a stand-in of the same shape: the real one
# names the server's paths, which is why a client must never echo it.
POPULATE_MESSAGE = ("Cannot populate path `device` because it is not in your schema. "
                    "Set the `strictPopulate` option to false to override.")
POPULATE_STACK = ("StrictPopulateError: " + POPULATE_MESSAGE + "\n"
                  "    at getModelsMapForPopulate (/opt/squirrelserversmanager/server/node_modules/mongoose/lib/"
                  "helpers/populate/getModelsMapForPopulate.js:50:12)\n"
                  "    at populate (/opt/squirrelserversmanager/server/node_modules/mongoose/lib/model.js:4255:21)\n"
                  "    at _populate (/opt/squirrelserversmanager/server/node_modules/mongoose/lib/model.js:4215:5)")


class ApiError(Exception):
    """An answer other than success: status, message, and the v0.5 error class and `data` (None -> null;
    _ABSENT -> no `data` key)."""

    def __init__(self, status, message, error=None, data=None):
        super().__init__(message)
        self.status, self.message = status, message
        self.error = error or EXCEPTION_NAMES.get(status, "HttpException")
        self.data = data


_ABSENT = object()


def _http_exception(status, message):
    """The registry controller's own errors: `new HttpException(string)` -> error HttpException, data null."""
    return ApiError(status, message, "HttpException", None)


def _nest_exception(status, message):
    """Nest's built-in exceptions (validation, guard, router): their response is an object, so no `data`."""
    return ApiError(status, message, EXCEPTION_NAMES.get(status, "HttpException"), _ABSENT)


class ServerDidNotStart(RuntimeError):
    """restart() left the server down (as the real-server launcher raises)."""


class RegistrationError(Exception):
    """A registry that SSM's update checker cannot register (its component throws); kind is the JS class."""

    def __init__(self, message, kind="Error"):
        super().__init__(message)
        self.kind = kind


class _Rows(dict):
    """The store: name -> row, in insertion order. Still a dict (`sb.rows['ghcr']`), and callable like the
    real-server launcher's `rows()`: a copy of every stored row, in order."""

    def __call__(self):
        return copy.deepcopy(list(self.values()))


class _Requests(list):
    """The request log: still a list (`sb.requests == [...]`), and callable like the launcher's `requests()`."""

    def __call__(self):
        return copy.deepcopy(list(self))


class Sandbox:
    """A local SSM. `version` picks the API (0.5: NestJS, /container-registries; 0.1: Express,
    /containers/registries, as v0.1.30 measured). `flavour` applies to 0.5 only:

    - "real" (default): v0.5.2 as measured, defects included: POST and PATCH write then answer 500 and do not
      reload the registries; PATCH keeps `auth`; `{"auth": {}}` is accepted.
    - "fixed": SSM with those defects fixed: POST and PATCH answer 200 and reload;
      PATCH removes `auth`; `{"auth": {}}` is refused (400 "auth should not be empty"); a registry that fails
      to register is logged and skipped instead of aborting the reload.

    In both flavours a name containing `/` is unreachable: SSM's proxy (nginx) decodes %2F, the server then
    sees two path segments (404 `Cannot PUT /container-registries/a/b`). That is the deployment, not an SSM
    defect, so "fixed" keeps it.
    """

    def __init__(self, api_key="sandbox-api-key", username="admin@example.com", password="sandbox-password",
                 legacy_rows=False, version="0.5", host="127.0.0.1", port=0, tls_cert=None, tls_key=None,
                 flavour="real"):
        if version not in ("0.5", "0.1"):
            raise ValueError("version must be '0.5' or '0.1'")
        if flavour not in FLAVOURS:
            raise ValueError("flavour must be 'real' or 'fixed'")
        self.api_key, self.username, self.password = api_key, username, password
        self.legacy_rows, self.version, self.flavour = legacy_rows, version, flavour
        self.host, self.port, self.tls_cert, self.tls_key = host, port, tls_cert, tls_key
        self.rows, self.requests = _Rows(), _Requests()
        self.url = self.server_url = None
        self.down = False  # the server exited at start-up: the proxy answers 502
        self._faults, self._sessions = [], set()
        self._log, self._registered = [], {}
        self._lock = threading.RLock()
        self._last_ts = datetime.min.replace(tzinfo=timezone.utc)
        self._server = self._thread = self._direct = None
        self.reset()

    @property
    def fixed(self):
        return self.version == "0.5" and self.flavour == "fixed"

    # ----- store ---------------------------------------------------------------------------
    def _now(self):
        """ISO timestamp like Mongo's JSON dates, strictly increasing so updatedAt always moves."""
        with self._lock:
            ts = max(datetime.now(timezone.utc), self._last_ts + timedelta(milliseconds=1))
            self._last_ts = ts
        return ts.isoformat(timespec="milliseconds").replace("+00:00", "Z")

    def _new_row(self, fields):
        """A row as mongoose's create() stores it (recorded): the fields in the schema's order, then `_id`;
        v0.5 adds timestamps (schema `timestamps: true, versionKey: false`), v0.1 `__v` and no timestamps.
        v0.5 drops empty objects (mongoose's `minimize`, recorded): PUT `{"auth": {}}` stores no `auth` key.
        A later POST that adds `auth` appends it at the end, as the database does."""
        fields = copy.deepcopy(fields)
        if self.version == "0.5":
            fields = _minimize(fields)
        row = {key: fields[key] for key in ROW_FIELDS[self.version] if key in fields}
        row["_id"] = secrets.token_hex(12)
        if self.version == "0.5":
            now = self._now()
            row.update({"createdAt": now, "updatedAt": now})
        else:
            row["__v"] = 0
        return row

    def _seed_row(self, name, full_name, anonymous, scheme):
        # the fields in the order SSM's addIfNotExists passes them
        fields = {"name": name}
        if full_name:
            fields["fullName"] = full_name
        fields.update({"provider": name, "authScheme": copy.deepcopy(scheme), "authSet": False,
                       "canAnonymous": anonymous, "canAuth": True})
        return self._new_row(fields)

    def reset(self):
        """A fresh database and a server just started: reseed the built-in rows (and legacy rows if enabled),
        clear the request log, the server log and the faults, then register as SSM does at start."""
        with self._lock:
            self.rows.clear()
            for name, (full_name, anonymous, scheme) in PROVIDERS.items():
                self.rows[name] = self._seed_row(name, full_name, anonymous, scheme)
            if self.legacy_rows:
                # rows of providers no current SSM knows, left by older versions (ssm-api.md); authSet false,
                # as on a v0.5 that runs: one with authSet true stops its registration and its next start
                self.rows["hotio"] = self._new_row({"name": "hotio", "provider": "hotio", "authScheme": [],
                                                    "authSet": False, "canAnonymous": True, "canAuth": False})
                self.rows["forjejo"] = self._new_row({
                    "name": "forjejo", "provider": "forjejo", "authScheme": copy.deepcopy(CUSTOM_SCHEME),
                    "auth": {"url": "https://git.example", "login": "old", "password": "legacy-secret-value"},
                    "authSet": False, "canAnonymous": False, "canAuth": True})
            self.requests.clear()
            self._faults.clear()
            self._log.clear()
            self.down = False
            try:
                self._reload(at_start=True)
            except RegistrationError:
                # A fresh sandbox always comes up: the start-up crash on a row that cannot register is
                # modelled by restart() only, so legacy rows do not take the whole sandbox down.
                pass

    def restart(self, check=True):
        """Restart SSM on the same database (sessions kept): it registers its registries again. On v0.5 (real
        flavour) a registry that fails to register at start makes the server exit (the rejection of its
        init() is unhandled): the sandbox is then down (the proxy answers 502) until reset() or a later
        restart(). Like the real-server launcher: True when up; when down, raises ServerDidNotStart, or
        returns False with check=False."""
        with self._lock:
            self._log.append("[sandbox] restart")
            try:
                self._reload(at_start=True)
                self.down = False
            except RegistrationError as exc:
                self.down = True
                if check:
                    raise ServerDidNotStart(f"SSM exited at start-up: {exc}") from exc
        return not self.down

    def upgrade(self, version="0.5", flavour="real", check=True):
        """Swap the server on the same database, as the real-server launcher's upgrade() does; measured from
        v0.1.30 to v0.5.2 (tests/realssm/FACTS.md, "Upgrade"): every row stays exactly as the old version stored
        it (v0.1's `__v: 0` and no timestamps, the `auth` its UI forms and its resets left), users and their API
        key stay (the v0.1 user's key works as v0.5's Bearer key); the new server registers its registries as at
        any start, then finds each built-in row present and adds none (`Registry <name> already exists`).
        requests() and the log start afresh. Like restart(): True when up; when down, raises
        ServerDidNotStart, or returns False with check=False."""
        if version not in ("0.5", "0.1") or flavour not in FLAVOURS:
            raise ValueError("version must be '0.5' or '0.1', flavour 'real' or 'fixed'")
        with self._lock:
            old = self.version
            self.version, self.flavour = version, flavour
            self.requests.clear()
            self._log.clear()
            self._log.append(f"[sandbox] upgrade {old} -> {version}")
            up = self.restart(check)
            if up and version == "0.5":
                self._log.extend(f"Registry {name} already exists" for name in PROVIDERS if name in self.rows)
            return up

    def insert_row(self, row):
        """Put a raw row straight into the store (as a database write would), replacing one of that name;
        only `_id` is added when missing. Returns the stored row."""
        row = copy.deepcopy(row)
        row.setdefault("_id", secrets.token_hex(12))
        with self._lock:
            self.rows[row["name"]] = row
        return copy.deepcopy(row)

    def db_rows(self):
        """The stored rows (the launcher reads them from the database; here they are the store)."""
        return self.rows()

    def clear_requests(self):
        with self._lock:
            self.requests.clear()

    def writes(self):
        with self._lock:
            return [dict(r) for r in self.requests
                    if r["method"] in WRITE_METHODS and r["path"].startswith(REGISTRY_PATHS)]

    # ----- registration: what SSM's update checker uses -------------------------------------
    def log(self, full=False):
        """The server's log lines about registries since the last reset(), as text (one line each). `full` is
        accepted for the real-server launcher's signature: the sandbox keeps restarts' lines anyway."""
        with self._lock:
            return "".join(line + "\n" for line in self._log)

    def log_tail(self, lines=40):
        return "\n".join(self.log().splitlines()[-lines:])

    def registering(self, full=False):
        """How many registries each reload registered, in order, counted as the real-server launcher counts
        them in the server's log: v0.5, N of each `Registering N registries` line (rows with authSet true, hub
        included); v0.1, the `Registering "<provider>/<name>" component...` lines after each
        `Configuration registered will be processed...`."""
        counts = []
        with self._lock:
            for line in self._log:
                if self.version == "0.5":
                    if line.startswith("Registering ") and line.endswith(" registries"):
                        counts.append(int(line.split()[1]))
                elif line == "Configuration registered will be processed...":
                    counts.append(0)
                elif counts and line.startswith('Registering "'):
                    counts[-1] += 1
        return counts

    def registered(self):
        """The credentials SSM's update checker uses, per registry name ({} = anonymous), as of the last
        reload."""
        with self._lock:
            return copy.deepcopy(self._registered)

    def _reload(self, at_start=False):
        """SSM's deregisterRegistries() + registerRegistries()."""
        if self.version == "0.1":
            return self._reload_v01()
        return self._reload_v05(at_start)

    def _reload_v05(self, at_start):
        # v0.5.2: an anonymous Docker Hub ("default-docker-hub") always, then every row with authSet true, in
        # database order. The count includes hub rows, which are then skipped: stored Docker Hub credentials
        # are never used (measured: ssm-api.md). A component that throws stops the loop and the error
        # propagates (out of init() at start, out of the PUT/DELETE handler otherwise).
        registered = {"hub": {}}
        setup = [row for row in self.rows.values() if row.get("authSet") is True]
        self._log.append(f"Registering {len(setup)} registries")
        failure = None
        for row in setup:
            provider, name = str(row.get("provider", "")), str(row.get("name", ""))
            if provider == "hub":
                continue
            try:
                _check_v05_component(provider, row.get("auth") or {})
            except RegistrationError as exc:
                self._log.append(f"Error when registering component {provider.lower()}/{name.lower()} ({exc})")
                if self.fixed:
                    continue
                failure = exc
                break
            registered[name] = copy.deepcopy(row.get("auth") or {})
        self._registered = registered
        if failure is not None:
            self._log.append(f"Some registries failed to register ({failure})")
            raise failure

    def _reload_v01(self):
        # v0.1.30: one slot per provider. The default anonymous registries first, then every row with authSet
        # true overrides its provider's slot, so only the last custom registry is ever registered. Each is
        # given {name, provider, ...auth}, which ghcr's, lscr's and gitlab's Joi schemas refuse.
        slots = {p: (p, p, {}, True) for p in V01_DEFAULTS}
        for row in self.rows.values():
            if row.get("authSet") is True:
                auth = row.get("auth") if isinstance(row.get("auth"), dict) else {}  # "" and null spread to nothing
                slots[row.get("provider")] = (row.get("name"), row.get("provider"), auth, False)
        self._log.append("Configuration registered will be processed...")
        registered = {}
        for name, provider, auth, default in slots.values():
            self._log.append(f'Registering "{provider}/{name}" component...')
            problem = _v01_problem(provider, auth, default)
            if problem:
                self._log.append(f"Error when registering component {provider}/{str(name).lower()} ({problem})")
                continue
            registered[name] = copy.deepcopy(auth)
        self._registered = registered

    # ----- faults ----------------------------------------------------------------------------
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
                                     "action": f.get("action", "status"),
                                     "status": int(f.get("status", 200 if f.get("action") == "html" else 503)),
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

    # ----- authentication --------------------------------------------------------------------
    def _cookie_session(self, headers):
        cookie = SimpleCookie()
        try:
            cookie.load(headers.get("Cookie", ""))
        except Exception:
            pass
        return "jwt" in cookie and cookie["jwt"].value in self._sessions

    def _new_session(self):
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._sessions.add(token)
        return token

    def handle_api(self, method, path, headers, raw):
        """Answer one /api request: returns (status, content_type or None, body bytes, extra headers)."""
        if self.version == "0.5":
            return self._handle_v05(method, path, headers, raw)
        return self._handle_v01(method, path, headers, raw)

    # ----- v0.5 (NestJS behind nginx) --------------------------------------------------------
    def _handle_v05(self, method, path, headers, raw):
        # nginx forwards /api/... to the server's root with the URI decoded (%2F becomes /) and re-escaped
        # only where a URI must be (space, %, ?, #, non-ASCII): the server's own view, also its `path` field.
        seen = _proxied(path[len("/api"):] or "/")

        def error(err):
            doc = {"success": False, "message": err.message, "error": err.error, "statusCode": err.status,
                   "timestamp": self._now(), "path": seen}
            if err.data is not _ABSENT:
                doc["data"] = err.data
            return _json_answer(err.status, doc)

        def success(status, data=_ABSENT, cookie=None):
            doc = {"success": True, "message": "Operation successful"}
            if data is not _ABSENT:
                doc["data"] = data
            return _json_answer(status, doc, cookie)

        try:
            try:
                body = json.loads(raw) if raw.strip() else {}
            except ValueError as exc:
                raise _nest_exception(400, f"Unexpected token in JSON at position {getattr(exc, 'pos', 0)}")
            body = body if isinstance(body, dict) else {}
            route = seen.split("?", 1)[0]
            target = route.rstrip("/") or "/"  # Express routing is not strict about a trailing /
            base = "/container-registries"
            parts = target[len(base) + 1:].split("/") if target.startswith(base + "/") else None
            if method == "POST" and target == "/users/login":
                return success(201, *self._login_v05(body))
            if method == "GET" and target == base:
                self._authenticate_v05(headers)
                with self._lock:
                    return success(200, {"registries": copy.deepcopy(list(self.rows.values()))})
            if method in WRITE_METHODS and parts is not None and len(parts) == 1:
                self._authenticate_v05(headers)
                return self._registry_write_v05(method, unquote(parts[0]), body, success)
            if method == "GET" and target.startswith("/containers/") and target.count("/") == 2:
                # the containers controller's GET /containers/:id (how a v0.1 path is told apart)
                self._authenticate_v05(headers)
                raise _nest_exception(404, f"Container with ID {unquote(target.rsplit('/', 1)[1])} not found")
            raise _nest_exception(404, f"Cannot {method} {route}")
        except ApiError as err:
            return error(err)

    def _authenticate_v05(self, headers):
        # SSM's global guard: the jwt cookie, or `Authorization: Bearer <api key>` (case-sensitive scheme).
        if not (self._cookie_session(headers) or headers.get("Authorization", "") == f"Bearer {self.api_key}"):
            raise _nest_exception(401, "Authentication failed")

    def _login_v05(self, body):
        msgs = []
        for field in ("username", "password"):  # LoginDto: @IsString() @IsNotEmpty()
            value = body.get(field)
            if value in (None, ""):
                msgs.append(f"{field} should not be empty")
            if not isinstance(value, str):
                msgs.append(f"{field} must be a string")
        if msgs:
            raise _nest_exception(400, msgs)
        if not (body.get("username") == self.username and body.get("password") == self.password):
            raise _nest_exception(401, "Identification is incorrect!")
        token = self._new_session()
        return {"currentAuthority": "admin"}, token

    def _validate_v05(self, body, need_scheme):
        """The DTOs (class-validator: auth @IsObject @IsNotEmpty, authScheme @IsNotEmpty). IsNotEmpty refuses
        only '', null and undefined, so `{"auth": {}}` passes on the real server; the fixed flavour refuses it."""
        msgs = []
        auth = body.get("auth")
        if auth in (None, "") or (self.fixed and auth == {}):
            msgs.append("auth should not be empty")
        if not isinstance(auth, dict):
            msgs.append("auth must be an object")
        if need_scheme and body.get("authScheme") in (None, ""):
            msgs.append("authScheme should not be empty")
        if msgs:
            raise _nest_exception(400, msgs)

    def _registry_write_v05(self, method, name, body, success):
        with self._lock:
            if method in ("POST", "PUT"):  # the validation pipe runs before the handler looks the name up
                self._validate_v05(body, need_scheme=method == "PUT")
            row = self.rows.get(name)
            if method == "PUT":
                if row is not None:
                    raise _http_exception(400, f"Registry already exist with same name: ({name})")
                self.rows[name] = self._new_row({"name": name, "auth": body["auth"], "authSet": True,
                                                 "provider": "custom", "canAnonymous": False, "canAuth": True,
                                                 "authScheme": body["authScheme"]})
                self._reload_or_500()
                return success(200)
            if row is None:
                raise _http_exception(404, f"Registry not found ({name})")
            if method == "DELETE":
                if row.get("provider") != "custom":
                    raise _http_exception(403, f"Cannot delete non-custom registry provider ({name})")
                del self.rows[name]
                self._reload_or_500()
                return success(200)
            if method == "POST":
                row["auth"] = copy.deepcopy(body["auth"])  # $set: the whole auth is replaced, {} included
                row["authSet"] = True
            else:  # PATCH
                if self.fixed:
                    row.pop("auth", None)
                # real: `auth: undefined` is dropped from the $set by mongoose, the old auth stays
                row["authSet"] = False
            if "updatedAt" in row:
                row["updatedAt"] = self._now()
            if not self.fixed:
                # the re-read with .populate('device') throws after the write: 500, and the reload that
                # would follow never runs
                raise ApiError(500, POPULATE_MESSAGE, "InternalServerException", {"stack": POPULATE_STACK})
            self._reload_or_500()
            # 200 as the brief for this flavour asks; note that NestJS answers an un-annotated @Post with 201
            # (the login's 201 shows it), so an SSM with this bug fixed would likely answer 201
            return success(200)

    def _reload_or_500(self):
        """After a write that reloads: a registry that throws while registering makes the handler fail
        (read from SSM's code: the error propagates out of the service), after the write."""
        try:
            self._reload()
        except RegistrationError as exc:
            raise ApiError(500, str(exc), "InternalServerException",
                           {"stack": f"{exc.kind}: {exc}\n    at WatcherEngineService.registerComponent "
                                     f"(/opt/squirrelserversmanager/server/dist/src/modules/containers/"
                                     f"application/services/engine/watcher-engine.service.js:120:23)"})

    # ----- v0.1 (Express) ----------------------------------------------------------------------
    def _handle_v01(self, method, path, headers, raw):
        # the proxy forwards /api/... to the server's root, as for v0.5 (recorded: the 404 page names the path
        # without /api, and a %2F arrives decoded)
        seen = _proxied(path[len("/api"):] or "/")

        def doc_answer(status, doc, cookie=None):
            return _json_answer(status, doc, cookie)

        def not_found():
            page = ('<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>Error</title>\n'
                    f'</head>\n<body>\n<pre>Cannot {html.escape(method)} {html.escape(seen)}</pre>\n</body>\n</html>\n')
            return 404, "text/html; charset=utf-8", page.encode(), {}

        try:
            body = json.loads(raw) if raw.strip() else {}
        except ValueError:
            body = {}
        body = body if isinstance(body, dict) else {}
        target = seen.rstrip("/") or "/"
        base = "/containers/registries"
        if method == "POST" and target == "/users/login":
            username, password = body.get("username"), body.get("password")
            if not username or not password:
                return doc_answer(401, {"data": {"isLogin": False}, "errorCode": "401",
                                        "errorMessage": "Identification is incorrect！", "success": True})
            if username != self.username or password != self.password:
                return doc_answer(401, {"success": False, "message": "Identification is incorrect！"})
            return doc_answer(200, {"success": True, "message": "Login success",
                                    "data": {"currentAuthority": "admin"}}, cookie=self._new_session())
        if not self._cookie_session(headers):
            # passport, before routing, for every path; the API key is not a strategy there. No Content-Type.
            return 401, None, b"Unauthorized", {}
        if method == "GET" and target == base:
            with self._lock:
                return doc_answer(200, {"success": True, "message": "Get registries",
                                        "data": {"registries": copy.deepcopy(list(self.rows.values()))}})
        rest = target[len(base) + 1:] if target.startswith(base + "/") else None
        if method not in WRITE_METHODS or not rest or "/" in rest:
            return not_found()
        name = unquote(rest)
        with self._lock:
            # express-validator: body('auth').exists() (and authScheme for PUT), before the handler: only a
            # missing key is refused; null, "" and {} pass (recorded)
            missing = ["Invalid value" for field in (("auth", "authScheme") if method == "PUT" else ("auth",))
                       if method in ("POST", "PUT") and field not in body]
            if missing:
                return doc_answer(400, {"success": False, "message": missing})
            row = self.rows.get(name)
            if method == "PUT":
                if row is not None:
                    return doc_answer(400, {"success": False,
                                            "message": f"Registry already exist with same name: ({name})"})
                self.rows[name] = self._new_row({"name": name, "auth": body["auth"], "authSet": True,
                                                 "provider": "custom", "canAnonymous": False, "canAuth": True,
                                                 "authScheme": body["authScheme"]})
                self._reload()
                return doc_answer(200, {"success": True, "message": "Get registries", "data": {}})
            if row is None:
                return doc_answer(404, {"success": False, "message": f"Registry not found ({name})"})
            if method == "DELETE":
                if row.get("provider") != "custom":
                    return doc_answer(403, {"success": False,
                                            "message": "You cannot delete a non custom registry provider"})
                del self.rows[name]  # v0.1's removeRegistry does not reload
                return doc_answer(200, {"success": True, "message": "Remove registry", "data": {}})
            if method == "POST":
                row["auth"] = copy.deepcopy(body["auth"])
                row["authSet"] = True
                self._reload()
                return doc_answer(200, {"success": True, "message": "Get registries", "data": {}})
            row["authSet"] = False  # PATCH: `auth = undefined` is not written, the old auth stays (measured)
            self._reload()
            return doc_answer(200, {"success": True, "message": "Reset registry", "data": {}})

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
        # SSM's server behind the proxy, on its own port (3000 in SSM's compose file), as the launcher's server_url
        self._direct = server_cls((self.host, 0), _Handler)
        self._direct.sandbox, self._direct.direct = self, True
        direct = self._direct.server_address[1]
        self.server_url = f"http://[{host}]:{direct}" if ":" in host else f"http://{host}:{direct}"
        threading.Thread(target=self._direct.serve_forever, kwargs={"poll_interval": 0.1}, name="ssm-sandbox-server",
                         daemon=True).start()
        return self

    def stop(self):
        if self._direct is not None:
            self._direct.shutdown()
            self._direct.server_close()
            self._direct.close_all()
            self._direct = None
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


def _json_answer(status, doc, cookie=None):
    extra = {"Set-Cookie": f"jwt={cookie}; Path=/; HttpOnly"} if cookie else {}
    return status, "application/json; charset=utf-8", json.dumps(doc).encode(), extra


# nginx re-escapes, in the URI it passes on, only what a URI cannot carry raw
_NGINX_SAFE = "".join(chr(c) for c in range(0x21, 0x7f) if chr(c) not in "%?#")


def _proxied(route):
    return quote(unquote(route), safe=_NGINX_SAFE)


def _minimize(value):
    """mongoose's minimize: empty objects are not stored (recursively)."""
    if isinstance(value, dict):
        out = {}
        for key, inner in value.items():
            inner = _minimize(inner)
            if not (isinstance(inner, dict) and not inner):
                out[key] = inner
        return out
    return value


def _v01_problem(provider, auth, default):
    """Why v0.1.30 fails to register a registry, or None: its Joi validation of {name, provider, ...auth} (see
    V01_SCHEMAS). The default anonymous registries get {} and always register."""
    if default:
        return None
    if provider not in REGISTRY_PROVIDERS:
        return f"Unknown kind/provider: registry/{provider}"
    allowed, required = V01_SCHEMAS[provider]
    config = dict({"name": "-", "provider": provider}, **auth)
    for key in allowed:
        value = config.get(key)
        if allowed is _URL_LOGIN and key in ("login", "password", "auth"):
            # login and password go together (each forbidden without the other); auth is forbidden beside a login
            # and may be "" without one.
            partner = config.get("password" if key == "login" else "login")
            if key == "auth":
                if value is not None and config.get("login") is not None:
                    return f'"{key}" is not allowed'
                continue
            if value is not None and partner is None:
                return f'"{key}" is not allowed'
            if value is None and partner is not None:
                return f'"{key}" is required'
        if value is None:
            if key in required:
                return f'"{key}" is required'
            continue
        if value == "":
            return f'"{key}" is not allowed to be empty'
    for key in config:
        if key not in allowed:
            return f'"{key}" is not allowed'
    return None


def _check_v05_component(provider, auth):
    """The part of v0.5.2's registerComponent() that can throw for a stored row (read from SSM's code): an
    unknown provider, and the init() of gitea/forgejo and custom, which call string methods on `url`."""
    if provider.lower() not in REGISTRY_PROVIDERS:
        raise RegistrationError(f"Unknown registry provider: {provider.lower()}", "Error")
    url = auth.get("url") if isinstance(auth, dict) else None
    if url and not isinstance(url, str):
        if provider.lower() in ("gitea", "forgejo"):
            raise RegistrationError("this.configuration.url?.toLowerCase is not a function", "TypeError")
        if provider.lower() == "custom":
            raise RegistrationError("this.configuration.url.replace is not a function", "TypeError")


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
        if ctype:  # v0.1's 401 has none
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
        if getattr(self.server, "direct", False):
            # SSM's server on its own port: the path reaches it as sent, /api included (the proxy removes it)
            path = "/api" + path
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
        if sb.down:  # SSM exited at start-up: its proxy answers alone
            fault, action = None, None
            answer = (502, "text/html", BAD_GATEWAY_HTML, {})
        elif fault is None or action == "delay" or fault["apply_then_fail"]:
            answer = sb.handle_api(method, path, self.headers, raw)
        if action == "drop":
            answer, self.close_connection = None, True
        elif action == "html":  # the web client's page, or with a status a proxy's own page (its login, 401)
            answer = (fault["status"], "text/html; charset=utf-8", WEB_CLIENT_HTML, {})
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
        if path == "/_sandbox/registered" and method == "GET":
            return self._send(200, "application/json", sb.registered())
        if path == "/_sandbox/log" and method == "GET":
            return self._send(200, "text/plain; charset=utf-8", sb.log().encode())
        if path == "/_sandbox/restart" and method == "POST":
            return self._send(200, "application/json", {"ok": sb.restart(check=False)})
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
    p.add_argument("--flavour", choices=FLAVOURS, default="real",
                   help="v0.5 only: 'real' reproduces v0.5.2 with its defects, 'fixed' has them fixed")
    p.add_argument("--url-file")
    p.add_argument("--tls-cert")
    p.add_argument("--tls-key")
    p.add_argument("--announce", action="store_true",
                   help="print the URL, API key, username, password and the export line to paste (make sandbox)")
    args = p.parse_args(argv)
    if bool(args.tls_cert) != bool(args.tls_key):
        p.error("--tls-cert and --tls-key go together")
    sb = Sandbox(api_key=args.api_key, username=args.username, password=args.password,
                 legacy_rows=args.legacy_rows, version=args.version, host=args.host, port=args.port,
                 tls_cert=args.tls_cert, tls_key=args.tls_key, flavour=args.flavour).start()
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    if args.url_file:
        with open(args.url_file, "w", encoding="utf-8") as fh:
            fh.write(sb.url + "\n")
    print(f"SSM sandbox listening on {sb.url}", flush=True)
    if args.announce:
        login = "API key" if args.version == "0.5" else "no API key on v0.1: log in with"
        print(f"  SSM version  {args.version}" + (f" ({args.flavour})" if args.version == "0.5" else ""))
        print(f"  URL          {sb.url}")
        print(f"  API key      {args.api_key}" + ("" if args.version == "0.5" else f" ({login} the user)"))
        print(f"  username     {args.username}")
        print(f"  password     {args.password}")
        # What ansible-playbook needs besides the connection: the collection `make build` installs, and the
        # .venv's ansible (make runs this with the system Python, so the paths come from the checkout).
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        tools = (f" ANSIBLE_COLLECTIONS_PATH={shlex.quote(os.path.join(root, 'build', 'collections'))}"
                 f" PATH={shlex.quote(os.path.join(root, '.venv', 'bin'))}:\"$PATH\"")
        print("Paste into another shell (after `make build`); ansible-playbook then finds the collection:")
        if args.version == "0.5":
            print(f"  export SSM_URL={sb.url} SSM_API_KEY={args.api_key}{tools}")
        else:
            print(f"  export SSM_URL={sb.url} SSM_USERNAME={args.username} SSM_PASSWORD={args.password}{tools}")
        print("Ctrl-C stops it; everything it stores is lost.", flush=True)
    while not stop.wait(0.5):
        pass
    sb.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
