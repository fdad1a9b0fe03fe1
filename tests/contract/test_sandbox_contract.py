"""Contract tests: the SSM sandbox answers as ssm-api.md says SSM does.

Run from the repository root: python -m pytest tests/contract -q
"""
import http.client
import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource

from tests.sandbox.ssm_sandbox import CUSTOM_SCHEME, Sandbox

KEY, USER, PW = "contract-key", "admin@example.com", "contract-pw"
BUILTINS = ["ecr", "ghcr", "gcr", "hub", "quay", "acr", "gitea", "forgejo", "lscr", "gitlab"]
ANONYMOUS = {"ecr", "ghcr", "gcr", "hub", "quay"}
REGISTRIES = "/container-registries"
SANDBOX_SCRIPT = Path(__file__).resolve().parents[1] / "sandbox" / "ssm_sandbox.py"

# ----- schemas -----------------------------------------------------------------------------
_SCHEMA_DIR = Path(__file__).parent / "schemas"
_SCHEMAS = {p.stem: json.loads(p.read_text()) for p in _SCHEMA_DIR.glob("*.json")}
_REGISTRY = Registry().with_resources((s["$id"], Resource.from_contents(s)) for s in _SCHEMAS.values())


def check(schema, doc):
    Draft202012Validator(_SCHEMAS[schema], registry=_REGISTRY).validate(doc)
    return doc


# ----- fixtures and helpers ----------------------------------------------------------------
@pytest.fixture(scope="module")
def server():
    sb = Sandbox(api_key=KEY, username=USER, password=PW).start()
    yield sb
    sb.stop()


@pytest.fixture
def sb(server):
    server.reset()
    return server


def api(sb, method, path, key=KEY, **kw):
    headers = kw.pop("headers", {})
    if key:
        headers["Authorization"] = f"Bearer {key}"
    return requests.request(method, sb.url + "/api" + path, headers=headers, timeout=10, **kw)


def rows(sb, key=KEY):
    r = api(sb, "GET", REGISTRIES, key=key)
    assert r.status_code == 200, r.text
    return {row["name"]: row for row in check("registry-list", r.json())["data"]["registries"]}


def ok_write(r):
    assert r.status_code == 200, r.text
    body = check("success-envelope", r.json())
    assert "data" not in body
    return body


def error(r, status, message, exception, path):
    assert r.status_code == status, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    body = check("error-envelope", r.json())
    assert body["message"] == message
    assert body["error"] == exception
    assert body["statusCode"] == status
    assert body["path"] == path
    return body


def login(sb, username=USER, password=PW):
    s = requests.Session()
    r = s.post(sb.url + "/api/users/login", json={"username": username, "password": password}, timeout=10)
    return s, r


# ----- the schemas themselves can fail --------------------------------------------------------
@pytest.mark.parametrize("schema,doc", [
    ("success-envelope", {"success": True, "message": "OK"}),
    ("success-envelope", {"success": False, "message": "Operation successful"}),
    ("error-envelope", {"success": False, "message": [], "error": "NotFoundException", "statusCode": 404,
                        "timestamp": "2024-01-01T00:00:00.000Z", "path": "/x", "data": None}),
    ("error-envelope", {"success": False, "message": "x", "error": "Not Found", "statusCode": 404,
                        "timestamp": "2024-01-01T00:00:00.000Z", "path": "/x", "data": None}),
    ("registry-row", {"_id": "abc", "name": "x", "provider": "custom", "authScheme": [], "authSet": False,
                      "canAuth": True, "canAnonymous": False, "createdAt": "2024-01-01T00:00:00.000Z",
                      "updatedAt": "2024-01-01T00:00:00.000Z"}),
    ("registry-row", {"_id": "a" * 24, "name": "x", "provider": "custom", "authScheme": [], "authSet": True,
                      "canAuth": True, "canAnonymous": False, "createdAt": "2024-01-01T00:00:00.000Z",
                      "updatedAt": "2024-01-01T00:00:00.000Z"}),
    ("registry-list", {"success": True, "message": "Operation successful", "data": {"registries": [{}]}}),
])
def test_schemas_reject_wrong_shapes(schema, doc):
    with pytest.raises(ValidationError):
        check(schema, doc)


