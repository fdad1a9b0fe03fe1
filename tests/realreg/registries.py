"""Real registries and auth servers on 127.0.0.1 for the credential-check tests.

* Debian's docker-registry (distribution 2.8) in two processes: htpasswd
  (Basic) and token mode.  The token server is written here: it signs JWTs
  with a self-signed certificate (sent as ``x5c``) that the registry trusts
  through its ``rootcertbundle``; it answers 401 to bad credentials and hands
  ANONYMOUS tokens to requests without credentials, as distribution, Gitea,
  GitLab and ghcr do, so the tests can prove those are not taken as success.
  It also checks ``_json_key`` (GCR) logins and is the OAuth token endpoint
  google-auth talks to for GCR service-account keys.
* moto's server with IAM enforcement, for ECR.
* A TLS server (trustme CA) playing both Azure AD and an ACR login server.

All key material is generated at run time; nothing secret is in the repo.
"""

import base64
import datetime
import json
import os
import secrets
import shutil
import socket
import ssl
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

REGISTRY_BIN = shutil.which("docker-registry") or "/usr/bin/docker-registry"
LOOPBACK = "127.0.0.1"


def free_port():
    """A loopback port nobody listens on (closed again at once)."""
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def new_rsa_key():
    from cryptography.hazmat.primitives.asymmetric import rsa
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def pem_of(key):
    from cryptography.hazmat.primitives import serialization
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def self_signed_cert(key, name):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))


# ---------------------------------------------------------------------------
# A tiny HTTP(S) server whose routes are methods; it records every request.
# ---------------------------------------------------------------------------

