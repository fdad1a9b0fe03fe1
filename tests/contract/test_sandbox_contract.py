"""Contract tests: the SSM sandbox answers as the real SSM does (ssm-api.md, measured), by default v0.5.2 with
its defects; `flavour="fixed"` with them fixed; `version="0.1"` as v0.1.30. test_recorded.py replays the
exchanges recorded from the real servers.

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

from tests.harness import sandbox_fixtures, tls_sandbox
from tests.sandbox.ssm_sandbox import CUSTOM_SCHEME, POPULATE_MESSAGE, Sandbox, ServerDidNotStart

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
sb_server, sb = sandbox_fixtures("sb", scope="module", api_key=KEY, username=USER, password=PW)
fixed_server, fixed = sandbox_fixtures("fixed", scope="module", api_key=KEY, username=USER, password=PW,
                                       flavour="fixed")


def api(sb, method, path, key=KEY, **kw):
    headers = kw.pop("headers", {})
    if key:
        headers["Authorization"] = f"Bearer {key}"
    return requests.request(method, sb.url + "/api" + path, headers=headers, timeout=10, **kw)


def rows(sb, key=KEY):
    r = api(sb, "GET", REGISTRIES, key=key)
    assert r.status_code == 200, r.text
    return {row["name"]: row for row in check("registry-list", r.json())["data"]["registries"]}


def ok_write(r, status=200):
    assert r.status_code == status, r.text
    body = check("success-envelope", r.json())
    assert "data" not in body
    return body


# the `data` key by error class (measured): null on the registry controller's HttpExceptions, absent on Nest's
# own exceptions (validation, guard, router), {stack} on the 500 after POST/PATCH
NO_DATA = object()


def error(r, status, message, exception, path, data=NO_DATA):
    assert r.status_code == status, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    body = check("error-envelope", r.json())
    assert body["message"] == message
    assert body["error"] == exception
    assert body["statusCode"] == status
    assert body["path"] == path
    if data is NO_DATA:
        assert "data" not in body
    else:
        assert body["data"] == data
    return body


def populate_500(r, path):
    """The 500 of v0.5.2's POST and PATCH, answered after the write."""
    body = error(r, 500, POPULATE_MESSAGE, "InternalServerException", path, data=r.json().get("data"))
    assert body["data"]["stack"].startswith("StrictPopulateError: Cannot populate path `device`")
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
                      "updatedAt": "2024-01-01T00:00:00.000Z", "__v": 0}),
    ("registry-row-v01", {"_id": "a" * 24, "name": "x", "provider": "custom", "authScheme": [], "authSet": True,
                          "canAuth": True, "canAnonymous": False}),
    ("error-envelope", {"success": False, "message": "x", "error": "HttpException", "statusCode": 404,
                        "timestamp": "2024-01-01T00:00:00.000Z", "path": "/x", "data": {"other": 1}}),
    ("registry-list", {"success": True, "message": "Operation successful", "data": {"registries": [{}]}}),
])
def test_schemas_reject_wrong_shapes(schema, doc):
    with pytest.raises(ValidationError):
        check(schema, doc)


# ----- authentication ----------------------------------------------------------------------
@pytest.mark.parametrize("key", [None, "wrong-key"])
def test_list_needs_a_valid_key(sb, key):
    error(api(sb, "GET", REGISTRIES, key=key), 401, "Authentication failed", "UnauthorizedException", REGISTRIES)


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_writes_need_a_valid_key(sb, method):
    r = api(sb, method, REGISTRIES + "/ghcr", key="nope", json={"auth": {"username": "u", "token": "t"}})
    error(r, 401, "Authentication failed", "UnauthorizedException", REGISTRIES + "/ghcr")
    assert "auth" not in sb.rows["ghcr"]


def test_auth_is_checked_before_validation(sb):
    error(api(sb, "POST", REGISTRIES + "/ghcr", key=None, json={}), 401, "Authentication failed",
          "UnauthorizedException", REGISTRIES + "/ghcr")