# ----- authentication ----------------------------------------------------------------------
@pytest.mark.parametrize("key", [None, "wrong-key"])
def test_list_needs_a_valid_key(sb, key):
    error(api(sb, "GET", REGISTRIES, key=key), 401, "Unauthorized", "UnauthorizedException", REGISTRIES)


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_writes_need_a_valid_key(sb, method):
    r = api(sb, method, REGISTRIES + "/ghcr", key="nope", json={"auth": {"username": "u", "token": "t"}})
    error(r, 401, "Unauthorized", "UnauthorizedException", REGISTRIES + "/ghcr")
    assert "auth" not in sb.rows["ghcr"]


def test_auth_is_checked_before_validation(sb):
    error(api(sb, "POST", REGISTRIES + "/ghcr", key=None, json={}), 401, "Unauthorized",
          "UnauthorizedException", REGISTRIES + "/ghcr")


def test_login_sets_a_jwt_cookie_that_authenticates(sb):
    s, r = login(sb)
    assert r.status_code == 200
    check("success-envelope", r.json())
    cookie = r.headers["Set-Cookie"]
    assert cookie.startswith("jwt=") and "Path=/" in cookie and "HttpOnly" in cookie
    token = s.cookies.get("jwt")
    assert token and len(token) >= 16
    assert s.get(sb.url + "/api" + REGISTRIES, timeout=10).status_code == 200
    ok_write(s.post(sb.url + "/api" + REGISTRIES + "/ghcr", json={"auth": {"username": "u", "token": "t"}}))
    assert sb.rows["ghcr"]["auth"] == {"username": "u", "token": "t"}
    again = login(sb)[1]
    assert again.cookies.get("jwt") != token  # a fresh random token per login


def test_forged_cookie_is_refused(sb):
    r = requests.get(sb.url + "/api" + REGISTRIES, cookies={"jwt": "forged"}, timeout=10)
    error(r, 401, "Unauthorized", "UnauthorizedException", REGISTRIES)


@pytest.mark.parametrize("username,password", [(USER, "bad"), ("other@example.com", PW), ("", "")])
def test_wrong_login(sb, username, password):
    s, r = login(sb, username, password)
    error(r, 401, "Identification is incorrect!", "UnauthorizedException", "/users/login")
    assert "Set-Cookie" not in r.headers
    assert s.get(sb.url + "/api" + REGISTRIES, timeout=10).status_code == 401


# ----- GET list ----------------------------------------------------------------------------
def test_seeded_builtin_rows(sb):
    got = rows(sb)
    assert list(got) == BUILTINS
    ids = set()
    for name, row in got.items():
        assert row["provider"] == name
        assert row["authSet"] is False and "auth" not in row
        assert row["canAuth"] is True
        assert row["canAnonymous"] is (name in ANONYMOUS)
        assert row["fullName"] and row["authScheme"]
        ids.add(row["_id"])
    assert len(ids) == len(BUILTINS)
    assert got["ecr"]["fullName"] == "Amazon Elastic Container Registry"


def test_list_returns_auth_in_clear(sb):
    ok_write(api(sb, "POST", REGISTRIES + "/quay", json={"auth": {"namespace": "n", "account": "a", "token": "s3cr3t"}}))
    assert rows(sb)["quay"]["auth"] == {"namespace": "n", "account": "a", "token": "s3cr3t"}


# ----- POST update -------------------------------------------------------------------------
def test_update_replaces_whole_auth_and_moves_updated_at(sb):
    before = rows(sb)["ghcr"]
    ok_write(api(sb, "POST", REGISTRIES + "/ghcr", json={"auth": {"username": "u", "token": "t"}, "provider": "x",
                                                         "canAnonymous": False, "junk": 1}))
    ok_write(api(sb, "POST", REGISTRIES + "/ghcr", json={"auth": {"token": "t2"}}))
    after = rows(sb)["ghcr"]
    assert after["auth"] == {"token": "t2"}
    assert after["authSet"] is True
    assert after["provider"] == "ghcr" and after["canAnonymous"] is True and "junk" not in after
    assert after["_id"] == before["_id"] and after["createdAt"] == before["createdAt"]
    assert after["updatedAt"] > before["updatedAt"]