class Request:
    def __init__(self, handler, body):
        parts = urlsplit(handler.path)
        self.method = handler.command
        self.path = parts.path
        self.query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        self.headers = dict(handler.headers.items())
        self.form = {k: v[-1] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
        self.basic = None
        auth = handler.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            try:
                user, password = base64.b64decode(auth[6:]).decode().split(":", 1)
                self.basic = (user, password)
            except ValueError:
                self.basic = ("", "")


class AuthServer:
    """Serves `self.route(request) -> (status, json_body, headers)` in a thread."""

    def __init__(self, ssl_context=None):
        self.requests = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                req = Request(self, body)
                outer.requests.append(req)
                status, payload, headers = outer.route(req)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _serve

            def log_message(self, *args):  # keep pytest output clean
                pass

        self.httpd = ThreadingHTTPServer((LOOPBACK, 0), Handler)
        self.httpd.daemon_threads = True
        if ssl_context is not None:
            self.httpd.socket = ssl_context.wrap_socket(self.httpd.socket, server_side=True)
        scheme = "https" if ssl_context else "http"
        self.url = f"{scheme}://{LOOPBACK}:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def route(self, req):  # pragma: no cover - overridden
        return 404, {"error": "not found"}, None

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class TokenServer(AuthServer):
    """Docker token server (/token) and Google OAuth token endpoint (/google/token)."""

    issuer = "squirrel-test-issuer"
    service = "squirrel-test-registry"

    def __init__(self, workdir):
        import jwt  # PyJWT, test-only
        self.jwt = jwt
        self.users = {}        # docker login user -> password
        self.gcr_keys = {}     # service-account e-mail -> public key
        self.key = new_rsa_key()
        cert = self_signed_cert(self.key, "squirrel test token signer")
        from cryptography.hazmat.primitives import serialization
        self.bundle = os.path.join(workdir, "token-bundle.pem")
        with open(self.bundle, "wb") as handle:
            handle.write(cert.public_bytes(serialization.Encoding.PEM))
        # distribution takes the signing key from x5c: standard base64 DER.
        self.x5c = [base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()]
        super().__init__()
        # The realm carries a query with a comma: the client must parse the
        # quoted WWW-Authenticate value properly and keep it.
        self.realm = f"{self.url}/token?tenant=a,b"
        self.google_token_uri = f"{self.url}/google/token"

    def issue(self, subject):
        now = int(time.time())
        claims = {"iss": self.issuer, "sub": subject, "aud": self.service, "exp": now + 300, "nbf": now - 10,
                  "iat": now, "jti": secrets.token_hex(8), "access": []}
        return self.jwt.encode(claims, self.key, algorithm="RS256", headers={"x5c": self.x5c})

    def _gcr_key_ok(self, password):
        from cryptography.hazmat.primitives import serialization
        try:
            info = json.loads(password)
            public = self.gcr_keys[info["client_email"]]
            given = serialization.load_pem_private_key(info["private_key"].encode(), None).public_key()
        except (ValueError, KeyError, TypeError):
            return False
        return given.public_numbers() == public.public_numbers()

    def route(self, req):
        if req.path == "/token":
            if req.basic is None:
                # Like the real ones: anyone gets an anonymous token.
                return 200, {"token": self.issue(""), "expires_in": 300}, None
            user, password = req.basic
            good = self._gcr_key_ok(password) if user == "_json_key" else (
                user in self.users and self.users[user] == password)
            if not good:
                return 401, {"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]}, None
            token = self.issue(user)
            return 200, {"token": token, "access_token": token, "expires_in": 300}, None
        if req.path == "/google/token" and req.method == "POST":
            return self._google_token(req)
        return 404, {"error": "not found"}, None

    def _google_token(self, req):
        invalid = (400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}, None)
        try:
            claims = self.jwt.decode(req.form["assertion"], options={"verify_signature": False})
            public = self.gcr_keys[claims["iss"]]
            # google-auth always signs for Google's own endpoint as audience.
            self.jwt.decode(req.form["assertion"], public, algorithms=["RS256"],
                            audience="https://oauth2.googleapis.com/token")
        except (KeyError, self.jwt.PyJWTError):
            return invalid
        return 200, {"access_token": "ya29." + secrets.token_urlsafe(16), "expires_in": 3600,
                     "token_type": "Bearer"}, None


class AzureServer(AuthServer):
    """Azure AD authority (OpenID document + v2 token endpoint) and ACR login server."""

    def __init__(self, ssl_context, tenant, clients):
        self.tenant = tenant
        self.clients = clients          # client id -> secret
        self.aad_tokens = set()
        super().__init__(ssl_context)

    def route(self, req):
        base = f"{self.url}/{self.tenant}"
        if req.path == f"/{self.tenant}/v2.0/.well-known/openid-configuration":
            return 200, {"issuer": f"{base}/v2.0", "token_endpoint": f"{base}/oauth2/v2.0/token",
                         "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                         "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode"}, None
        if req.path == f"/{self.tenant}/oauth2/v2.0/token":
            if self.clients.get(req.form.get("client_id")) != req.form.get("client_secret"):
                return 401, {"error": "invalid_client", "error_codes": [7000215],
                             "error_description": "AADSTS7000215: Invalid client secret provided."}, None
            token = "aad." + secrets.token_urlsafe(16)
            self.aad_tokens.add(token)
            return 200, {"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599,
                         "access_token": token}, None
        if req.path == "/oauth2/exchange" and req.method == "POST":
            if req.form.get("access_token") in self.aad_tokens and req.form.get("tenant") == self.tenant:
                return 200, {"refresh_token": "acr-refresh." + secrets.token_urlsafe(16)}, None
            return 401, {"errors": [{"code": "UNAUTHORIZED", "message": "invalid token"}]}, None
        if req.path == "/oauth2/token":
            if req.basic and self.clients.get(req.basic[0]) == req.basic[1]:
                return 200, {"access_token": "acr-access." + secrets.token_urlsafe(16)}, None
            return 401, {"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]}, None
        return 404, {"error": "not found"}, None


# ---------------------------------------------------------------------------
# docker-registry processes
# ---------------------------------------------------------------------------

class Registry:
    """One `docker-registry serve` process on a free loopback port."""

    def __init__(self, workdir, name, auth):
        self.dir = os.path.join(workdir, name)
        os.makedirs(self.dir, exist_ok=True)
        self.port = free_port()
        self.url = f"http://{LOOPBACK}:{self.port}"
        self.config = os.path.join(self.dir, "config.yml")
        config = {"version": 0.1, "log": {"level": "error", "accesslog": {"disabled": True}},
                  "storage": {"filesystem": {"rootdirectory": os.path.join(self.dir, "data")}},
                  "http": {"addr": f"{LOOPBACK}:{self.port}", "secret": secrets.token_hex(16)}}
        if auth:
            config["auth"] = auth
        with open(self.config, "w", encoding="utf-8") as handle:
            json.dump(config, handle)  # JSON is YAML
        self.proc = None
        self.log = os.path.join(self.dir, "registry.log")

    def start(self):
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen([REGISTRY_BIN, "serve", self.config], stdout=log, stderr=log)
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"docker-registry exited: {self._log_tail()}")
            try:
                requests.get(self.url + "/v2/", timeout=1)
                return self
            except requests.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError(f"docker-registry did not answer on {self.url}: {self._log_tail()}")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def restart(self):
        self.stop()
        self.start()

    def _log_tail(self):
        with open(self.log, "rb") as handle:
            return handle.read()[-2000:].decode("utf-8", "replace")


class HtpasswdRegistry(Registry):
    """Basic auth from an htpasswd file (bcrypt entries only in distribution)."""

    def __init__(self, workdir, users):
        self.users = dict(users)
        path = os.path.join(workdir, "htpasswd", "htpasswd")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        self.htpasswd = path
        self._write()
        super().__init__(workdir, "htpasswd", {"htpasswd": {"realm": "squirrel-test", "path": path}})

    def _write(self):
        import bcrypt
        with open(self.htpasswd, "w", encoding="utf-8") as handle:
            for user, password in self.users.items():
                # Cost 4 (the minimum) keeps the test fast; $2b$ is accepted.
                hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()
                handle.write(f"{user}:{hashed}\n")

    def set_password(self, user, password):
        """Rotate a password.  distribution 2.8.2 re-reads the htpasswd file
        when its mtime changes (seen on each request); should a build not,
        the process is restarted on the same port."""
        self.users[user] = password
        self._write()
        deadline = time.time() + 2
        while time.time() < deadline:
            if requests.get(self.url + "/v2/", auth=(user, password), timeout=2).status_code == 200:
                return
            time.sleep(0.1)
        self.restart()


def _need_registry_binary():
    if not os.access(REGISTRY_BIN, os.X_OK):
        pytest.skip(f"{REGISTRY_BIN} not found: install the Debian package docker-registry "
                    "(tests/realreg/apt-packages.txt)")


# ---------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------

# Users known to both registries.  Values are generated per run; tests read
# them from here.
USERS = {
    "alice": "alice-" + secrets.token_hex(8),
    "rotor": "rotor-" + secrets.token_hex(8),
    "octocat": "ghp_" + secrets.token_hex(12),       # ghcr/lscr style
    "myorg+robot": "quay-" + secrets.token_hex(12),  # quay robot account
    "": "glpat-" + secrets.token_hex(10),            # gitlab: empty user, token only
}


@pytest.fixture(scope="session")
def workdir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("realreg"))


@pytest.fixture(scope="session")
def token_server(workdir):
    server = TokenServer(workdir)
    server.users.update(USERS)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def basic_registry(workdir):
    _need_registry_binary()
    registry = HtpasswdRegistry(workdir, {u: p for u, p in USERS.items() if u and "+" not in u}).start()
    yield registry
    registry.stop()


@pytest.fixture(scope="session")
def token_registry(workdir, token_server):
    _need_registry_binary()
    registry = Registry(workdir, "token", {"token": {
        "realm": token_server.realm, "service": token_server.service,
        "issuer": token_server.issuer, "rootcertbundle": token_server.bundle}}).start()
    yield registry
    registry.stop()


@pytest.fixture(scope="session")
def open_registry(workdir):
    _need_registry_binary()
    registry = Registry(workdir, "open", None).start()
    yield registry
    registry.stop()


@pytest.fixture(scope="session")
def gcr_account(token_server):
    """A service-account key pair known to the token server (both routes)."""
    key = new_rsa_key()
    email = "ssm-puller@squirrel-test.iam.gserviceaccount.com"
    token_server.gcr_keys[email] = key.public_key()
    return {"clientemail": email, "privatekey": pem_of(key)}


@pytest.fixture(scope="session")
def aws_iam():
    """moto server enforcing IAM after the 3 set-up calls below.

    The count must be in the environment before moto is imported (moto reads
    it into its settings at import time)."""
    os.environ["INITIAL_NO_AUTH_ACTION_COUNT"] = "3"
    boto3 = pytest.importorskip("boto3")
    from moto import settings
    from moto.server import ThreadedMotoServer
    from moto.core.authorization import ActionAuthenticatorMixin
    # moto counts actions for the whole process: a second server in the same process (the fixture is
    # registered by two test packages) must get its own 3 set-up calls on top of what was counted so far.
    settings.INITIAL_NO_AUTH_ACTION_COUNT = ActionAuthenticatorMixin.request_count + 3
    port = free_port()
    server = ThreadedMotoServer(ip_address=LOOPBACK, port=port, verbose=False)
    server.start()
    endpoint = f"http://{LOOPBACK}:{port}"
    iam = boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1",
                       aws_access_key_id="bootstrap", aws_secret_access_key="bootstrap")
    user = "ssm-ecr-" + secrets.token_hex(4)  # moto's backends, too, are shared by the whole process
    iam.create_user(UserName=user)
    iam.put_user_policy(UserName=user, PolicyName="pull", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"}]}))
    key = iam.create_access_key(UserName=user)["AccessKey"]
    yield {"endpoint": endpoint, "accesskeyid": key["AccessKeyId"], "secretaccesskey": key["SecretAccessKey"],
           "region": "eu-west-1"}
    server.stop()


@pytest.fixture(scope="session")
def azure(workdir):
    """TLS server trusted through a test CA: Azure AD authority + ACR login server."""
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(LOOPBACK, "localhost").configure_cert(ctx)
    ca_path = os.path.join(workdir, "azure-ca.pem")
    ca.cert_pem.write_to_path(ca_path)
    client = {"clientid": "00000000-0000-4000-8000-00000000abcd", "clientsecret": "acr~" + secrets.token_hex(12)}
    server = AzureServer(ctx, "11111111-2222-4333-8444-555555555555", {client["clientid"]: client["clientsecret"]})
    yield {"server": server, "url": server.url, "ca_path": ca_path, "tenant": server.tenant, **client}
    server.stop()