def test_login_sets_a_jwt_cookie_that_authenticates(sb):
    s, r = login(sb)
    assert r.status_code == 201
    assert check("success-envelope", r.json())["data"] == {"currentAuthority": "admin"}
    cookie = r.headers["Set-Cookie"]
    assert cookie.startswith("jwt=") and "Path=/" in cookie and "HttpOnly" in cookie
    token = s.cookies.get("jwt")
    assert token and len(token) >= 16
    assert s.get(sb.url + "/api" + REGISTRIES, timeout=10).status_code == 200
    populate_500(s.post(sb.url + "/api" + REGISTRIES + "/ghcr", json={"auth": {"username": "u", "token": "t"}}),
                 REGISTRIES + "/ghcr")
    assert sb.rows["ghcr"]["auth"] == {"username": "u", "token": "t"}
    again = login(sb)[1]
    assert again.cookies.get("jwt") != token  # a fresh random token per login


def test_forged_cookie_is_refused(sb):
    r = requests.get(sb.url + "/api" + REGISTRIES, cookies={"jwt": "forged"}, timeout=10)
    error(r, 401, "Authentication failed", "UnauthorizedException", REGISTRIES)


@pytest.mark.parametrize("username,password", [(USER, "bad"), ("other@example.com", PW)])
def test_wrong_login(sb, username, password):
    s, r = login(sb, username, password)
    error(r, 401, "Identification is incorrect!", "UnauthorizedException", "/users/login")
    assert "Set-Cookie" not in r.headers
    assert s.get(sb.url + "/api" + REGISTRIES, timeout=10).status_code == 401


def test_login_validation(sb):
    error(login(sb, "", "")[1], 400, ["username should not be empty", "password should not be empty"],
          "BadRequestException", "/users/login")
    r = requests.post(sb.url + "/api/users/login", json={"username": USER}, timeout=10)
    error(r, 400, ["password should not be empty", "password must be a string"], "BadRequestException",
          "/users/login")


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
        assert row["authScheme"]
        ids.add(row["_id"])
    assert len(ids) == len(BUILTINS)
    names = ("ecr", "ghcr", "quay", "lscr", "gitea", "forgejo", "gitlab")
    assert {name: got[name].get("fullName") for name in names} == {
        "ecr": "AWS Elastic Container Registry", "ghcr": "Github Container Registry", "quay": "Red Hat Quay.io",
        "lscr": "Linux Server Container Registry", "gitea": None, "forgejo": None, "gitlab": None}
    hub = got["hub"]["authScheme"]
    assert hub[0] == {"name": "login", "type": "string"}
    assert hub[1]["name"] == "Connection type" and [[f["name"] for f in c] for c in hub[1]["values"]] == [
        ["password"], ["token"], ["auth"]]
    assert [f["name"] for f in got["gitea"]["authScheme"]] == ["login", "password", "url"]


def test_list_returns_auth_in_clear(sb):
    api(sb, "POST", REGISTRIES + "/quay", json={"auth": {"namespace": "n", "account": "a", "token": "s3cr3t"}})
    assert rows(sb)["quay"]["auth"] == {"namespace": "n", "account": "a", "token": "s3cr3t"}


# ----- POST update -------------------------------------------------------------------------
def test_update_writes_then_answers_500(sb):
    """v0.5.2: the write lands, the answer is the populate 500, and SSM does not reload its registries."""
    populate_500(api(sb, "POST", REGISTRIES + "/ghcr", json={"auth": {"username": "u", "token": "t"}}),
                 REGISTRIES + "/ghcr")
    assert sb.rows["ghcr"]["auth"] == {"username": "u", "token": "t"} and sb.rows["ghcr"]["authSet"] is True
    assert sb.registering() == [0] and sb.registered() == {"hub": {}}