def test_update_stores_any_auth_contents(sb):
    # the server does not validate auth: a wrong key name is stored and answered 200
    ok_write(api(sb, "POST", REGISTRIES + "/ecr", json={"auth": {"accesskey": "AK", "n": 1}}))
    assert sb.rows["ecr"]["auth"] == {"accesskey": "AK", "n": 1}


def test_update_unknown_registry(sb):
    error(api(sb, "POST", REGISTRIES + "/nope", json={"auth": {"a": "b"}}), 404,
          "Registry not found (nope)", "NotFoundException", REGISTRIES + "/nope")


@pytest.mark.parametrize("body,messages", [
    ({}, ["auth should not be empty", "auth must be an object"]),
    ({"auth": None}, ["auth should not be empty", "auth must be an object"]),
    ({"auth": {}}, ["auth should not be empty"]),
    ({"auth": "login:pw"}, ["auth must be an object"]),
    ({"auth": ["a"]}, ["auth must be an object"]),
])
def test_update_bad_body(sb, body, messages):
    error(api(sb, "POST", REGISTRIES + "/ghcr", json=body), 400, messages, "BadRequestException",
          REGISTRIES + "/ghcr")
    assert "auth" not in sb.rows["ghcr"]


def test_update_invalid_json(sb):
    r = api(sb, "POST", REGISTRIES + "/ghcr", data="{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    assert check("error-envelope", r.json())["error"] == "BadRequestException"


# ----- PUT create --------------------------------------------------------------------------
def test_create_custom(sb):
    r = api(sb, "PUT", REGISTRIES + "/mine", json={"auth": {"url": "https://r.example", "login": "u", "password": "p"},
                                                   "authScheme": CUSTOM_SCHEME, "provider": "ecr",
                                                   "canAnonymous": True, "extra": "dropped"})
    ok_write(r)
    row = rows(sb)["mine"]
    assert row["provider"] == "custom"
    assert (row["authSet"], row["canAuth"], row["canAnonymous"]) == (True, True, False)
    assert row["auth"] == {"url": "https://r.example", "login": "u", "password": "p"}
    assert row["authScheme"] == CUSTOM_SCHEME
    assert "extra" not in row and "fullName" not in row
    assert set(row) == {"_id", "name", "provider", "auth", "authScheme", "authSet", "canAuth", "canAnonymous",
                        "createdAt", "updatedAt"}


@pytest.mark.parametrize("name", ["ghcr", "mine"])
def test_create_existing_name(sb, name):
    api(sb, "PUT", REGISTRIES + "/mine", json={"auth": {"url": "u"}, "authScheme": CUSTOM_SCHEME})
    error(api(sb, "PUT", REGISTRIES + "/" + name, json={"auth": {"url": "v"}, "authScheme": CUSTOM_SCHEME}), 400,
          f"Registry already exist with same name: ({name})", "BadRequestException", f"{REGISTRIES}/{name}")
    assert sb.rows["mine"]["auth"] == {"url": "u"}


@pytest.mark.parametrize("body,messages", [
    ({"auth": {"url": "u"}}, ["authScheme should not be empty"]),
    ({"authScheme": CUSTOM_SCHEME}, ["auth should not be empty", "auth must be an object"]),
    ({}, ["auth should not be empty", "auth must be an object", "authScheme should not be empty"]),
])
def test_create_missing_fields(sb, body, messages):
    error(api(sb, "PUT", REGISTRIES + "/mine", json=body), 400, messages, "BadRequestException",
          REGISTRIES + "/mine")
    assert "mine" not in sb.rows


def test_url_encoded_names(sb):
    for name, encoded in [("my reg", "my%20reg"), ("team/reg", "team%2Freg")]:
        ok_write(api(sb, "PUT", f"{REGISTRIES}/{encoded}", json={"auth": {"url": "u"}, "authScheme": []}))
        assert sb.rows[name]["name"] == name
        ok_write(api(sb, "POST", f"{REGISTRIES}/{encoded}", json={"auth": {"url": "w"}}))
        assert sb.rows[name]["auth"] == {"url": "w"}
        ok_write(api(sb, "DELETE", f"{REGISTRIES}/{encoded}"))
        assert name not in sb.rows


# ----- PATCH reset, DELETE ----------------------------------------------------------------
def test_reset(sb):
    api(sb, "POST", REGISTRIES + "/hub", json={"auth": {"login": "l", "password": "p"}})
    before = dict(sb.rows["hub"])
    ok_write(api(sb, "PATCH", REGISTRIES + "/hub"))
    row = rows(sb)["hub"]
    assert "auth" not in row and row["authSet"] is False
    assert row["updatedAt"] > before["updatedAt"]
    error(api(sb, "PATCH", REGISTRIES + "/nope"), 404, "Registry not found (nope)", "NotFoundException",
          REGISTRIES + "/nope")


def test_delete(sb):
    api(sb, "PUT", REGISTRIES + "/mine", json={"auth": {"url": "u"}, "authScheme": CUSTOM_SCHEME})
    ok_write(api(sb, "DELETE", REGISTRIES + "/mine"))
    assert "mine" not in rows(sb)
    error(api(sb, "DELETE", REGISTRIES + "/mine"), 404, "Registry not found (mine)", "NotFoundException",
          REGISTRIES + "/mine")
    for name in BUILTINS:
        error(api(sb, "DELETE", f"{REGISTRIES}/{name}"), 403, f"Cannot delete non-custom registry provider ({name})",
              "ForbiddenException", f"{REGISTRIES}/{name}")
    assert list(rows(sb)) == BUILTINS


# ----- routing -------------------------------------------------------------------------------
@pytest.mark.parametrize("method,path", [
    ("GET", REGISTRIES + "/ghcr"), ("PUT", REGISTRIES), ("POST", REGISTRIES), ("DELETE", REGISTRIES),
    ("GET", "/containers/registries"), ("GET", REGISTRIES + "/a/b"), ("GET", "/users/login"), ("GET", ""),
])
@pytest.mark.parametrize("key", [KEY, None])
def test_unknown_routes(sb, method, path, key):
    error(api(sb, method, path, key=key), 404, f"Cannot {method} {path or '/'}", "NotFoundException", path or "/")


def test_trailing_slash_tolerated(sb):
    assert api(sb, "GET", REGISTRIES + "/").status_code == 200


@pytest.mark.parametrize("path", ["/", "/settings/registries", "/apiary", "/containers/registries"])
def test_outside_api_is_the_web_client(sb, path):
    r = requests.get(sb.url + path, timeout=10)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html")
    assert r.text.startswith("<!doctype html><html") and "Squirrel Servers Manager" in r.text
    assert sb.requests == []


def test_keep_alive(sb):
    parts = urlsplit(sb.url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.request("GET", "/api" + REGISTRIES, headers={"Authorization": f"Bearer {KEY}"})
        first = conn.getresponse()
        assert first.version == 11 and int(first.getheader("Content-Length")) > 0
        first.read()
        sock = conn.sock
        conn.request("PATCH", "/api" + REGISTRIES + "/nope", headers={"Authorization": f"Bearer {KEY}"})
        second = conn.getresponse()
        assert second.status == 404 and json.loads(second.read())["statusCode"] == 404
        assert conn.sock is sock  # same TCP connection
    finally:
        conn.close()


# ----- request log ---------------------------------------------------------------------------
def test_request_log(sb):
    login(sb)
    api(sb, "GET", REGISTRIES)
    api(sb, "PUT", REGISTRIES + "/my%20reg", json={"auth": {"url": "u"}, "authScheme": []})
    api(sb, "POST", REGISTRIES + "/nope", json={"auth": {"a": 1}})
    api(sb, "PATCH", REGISTRIES + "/ghcr")
    api(sb, "DELETE", REGISTRIES + "/ecr")
    api(sb, "GET", REGISTRIES, key="bad")
    requests.get(sb.url + "/settings", timeout=10)
    requests.get(sb.url + "/_sandbox/rows", timeout=10)
    expected = [
        {"method": "POST", "path": "/api/users/login", "status": 200},
        {"method": "GET", "path": "/api/container-registries", "status": 200},
        {"method": "PUT", "path": "/api/container-registries/my%20reg", "status": 200},
        {"method": "POST", "path": "/api/container-registries/nope", "status": 404},
        {"method": "PATCH", "path": "/api/container-registries/ghcr", "status": 200},
        {"method": "DELETE", "path": "/api/container-registries/ecr", "status": 403},
        {"method": "GET", "path": "/api/container-registries", "status": 401},
    ]
    assert sb.requests == expected
    assert sb.writes() == expected[2:6]
    assert requests.get(sb.url + "/_sandbox/requests", timeout=10).json() == expected
    sb.clear_requests()
    assert sb.requests == [] and sb.writes() == []


def test_control_endpoints(sb):
    base = sb.url + "/_sandbox"
    api(sb, "POST", REGISTRIES + "/ghcr", json={"auth": {"username": "u", "token": "t"}})
    got = requests.get(base + "/rows", timeout=10).json()
    assert list(got) == BUILTINS and got["ghcr"]["auth"] == {"username": "u", "token": "t"}
    assert requests.delete(base + "/requests", timeout=10).status_code == 200
    assert sb.requests == []
    legacy = {"provider": "forjejo", "auth": {"url": "https://git.example", "login": "old", "password": "pw"},
              "authScheme": CUSTOM_SCHEME, "authSet": True, "canAuth": True, "canAnonymous": False}
    assert requests.put(base + "/rows/forjejo", json=legacy, timeout=10).status_code == 200
    check("registry-row", rows(sb)["forjejo"])
    assert requests.post(base + "/faults", json=[{"method": "GET", "status": 500}], timeout=10).status_code == 200
    assert api(sb, "GET", REGISTRIES).status_code == 500
    assert api(sb, "GET", REGISTRIES).status_code == 200
    requests.post(base + "/faults", json=[{"status": 500}], timeout=10)
    assert requests.delete(base + "/faults", timeout=10).status_code == 200
    assert api(sb, "GET", REGISTRIES).status_code == 200
    requests.post(base + "/faults", json=[{"status": 500}], timeout=10)
    assert requests.post(base + "/reset", timeout=10).status_code == 200
    assert "forjejo" not in sb.rows and "auth" not in sb.rows["ghcr"] and sb.requests == []
    assert api(sb, "GET", REGISTRIES).status_code == 200  # reset cleared the fault
    assert requests.get(base + "/nothing", timeout=10).status_code == 404
    assert [r["path"] for r in sb.requests] == ["/api/container-registries"]


# ----- legacy rows -----------------------------------------------------------------------------
def test_legacy_rows():
    with Sandbox(api_key=KEY, legacy_rows=True) as sb:
        got = rows(sb)
        assert list(got) == BUILTINS + ["hotio", "forjejo"]
        hotio, forjejo = got["hotio"], got["forjejo"]
        assert (hotio["provider"], hotio["canAuth"], hotio["canAnonymous"], hotio["authSet"]) == \
            ("hotio", False, True, False)
        assert forjejo["provider"] == "forjejo" and forjejo["authSet"] is True
        assert forjejo["auth"]["password"] == "legacy-secret-value"
        error(api(sb, "DELETE", REGISTRIES + "/hotio"), 403, "Cannot delete non-custom registry provider (hotio)",
              "ForbiddenException", REGISTRIES + "/hotio")
        ok_write(api(sb, "PATCH", REGISTRIES + "/forjejo"))
        sb.reset()
        assert sb.rows["forjejo"]["authSet"] is True and "hotio" in sb.rows


# ----- faults ----------------------------------------------------------------------------------
GHCR_AUTH = {"auth": {"username": "u", "token": "t"}}


def test_fault_status_does_not_perform(sb):
    sb.add_faults([{"method": "POST", "path_prefix": "/api/container-registries", "action": "status", "status": 503}])
    error(api(sb, "POST", REGISTRIES + "/ghcr", json=GHCR_AUTH), 503, "Service Unavailable",
          "ServiceUnavailableException", REGISTRIES + "/ghcr")
    assert "auth" not in sb.rows["ghcr"]
    ok_write(api(sb, "POST", REGISTRIES + "/ghcr", json=GHCR_AUTH))  # times=1: only the first one
    assert [r["status"] for r in sb.writes()] == [503, 200]


def test_fault_status_apply_then_fail(sb):
    sb.add_faults([{"method": "PUT", "action": "status", "status": 502, "apply_then_fail": True}])
    r = api(sb, "PUT", REGISTRIES + "/mine", json={"auth": {"url": "u"}, "authScheme": []})
    assert r.status_code == 502 and r.json()["error"] == "BadGatewayException"
    assert sb.rows["mine"]["auth"] == {"url": "u"}


def test_fault_nth_times_and_method(sb):
    for dummy in range(2):  # requests before the fault is added do not count
        api(sb, "GET", REGISTRIES)
    sb.add_faults([{"method": "GET", "path_prefix": "/api/container-registries", "nth": 2, "times": 2,
                    "action": "status", "status": 500}])
    statuses = []
    for dummy in range(4):
        api(sb, "PATCH", REGISTRIES + "/ghcr")  # other verbs neither hit nor count
        statuses.append(api(sb, "GET", REGISTRIES).status_code)
    assert statuses == [200, 500, 500, 200]


def test_fault_path_prefix(sb):
    sb.add_faults([{"path_prefix": "/api/users", "status": 500}])
    assert api(sb, "GET", REGISTRIES).status_code == 200
    assert login(sb)[1].status_code == 500


def test_fault_delay(sb):
    sb.add_faults([{"method": "GET", "action": "delay", "seconds": 0.6}])
    start = time.monotonic()
    assert api(sb, "GET", REGISTRIES).status_code == 200
    assert time.monotonic() - start >= 0.55
    with pytest.raises(requests.exceptions.ReadTimeout):  # a client giving up earlier times out
        sb.add_faults([{"method": "GET", "action": "delay", "seconds": 1.0}])
        requests.get(sb.url + "/api" + REGISTRIES, headers={"Authorization": f"Bearer {KEY}"}, timeout=0.3)


@pytest.mark.parametrize("apply", [False, True])
def test_fault_drop(sb, apply):
    sb.add_faults([{"method": "POST", "action": "drop", "apply_then_fail": apply}])
    with pytest.raises(requests.exceptions.ConnectionError):
        api(sb, "POST", REGISTRIES + "/ghcr", json=GHCR_AUTH)
    assert ("auth" in sb.rows["ghcr"]) is apply
    assert sb.writes() == [{"method": "POST", "path": "/api/container-registries/ghcr", "status": None}]
    assert api(sb, "GET", REGISTRIES).status_code == 200  # the server itself is fine


def test_fault_html(sb):
    sb.add_faults([{"method": "GET", "action": "html"}])
    r = api(sb, "GET", REGISTRIES)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html")
    assert r.text.startswith("<!doctype html>")
    with pytest.raises(ValueError):
        r.json()


# ----- v0.1 ------------------------------------------------------------------------------------
V01 = "/containers/registries"


@pytest.fixture
def v01():
    with Sandbox(api_key=KEY, username=USER, password=PW, version="0.1") as sb:
        yield sb


@pytest.mark.parametrize("path", [V01, REGISTRIES, "/nothing"])
@pytest.mark.parametrize("key", [None, KEY])
def test_v01_refuses_api_key_with_plain_unauthorized(v01, path, key):
    r = api(v01, "GET", path, key=key)
    assert r.status_code == 401
    assert r.headers["Content-Type"].startswith("text/plain")
    assert r.text == "Unauthorized"


def test_v01_login_and_list(v01):
    s, r = login(v01)
    assert r.status_code == 200 and r.headers["Set-Cookie"].startswith("jwt=")
    check("v01-envelope", r.json())
    for path in (V01, V01 + "/"):
        r = s.get(v01.url + "/api" + path, timeout=10)
        assert r.status_code == 200
        body = check("v01-envelope", r.json())
        assert body["success"] is True and body["message"] == "Get registries"
        names = []
        for row in body["data"]["registries"]:
            names.append(check("registry-row", row)["name"])
        assert names == BUILTINS


def test_v01_answers_404_html_on_the_v05_path(v01):
    s = login(v01)[0]
    r = s.get(v01.url + "/api" + REGISTRIES, timeout=10)
    assert r.status_code == 404 and r.headers["Content-Type"].startswith("text/html")
    assert "<pre>Cannot GET /api/container-registries</pre>" in r.text


def test_v01_wrong_login(v01):
    r = login(v01, password="bad")[1]
    assert r.status_code == 401
    assert check("v01-envelope", r.json()) == {"success": False, "message": "Identification is incorrect!"}


def test_v01_writes(v01):
    s = login(v01)[0]
    url = v01.url + "/api" + V01
    body = {"auth": {"url": "u"}, "authScheme": CUSTOM_SCHEME}
    r = s.put(url + "/mine", json=body)
    assert r.status_code == 200 and check("v01-envelope", r.json())["data"] == {}
    assert v01.rows["mine"]["provider"] == "custom"
    r = s.put(url + "/mine", json=body)
    assert r.status_code == 400 and r.json()["message"] == "Registry already exist with same name: (mine)"
    r = s.post(url + "/nope", json={"auth": {"a": 1}})
    assert r.status_code == 404 and check("v01-envelope", r.json())["message"] == "Registry not found (nope)"
    ok = s.post(url + "/ghcr", json=GHCR_AUTH)
    assert ok.status_code == 200 and v01.rows["ghcr"]["auth"] == GHCR_AUTH["auth"]
    assert s.patch(url + "/ghcr").json()["message"] == "Reset registry"
    assert "auth" not in v01.rows["ghcr"]
    r = s.delete(url + "/ecr")
    assert r.status_code == 403 and r.json()["success"] is False
    assert s.delete(url + "/mine").json() == {"success": True, "message": "Remove registry", "data": {}}
    names = ("mine", "mine", "nope", "ghcr", "ghcr", "ecr", "mine")
    assert [w["path"] for w in v01.writes()] == ["/api/containers/registries/" + n for n in names]


# ----- lifecycle: TLS, stop, CLI ----------------------------------------------------------------
def test_tls(tmp_path):
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    cert.private_key_pem.write_to_path(str(tmp_path / "key.pem"))
    cert.cert_chain_pems[0].write_to_path(str(tmp_path / "cert.pem"))
    with Sandbox(api_key=KEY, tls_cert=str(tmp_path / "cert.pem"), tls_key=str(tmp_path / "key.pem")) as sb:
        assert sb.url.startswith("https://127.0.0.1:")
        with pytest.raises(requests.exceptions.SSLError):
            api(sb, "GET", REGISTRIES)  # not trusted without the CA
        with pytest.raises(requests.exceptions.ConnectionError):
            requests.get(sb.url.replace("https", "http", 1) + "/api" + REGISTRIES, timeout=5)
        r = requests.get(sb.url + "/api" + REGISTRIES, headers={"Authorization": f"Bearer {KEY}"},
                         verify=str(tmp_path / "ca.pem"), timeout=10)
        assert r.status_code == 200
        check("registry-list", r.json())


def test_stop_closes_everything():
    sb = Sandbox(api_key=KEY).start()
    s = requests.Session()
    assert s.get(sb.url + "/api" + REGISTRIES, headers={"Authorization": f"Bearer {KEY}"}, timeout=5).ok
    sb.stop()
    for client in (s, requests):
        with pytest.raises(requests.exceptions.ConnectionError):
            client.get(sb.url + "/api" + REGISTRIES, headers={"Authorization": f"Bearer {KEY}"}, timeout=5)


def test_cli(tmp_path):
    url_file = tmp_path / "url"
    proc = subprocess.Popen([sys.executable, str(SANDBOX_SCRIPT), "--port", "0", "--api-key", "cli-key",
                             "--legacy-rows", "--url-file", str(url_file)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline().strip()
        assert line.startswith("SSM sandbox listening on http://127.0.0.1:")
        url = line.rsplit(" ", 1)[1]
        assert url_file.read_text().strip() == url
        r = requests.get(url + "/api" + REGISTRIES, headers={"Authorization": "Bearer cli-key"}, timeout=10)
        assert r.status_code == 200 and "hotio" in [row["name"] for row in r.json()["data"]["registries"]]
        s = requests.Session()
        assert s.post(url + "/api/users/login", json={"username": USER, "password": "sandbox-password"},
                      timeout=10).status_code == 200
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        assert proc.stderr.read() == ""  # quiet: no per-request logging
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