def test_update_replaces_whole_auth_and_moves_updated_at(sb):
    before = rows(sb)["ghcr"]
    populate_500(api(sb, "POST", REGISTRIES + "/ghcr", json={"auth": {"username": "u", "token": "t"},
                                                             "provider": "x", "canAnonymous": False, "junk": 1}),
                 REGISTRIES + "/ghcr")
    populate_500(api(sb, "POST", REGISTRIES + "/ghcr", json={"auth": {"token": "t2"}}), REGISTRIES + "/ghcr")
    after = rows(sb)["ghcr"]
    assert after["auth"] == {"token": "t2"}
    assert after["authSet"] is True
    assert after["provider"] == "ghcr" and after["canAnonymous"] is True and "junk" not in after
    assert after["_id"] == before["_id"] and after["createdAt"] == before["createdAt"]
    assert after["updatedAt"] > before["updatedAt"]


def test_update_stores_any_auth_contents(sb):
    # the server does not validate auth: a wrong key name is stored (then the 500 of every POST)
    populate_500(api(sb, "POST", REGISTRIES + "/ecr", json={"auth": {"accesskey": "AK", "n": 1}}), REGISTRIES + "/ecr")
    assert sb.rows["ecr"]["auth"] == {"accesskey": "AK", "n": 1}


def test_update_empty_auth_is_accepted(sb):
    """class-validator's IsNotEmpty lets {} through: stored as is, authSet true, then the 500."""
    api(sb, "POST", REGISTRIES + "/ghcr", json={"auth": {"username": "u", "token": "t"}})
    populate_500(api(sb, "POST", REGISTRIES + "/ghcr", json={"auth": {}}), REGISTRIES + "/ghcr")
    assert sb.rows["ghcr"]["auth"] == {} and sb.rows["ghcr"]["authSet"] is True
    assert rows(sb)["ghcr"]["auth"] == {}


def test_update_unknown_registry(sb):
    error(api(sb, "POST", REGISTRIES + "/nope", json={"auth": {"a": "b"}}), 404,
          "Registry not found (nope)", "HttpException", REGISTRIES + "/nope", data=None)


def test_validation_runs_before_the_lookup(sb):
    error(api(sb, "POST", REGISTRIES + "/nope", json={}), 400, ["auth should not be empty", "auth must be an object"],
          "BadRequestException", REGISTRIES + "/nope")


@pytest.mark.parametrize("body,messages", [
    ({}, ["auth should not be empty", "auth must be an object"]),
    ({"auth": None}, ["auth should not be empty", "auth must be an object"]),
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
    assert sb.registering() == [0, 1] and sb.registered() == {"hub": {}, "mine": row_auth(sb, "mine")}
    row = rows(sb)["mine"]
    assert row["provider"] == "custom"
    assert (row["authSet"], row["canAuth"], row["canAnonymous"]) == (True, True, False)
    assert row["auth"] == {"url": "https://r.example", "login": "u", "password": "p"}
    assert row["authScheme"] == CUSTOM_SCHEME
    assert "extra" not in row and "fullName" not in row
    assert set(row) == {"_id", "name", "provider", "auth", "authScheme", "authSet", "canAuth", "canAnonymous",
                        "createdAt", "updatedAt"}


def row_auth(sb, name):
    return sb.rows[name].get("auth", {})


def test_create_with_empty_auth(sb):
    """PUT {"auth": {}}: accepted; mongoose's minimize drops the empty object: no auth key, authSet true."""
    ok_write(api(sb, "PUT", REGISTRIES + "/mine", json={"auth": {}, "authScheme": CUSTOM_SCHEME}))
    row = rows(sb)["mine"]
    assert "auth" not in row and row["authSet"] is True
    assert sb.registered()["mine"] == {}


@pytest.mark.parametrize("name", ["ghcr", "mine"])
def test_create_existing_name(sb, name):
    api(sb, "PUT", REGISTRIES + "/mine", json={"auth": {"url": "u"}, "authScheme": CUSTOM_SCHEME})
    error(api(sb, "PUT", REGISTRIES + "/" + name, json={"auth": {"url": "v"}, "authScheme": CUSTOM_SCHEME}), 400,
          f"Registry already exist with same name: ({name})", "HttpException", f"{REGISTRIES}/{name}", data=None)
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
    ok_write(api(sb, "PUT", f"{REGISTRIES}/my%20reg", json={"auth": {"url": "u"}, "authScheme": []}))
    assert sb.rows["my reg"]["name"] == "my reg"
    populate_500(api(sb, "POST", f"{REGISTRIES}/my%20reg", json={"auth": {"url": "w"}}), f"{REGISTRIES}/my%20reg")
    assert sb.rows["my reg"]["auth"] == {"url": "w"}
    ok_write(api(sb, "DELETE", f"{REGISTRIES}/my%20reg"))
    assert "my reg" not in sb.rows


@pytest.mark.parametrize("method", ["PUT", "POST", "PATCH", "DELETE"])
def test_slash_in_name_is_unreachable_through_the_proxy(sb, method):
    # nginx decodes %2F: the server sees two segments, no route matches
    error(api(sb, method, f"{REGISTRIES}/team%2Freg", json={"auth": {"url": "u"}, "authScheme": []}), 404,
          f"Cannot {method} {REGISTRIES}/team/reg", "NotFoundException", f"{REGISTRIES}/team/reg")
    assert "team/reg" not in sb.rows


# ----- PATCH reset, DELETE ----------------------------------------------------------------
def test_reset(sb):
    """v0.5.2's PATCH: authSet false, auth kept (in clear), then the 500; no reload."""
    api(sb, "POST", REGISTRIES + "/hub", json={"auth": {"login": "l", "password": "p"}})
    before = dict(sb.rows["hub"])
    populate_500(api(sb, "PATCH", REGISTRIES + "/hub"), REGISTRIES + "/hub")
    row = rows(sb)["hub"]
    assert row["auth"] == {"login": "l", "password": "p"} and row["authSet"] is False
    assert row["updatedAt"] > before["updatedAt"]
    assert sb.registering() == [0]
    error(api(sb, "PATCH", REGISTRIES + "/nope"), 404, "Registry not found (nope)", "HttpException",
          REGISTRIES + "/nope", data=None)


def test_secret_free_reset(sb):
    """POST {"auth": {}} then PATCH: the old values are gone (auth {}), authSet false; both answer 500."""
    api(sb, "POST", REGISTRIES + "/ghcr", json={"auth": {"username": "u", "token": "t0ken-value"}})
    populate_500(api(sb, "POST", REGISTRIES + "/ghcr", json={"auth": {}}), REGISTRIES + "/ghcr")
    populate_500(api(sb, "PATCH", REGISTRIES + "/ghcr"), REGISTRIES + "/ghcr")
    row = rows(sb)["ghcr"]
    assert row["auth"] == {} and row["authSet"] is False


def test_delete(sb):
    api(sb, "PUT", REGISTRIES + "/mine", json={"auth": {"url": "u"}, "authScheme": CUSTOM_SCHEME})
    ok_write(api(sb, "DELETE", REGISTRIES + "/mine"))
    assert "mine" not in rows(sb)
    assert sb.registering() == [0, 1, 0]
    error(api(sb, "DELETE", REGISTRIES + "/mine"), 404, "Registry not found (mine)", "HttpException",
          REGISTRIES + "/mine", data=None)
    for name in BUILTINS:
        error(api(sb, "DELETE", f"{REGISTRIES}/{name}"), 403, f"Cannot delete non-custom registry provider ({name})",
              "HttpException", f"{REGISTRIES}/{name}", data=None)
    assert list(rows(sb)) == BUILTINS


# ----- routing -------------------------------------------------------------------------------
@pytest.mark.parametrize("method,path", [
    ("GET", REGISTRIES + "/ghcr"), ("PUT", REGISTRIES), ("POST", REGISTRIES), ("DELETE", REGISTRIES),
    ("GET", REGISTRIES + "/a/b"), ("GET", "/users/login"), ("GET", ""),
])
@pytest.mark.parametrize("key", [KEY, None])
def test_unknown_routes(sb, method, path, key):
    error(api(sb, method, path, key=key), 404, f"Cannot {method} {path or '/'}", "NotFoundException", path or "/")


def test_v01_path_on_v05(sb):
    # the containers controller's GET /containers/:id answers it (behind the guard)
    error(api(sb, "GET", "/containers/registries"), 404, "Container with ID registries not found",
          "NotFoundException", "/containers/registries")
    error(api(sb, "GET", "/containers/registries", key=None), 401, "Authentication failed", "UnauthorizedException",
          "/containers/registries")


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
        {"method": "POST", "path": "/api/users/login", "status": 201},
        {"method": "GET", "path": "/api/container-registries", "status": 200},
        {"method": "PUT", "path": "/api/container-registries/my%20reg", "status": 200},
        {"method": "POST", "path": "/api/container-registries/nope", "status": 404},
        {"method": "PATCH", "path": "/api/container-registries/ghcr", "status": 500},
        {"method": "DELETE", "path": "/api/container-registries/ecr", "status": 403},
        {"method": "GET", "path": "/api/container-registries", "status": 401},
    ]
    assert sb.requests == expected and sb.requests() == expected  # an attribute list, and callable
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
        assert forjejo["provider"] == "forjejo" and forjejo["authSet"] is False  # a v0.5 cannot run with it set
        assert forjejo["auth"]["password"] == "legacy-secret-value"
        error(api(sb, "DELETE", REGISTRIES + "/hotio"), 403, "Cannot delete non-custom registry provider (hotio)",
              "HttpException", REGISTRIES + "/hotio", data=None)
        populate_500(api(sb, "PATCH", REGISTRIES + "/forjejo"), REGISTRIES + "/forjejo")
        sb.reset()
        assert sb.rows["forjejo"]["authSet"] is False and "hotio" in sb.rows


# ----- faults ----------------------------------------------------------------------------------
GHCR_AUTH = {"auth": {"username": "u", "token": "t"}}


def test_fault_status_does_not_perform(sb):
    sb.add_faults([{"method": "POST", "path_prefix": "/api/container-registries", "action": "status", "status": 503}])
    error(api(sb, "POST", REGISTRIES + "/ghcr", json=GHCR_AUTH), 503, "Service Unavailable",
          "ServiceUnavailableException", REGISTRIES + "/ghcr", data=None)
    assert "auth" not in sb.rows["ghcr"]
    populate_500(api(sb, "POST", REGISTRIES + "/ghcr", json=GHCR_AUTH), REGISTRIES + "/ghcr")  # times=1
    assert [r["status"] for r in sb.writes()] == [503, 500]


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
    assert "Content-Type" not in r.headers  # measured: passport's 401 carries none
    assert r.text == "Unauthorized"


def test_v01_login_and_list(v01):
    s, r = login(v01)
    assert r.status_code == 200 and r.headers["Set-Cookie"].startswith("jwt=")
    assert check("v01-envelope", r.json()) == {"success": True, "message": "Login success",
                                               "data": {"currentAuthority": "admin"}}
    for path in (V01, V01 + "/"):
        r = s.get(v01.url + "/api" + path, timeout=10)
        assert r.status_code == 200
        body = check("v01-envelope", r.json())
        assert body["success"] is True and body["message"] == "Get registries"
        names = []
        for row in body["data"]["registries"]:
            names.append(check("registry-row-v01", row)["name"])
            assert row["__v"] == 0 and "createdAt" not in row
        assert names == BUILTINS


def test_v01_answers_404_html_on_the_v05_path(v01):
    s = login(v01)[0]
    r = s.get(v01.url + "/api" + REGISTRIES, timeout=10)
    assert r.status_code == 404 and r.headers["Content-Type"].startswith("text/html")
    assert "<pre>Cannot GET /container-registries</pre>" in r.text  # the proxy strips /api (recorded)


def test_v01_wrong_login(v01):
    r = login(v01, password="bad")[1]
    assert r.status_code == 401
    assert check("v01-envelope", r.json()) == {"success": False, "message": "Identification is incorrect！"}


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
    assert ok.status_code == 200 and ok.json() == {"success": True, "message": "Get registries", "data": {}}
    assert v01.rows["ghcr"]["auth"] == GHCR_AUTH["auth"]
    assert s.patch(url + "/ghcr").json() == {"success": True, "message": "Reset registry", "data": {}}
    assert v01.rows["ghcr"]["auth"] == GHCR_AUTH["auth"] and v01.rows["ghcr"]["authSet"] is False  # auth kept
    r = s.delete(url + "/ecr")
    assert r.status_code == 403 and r.json() == {"success": False,
                                                 "message": "You cannot delete a non custom registry provider"}
    assert s.delete(url + "/mine").json() == {"success": True, "message": "Remove registry", "data": {}}
    r = s.post(url + "/ghcr", json={})
    assert r.status_code == 400 and r.json() == {"success": False, "message": ["Invalid value"]}
    # only a missing auth is refused: {} is stored, and after PATCH the old secret is gone (recorded)
    assert s.post(url + "/ghcr", json={"auth": {}}).status_code == 200
    assert s.patch(url + "/ghcr").status_code == 200
    assert v01.rows["ghcr"]["auth"] == {} and v01.rows["ghcr"]["authSet"] is False
    names = ("mine", "mine", "nope", "ghcr", "ghcr", "ecr", "mine", "ghcr", "ghcr", "ghcr")
    assert [w["path"] for w in v01.writes()] == ["/api/containers/registries/" + n for n in names]


# ----- lifecycle: TLS, stop, CLI ----------------------------------------------------------------
def test_tls(tmp_path):
    server, ca = tls_sandbox(tmp_path, api_key=KEY)
    with server as sb:
        assert sb.url.startswith("https://127.0.0.1:")
        with pytest.raises(requests.exceptions.SSLError):
            api(sb, "GET", REGISTRIES)  # not trusted without the CA
        with pytest.raises(requests.exceptions.ConnectionError):
            requests.get(sb.url.replace("https", "http", 1) + "/api" + REGISTRIES, timeout=5)
        r = requests.get(sb.url + "/api" + REGISTRIES, headers={"Authorization": f"Bearer {KEY}"},
                         verify=ca, timeout=10)
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
                      timeout=10).status_code == 201
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        assert proc.stderr.read() == ""  # quiet: no per-request logging
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_v01_registration(v01):
    """v0.1.30 reloads after POST, PUT and PATCH, not after DELETE; one slot per provider, so only the last
    custom registry is registered; ghcr with credentials fails to register."""
    s = login(v01)[0]
    url = v01.url + "/api" + V01
    assert v01.registering() == [5] and v01.registered() == {p: {} for p in ANONYMOUS_ORDER}
    s.put(url + "/one", json={"auth": {"url": "https://one.example"}, "authScheme": CUSTOM_SCHEME})
    s.put(url + "/two", json={"auth": {"url": "https://two.example"}, "authScheme": CUSTOM_SCHEME})
    assert v01.registered()["two"] == {"url": "https://two.example"} and "one" not in v01.registered()
    s.post(url + "/ghcr", json=GHCR_AUTH)
    assert "ghcr" not in v01.registered()
    assert '("name" is not allowed)' in v01.log()
    s.delete(url + "/two")
    assert "two" in v01.registered()  # DELETE does not reload
    assert v01.registering() == [5, 6, 6, 6]


def test_rows_from_ssms_web_ui_register_as_measured(v01, sb, fixed):
    """tests/realssm/FACTS.md d.: v0.5 (both flavours) registers the UI's custom rows; v0.1.30 refuses their newName
    and a field sent as "", and registers the same credentials stored without them."""
    from tests import webui
    for server in (sb, fixed):
        session = requests.Session()
        session.headers["Authorization"] = "Bearer " + KEY
        webui.seed(lambda method, name, body, server=server: session.request(
            method, server.url + "/api/container-registries/" + requests.utils.quote(name, safe=""), json=body,
            timeout=10))
        server.restart()
        assert "Error when registering" not in server.log()
        assert sorted(n for n in server.registered() if n in ("Harbor Prod", "mirror")) == ["Harbor Prod", "mirror"]
    s = login(v01)[0]
    webui.seed(lambda method, name, body: s.request(method, v01.url + "/api" + V01 + "/" + requests.utils.quote(
        name, safe=""), json=body, timeout=10))
    log = v01.log()
    assert 'Error when registering component custom/harbor prod ("newName" is not allowed)' in log
    assert 'Error when registering component custom/mirror ("login" is not allowed)' in log
    assert 'Error when registering component gitlab/gitlab ("name" is not allowed)' in log
    assert "hub" in v01.registered() and v01.registered()["hub"]["token"]  # {login, token} registers
    clean = {"url": "http://mirror.example.com:5000", "auth": "cm9ib3Q6dWktbWlycm9yLXNlY3JldC0y"}
    s.post(v01.url + "/api" + V01 + "/mirror", json={"auth": clean})
    assert "mirror" in v01.registered()
    s.post(v01.url + "/api" + V01 + "/hub", json={"auth": {"login": "johndoe", "password": "", "token": "t"}})
    assert 'component hub/hub ("password" is not allowed to be empty)' in v01.log()


# ----- registration (v0.5) -----------------------------------------------------------------------
ANONYMOUS_ORDER = ["ecr", "ghcr", "gcr", "hub", "quay"]


def test_registration_after_put_and_delete_only(sb):
    """SSM reloads at start and after PUT/DELETE; N counts rows with authSet true, hub included; the hub row's
    credentials are never used (an anonymous Docker Hub is always registered)."""
    assert sb.registering() == [0] and sb.log() == "Registering 0 registries\n"
    api(sb, "POST", REGISTRIES + "/ghcr", json=GHCR_AUTH)
    api(sb, "POST", REGISTRIES + "/hub", json={"auth": {"login": "l", "password": "p"}})
    assert sb.registering() == [0] and sb.registered() == {"hub": {}}  # the 500 aborted before the reload
    ok_write(api(sb, "PUT", REGISTRIES + "/tmp", json={"auth": {"url": "https://r.example"}, "authScheme": []}))
    ok_write(api(sb, "DELETE", REGISTRIES + "/tmp"))
    assert sb.registering() == [0, 3, 2]
    assert sb.registered() == {"hub": {}, "ghcr": GHCR_AUTH["auth"]}
    got = requests.get(sb.url + "/_sandbox/registered", timeout=10).json()
    assert got == sb.registered()
    assert requests.get(sb.url + "/_sandbox/log", timeout=10).text == sb.log()


def test_patch_is_used_only_after_a_reload(sb):
    api(sb, "POST", REGISTRIES + "/ghcr", json=GHCR_AUTH)
    api(sb, "PUT", REGISTRIES + "/tmp", json={"auth": {"url": "https://r.example"}, "authScheme": []})
    api(sb, "DELETE", REGISTRIES + "/tmp")
    api(sb, "PATCH", REGISTRIES + "/ghcr")
    assert sb.registered()["ghcr"] == GHCR_AUTH["auth"]  # still in use: PATCH did not reload
    api(sb, "PUT", REGISTRIES + "/tmp", json={"auth": {"url": "https://r.example"}, "authScheme": []})
    api(sb, "DELETE", REGISTRIES + "/tmp")
    assert "ghcr" not in sb.registered()


def test_a_row_that_cannot_register(sb):
    """A stored gitea url of the wrong type: registration stops there; a restart leaves SSM down."""
    sb.insert_row({"name": "gitea", "provider": "gitea", "auth": {"url": 123}, "authSet": True, "authScheme": [],
                   "canAuth": True, "canAnonymous": False})
    r = api(sb, "PUT", REGISTRIES + "/tmp", json={"auth": {"url": "https://r.example"}, "authScheme": []})
    assert r.status_code == 500 and "tmp" in sb.rows  # written, then the reload failed
    assert "Some registries failed to register" in sb.log()
    assert sb.restart(check=False) is False
    r = api(sb, "GET", REGISTRIES)
    assert r.status_code == 502 and r.headers["Content-Type"].startswith("text/html")
    with pytest.raises(ServerDidNotStart):
        sb.restart()
    sb.insert_row({**sb.rows["gitea"], "auth": {"url": "https://gitea.example"}})
    assert sb.restart() is True and api(sb, "GET", REGISTRIES).status_code == 200


def test_launcher_helpers(sb):
    """The same helpers as the real-server launcher: rows(), insert_row(), requests(), writes(), log()..."""
    assert [row["name"] for row in sb.rows()] == BUILTINS and sb.db_rows() == sb.rows()
    assert sb.log_tail(1) == "Registering 0 registries"
    sb.rows()[0]["name"] = "changed"  # a copy
    assert sb.rows["ecr"]["name"] == "ecr"
    rows(sb)
    assert sb.requests() == [{"method": "GET", "path": "/api/container-registries", "status": 200}]
    stored = sb.insert_row({"name": "hotio", "provider": "hotio", "authScheme": [], "authSet": False,
                            "canAuth": False, "canAnonymous": True})
    assert len(stored["_id"]) == 24 and sb.rows()[-1] == stored  # raw: no timestamps added


# ----- the fixed flavour -------------------------------------------------------------------------
def test_fixed_update_and_reset(fixed):
    ok_write(api(fixed, "POST", REGISTRIES + "/ghcr", json=GHCR_AUTH))
    assert fixed.registering() == [0, 1] and fixed.registered()["ghcr"] == GHCR_AUTH["auth"]
    ok_write(api(fixed, "PATCH", REGISTRIES + "/ghcr"))
    row = rows(fixed)["ghcr"]
    assert "auth" not in row and row["authSet"] is False
    assert fixed.registering() == [0, 1, 0] and "ghcr" not in fixed.registered()


@pytest.mark.parametrize("method,body", [("POST", {"auth": {}}), ("PUT", {"auth": {}, "authScheme": []})])
def test_fixed_refuses_empty_auth(fixed, method, body):
    error(api(fixed, method, REGISTRIES + "/ghcr", json=body), 400, ["auth should not be empty"],
          "BadRequestException", REGISTRIES + "/ghcr")


def test_fixed_skips_a_row_that_cannot_register(fixed):
    fixed.insert_row({"name": "gitea", "provider": "gitea", "auth": {"url": 123}, "authSet": True,
                      "authScheme": [], "canAuth": True, "canAnonymous": False})
    ok_write(api(fixed, "POST", REGISTRIES + "/ghcr", json=GHCR_AUTH))
    assert fixed.registered() == {"hub": {}, "ghcr": GHCR_AUTH["auth"]}
    assert fixed.restart() is True


def test_fixed_keeps_the_proxy(fixed):
    error(api(fixed, "DELETE", f"{REGISTRIES}/a%2Fb"), 404, f"Cannot DELETE {REGISTRIES}/a/b", "NotFoundException",
          f"{REGISTRIES}/a/b")


def test_flavour_is_checked():
    with pytest.raises(ValueError):
        Sandbox(flavour="broken")


def test_cli_flavour(tmp_path):
    proc = subprocess.Popen([sys.executable, str(SANDBOX_SCRIPT), "--port", "0", "--api-key", "cli-key",
                             "--flavour", "fixed"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = proc.stdout.readline().strip().rsplit(" ", 1)[1]
        r = requests.post(url + "/api" + REGISTRIES + "/ghcr", json=GHCR_AUTH,
                          headers={"Authorization": "Bearer cli-key"}, timeout=10)
        assert r.status_code == 200
        assert requests.get(url + "/_sandbox/registered", timeout=10).json()["ghcr"] == GHCR_AUTH["auth"]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
