"""registry_login against real registries and auth servers on 127.0.0.1.

No HTTP is mocked: every check below talks over sockets to docker-registry,
the token server, moto, or the TLS Azure/ACR server from registries.py.
"""

import base64
import json
import os
import sys

import pytest
import requests

from ansible_collections.squirrel.ssm.plugins.module_utils.registry_login_docker import parse_www_authenticate

from .conftest import load_registry_login
from .registries import USERS, free_port


def b64(user, password):
    return base64.b64encode(f"{user}:{password}".encode()).decode()


ALICE = USERS["alice"]


# ---------------------------------------------------------------------------
# WWW-Authenticate parsing
# ---------------------------------------------------------------------------

def test_parse_www_authenticate_quoted_commas():
    header = ('Bearer realm="https://auth.example/token?a=1,2",service="reg,istry",'
              'scope="repository:a/b:pull,push", error="insufficient_scope"')
    assert parse_www_authenticate(header) == {"bearer": {
        "realm": "https://auth.example/token?a=1,2", "service": "reg,istry",
        "scope": "repository:a/b:pull,push", "error": "insufficient_scope"}}
    both = parse_www_authenticate('Basic realm="a \\"b\\", c", Bearer realm=https://t/x ,service=s')
    assert both == {"basic": {"realm": 'a "b", c'}, "bearer": {"realm": "https://t/x", "service": "s"}}
    assert parse_www_authenticate("") == {}


# ---------------------------------------------------------------------------
# docker login flow: Basic (htpasswd) and Bearer (token) registries
# ---------------------------------------------------------------------------

@pytest.fixture(params=["basic", "token"])
def registry(request):
    return request.getfixturevalue(f"{request.param}_registry")


def test_custom_good_password(check, registry):
    result = check("custom", {"url": registry.url, "login": "alice", "password": ALICE})
    assert result.verified is True, result.message
    assert f"127.0.0.1:{registry.port}" in result.message and "accepted" in result.message


def test_custom_wrong_password(check, registry):
    result = check("custom", {"url": registry.url, "login": "alice", "password": ALICE + "x"})
    assert result.verified is False and not result.unreachable
    assert f"registry 127.0.0.1:{registry.port} rejected the credentials of custom" in result.message


def test_custom_unknown_user(check, registry):
    result = check("custom", {"url": registry.url + "/v2", "login": "mallory", "password": ALICE})
    assert result.verified is False


def test_custom_base64_auth(check, registry):
    assert check("custom", {"url": registry.url, "auth": b64("alice", ALICE)}).verified is True
    result = check("custom", {"url": registry.url, "auth": b64("alice", "nope-" + ALICE)})
    assert result.verified is False, result.message


def test_auth_that_is_not_base64(check, registry):
    result = check("custom", {"url": registry.url, "auth": "alice:" + ALICE})
    assert result.verified is False and "base64" in result.message


def test_token_request_is_docker_login(check, token_registry, token_server):
    """Credentials are sent, no scope is asked, and the realm's own query
    (with a comma inside the quoted challenge) survives."""
    del token_server.requests[:]
    assert check("ghcr", {"username": "octocat", "token": USERS["octocat"]},
                 registry_url=token_registry.url).verified is True
    (req,) = [r for r in token_server.requests if r.path == "/token"]
    assert req.basic == ("octocat", USERS["octocat"])
    assert "scope" not in req.query
    assert req.query == {"tenant": "a,b", "service": token_server.service, "account": "octocat",
                         "client_id": "squirrel.ssm", "offline_token": "true"}


@pytest.mark.parametrize("provider,credentials", [
    ("hub", {"login": "alice", "password": ALICE}),
    ("hub", {"login": "alice", "token": ALICE}),  # deprecated spelling
    ("ghcr", {"username": "octocat", "token": USERS["octocat"]}),
    ("lscr", {"username": "octocat", "token": USERS["octocat"]}),
    ("quay", {"namespace": "myorg", "account": "robot", "token": USERS["myorg+robot"]}),
    ("gitlab", {"url": "https://registry.gitlab.example", "authurl": "https://gitlab.example",
                "token": USERS[""]}),
    ("gitea", {"url": "gitea.example", "auth": b64("alice", ALICE)}),
    ("forgejo", {"url": "https://forgejo.example", "login": "alice", "password": ALICE}),
])
def test_providers_through_registry_url(check, token_registry, provider, credentials):
    result = check(provider, credentials, registry_url=token_registry.url)
    assert result.verified is True, result.message
    wrong = {k: (v + "x" if k in ("password", "token") else v) for k, v in credentials.items()}
    if "auth" in wrong:
        wrong["auth"] = b64("alice", "x" + ALICE)
    result = check(provider, wrong, registry_url=token_registry.url)
    assert result.verified is False and f"rejected the credentials of {provider}" in result.message


def test_providers_on_basic_registry(check, basic_registry):
    assert check("hub", {"auth": b64("alice", ALICE)}, registry_url=basic_registry.url).verified is True
    assert check("ghcr", {"username": "octocat", "token": "bad"},
                 registry_url=basic_registry.url).verified is False


def test_anonymous_tokens_are_not_success(check, token_registry, token_server):
    """The token server gives anyone a token that opens /v2/; a check that
    fetched a token without credentials would say "ok".  Ours does not."""
    anonymous = requests.get(token_server.realm, params={"service": token_server.service}, timeout=5).json()
    assert requests.get(token_registry.url + "/v2/", timeout=5,
                        headers={"Authorization": "Bearer " + anonymous["token"]}).status_code == 200
    result = check("custom", {"url": token_registry.url, "login": "alice", "password": "guess"})
    assert result.verified is False
    assert "token server http://127.0.0.1" in result.message and "answered 401" in result.message


def test_open_registry_has_nothing_to_check(check, open_registry):
    result = check("custom", {"url": open_registry.url, "login": "alice", "password": ALICE})
    assert result.verified is None and "open" in result.message


def test_no_credentials(check):
    assert check("hub", {}).verified is None
    assert check("ghcr", {"username": "octocat"}).verified is None
    assert check("hotio", {"token": "some-token"}).verified is None


def test_incomplete_credentials(check, basic_registry):
    result = check("custom", {"url": basic_registry.url, "password": ALICE})
    assert result.verified is False and "lack login" in result.message


def test_rotated_password_is_rejected(check, basic_registry):
    old = USERS["rotor"]
    creds = {"url": basic_registry.url, "login": "rotor", "password": old}
    assert check("custom", creds).verified is True
    basic_registry.set_password("rotor", old + "-rotated")
    try:
        result = check("custom", creds)
        assert result.verified is False and "rejected" in result.message
        assert check("custom", dict(creds, password=old + "-rotated")).verified is True
    finally:
        basic_registry.set_password("rotor", old)


# ---------------------------------------------------------------------------
# Unreachable addresses
# ---------------------------------------------------------------------------

def test_unreachable_port(check):
    port = free_port()
    result = check("ghcr", {"username": "octocat", "token": "t0ken-value"}, registry_url=f"http://127.0.0.1:{port}")
    assert result.unreachable is True and result.verified is False
    assert result.message == (f"cannot reach registry http://127.0.0.1:{port} (connection refused): "
                              "check registry_url")


def test_unreachable_name(check):
    result = check("custom", {"url": "https://registry.invalid", "login": "a", "password": "p4ss-word"})
    assert result.unreachable is True
    assert "cannot reach registry https://registry.invalid:443 (name does not resolve)" in result.message


def test_gitea_url_without_scheme_is_https(check, basic_registry):
    """SSM prefixes https:// to a gitea url without scheme; so does the check
    (here against a plain-http registry, hence a TLS error naming the address)."""
    result = check("gitea", {"url": f"127.0.0.1:{basic_registry.port}", "login": "alice", "password": ALICE})
    assert result.unreachable is True
    assert f"cannot reach registry https://127.0.0.1:{basic_registry.port} (TLS error" in result.message


# ---------------------------------------------------------------------------
# ECR against moto with IAM enforcement
# ---------------------------------------------------------------------------

def ecr_creds(aws, **changes):
    creds = {k: aws[k] for k in ("accesskeyid", "secretaccesskey", "region")}
    creds.update(changes)
    return creds


def test_ecr_good_keys(check, aws_iam):
    result = check("ecr", ecr_creds(aws_iam), aws_endpoint_url=aws_iam["endpoint"])
    assert result.verified is True, result.message


def test_ecr_wrong_secret(check, aws_iam):
    creds = ecr_creds(aws_iam, secretaccesskey=aws_iam["secretaccesskey"][:-4] + "AAAA")
    result = check("ecr", creds, aws_endpoint_url=aws_iam["endpoint"])
    assert result.verified is False and "SignatureDoesNotMatch" in result.message


def test_ecr_unknown_key(check, aws_iam):
    creds = ecr_creds(aws_iam, accesskeyid="AKIAIOSFODNN7EXAMPLE")
    result = check("ecr", creds, aws_endpoint_url=aws_iam["endpoint"])
    assert result.verified is False and "InvalidClientTokenId" in result.message


def test_ecr_unreachable(check):
    port = free_port()
    result = check("ecr", {"accesskeyid": "AKIAIOSFODNN7EXAMPLE", "secretaccesskey": "s3cret/value",
                           "region": "eu-west-1"}, aws_endpoint_url=f"http://127.0.0.1:{port}")
    assert result.unreachable is True and f"http://127.0.0.1:{port}" in result.message


@pytest.fixture
def aws_env(monkeypatch, tmp_path):
    """An AWS environment that sees nothing of the machine's own."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return tmp_path


def test_ecr_keys_from_environment(rl, aws_env, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAENVEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "env-secret")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-central-1")
    assert rl.ecr_keys_from_aws() == {"accesskeyid": "AKIAENVEXAMPLE", "secretaccesskey": "env-secret",
                                      "region": "eu-central-1"}
    monkeypatch.setenv("AWS_SESSION_TOKEN", "session-token")
    with pytest.raises(ValueError, match="long-term access keys"):
        rl.ecr_keys_from_aws()


def test_ecr_keys_from_profile(rl, aws_env):
    (aws_env / "credentials").write_text("[squirrel]\naws_access_key_id = AKIAPROFILE\n"
                                         "aws_secret_access_key = profile-secret\n")
    (aws_env / "config").write_text("[profile squirrel]\nregion = us-west-2\n")
    assert rl.ecr_keys_from_aws("squirrel") == {"accesskeyid": "AKIAPROFILE", "secretaccesskey": "profile-secret",
                                                "region": "us-west-2"}
    with pytest.raises(ValueError, match="nosuch"):
        rl.ecr_keys_from_aws("nosuch")


def test_ecr_keys_none_found(rl, aws_env):
    with pytest.raises(ValueError, match="no AWS credentials"):
        rl.ecr_keys_from_aws()


# ---------------------------------------------------------------------------
# GCR
# ---------------------------------------------------------------------------

def test_gcr_json_key_docker_login(check, gcr_account, token_registry, token_server):
    del token_server.requests[:]
    assert check("gcr", gcr_account, registry_url=token_registry.url).verified is True
    assert [r.basic[0] for r in token_server.requests if r.path == "/token"] == ["_json_key"]
    from .registries import new_rsa_key, pem_of
    other = dict(gcr_account, privatekey=pem_of(new_rsa_key()))
    assert check("gcr", other, registry_url=token_registry.url).verified is False


def test_load_gcr_key_file(rl, gcr_account, tmp_path):
    path = tmp_path / "key.json"
    path.write_text(json.dumps({"type": "service_account", "project_id": "p", "client_email": gcr_account["clientemail"],
                                "private_key": gcr_account["privatekey"], "private_key_id": "0123"}))
    assert rl.load_gcr_key_file(str(path)) == gcr_account


@pytest.mark.parametrize("content,match", [
    ("{not json", "is not JSON"),
    ('{"type": "authorized_user"}', "not a service-account key"),
    ('{"type": "service_account", "client_email": "a@b"}', "lacks private_key"),
])
def test_load_gcr_key_file_malformed(rl, tmp_path, content, match):
    path = tmp_path / "key.json"
    path.write_text(content)
    with pytest.raises(ValueError, match=match):
        rl.load_gcr_key_file(str(path))


def test_load_gcr_key_file_broken_key(rl, gcr_account, tmp_path):
    path = tmp_path / "key.json"
    truncated = gcr_account["privatekey"][:300]
    path.write_text(json.dumps({"type": "service_account", "client_email": "a@b", "private_key": truncated}))
    with pytest.raises(ValueError, match="cannot be loaded") as err:
        rl.load_gcr_key_file(str(path))
    assert truncated.splitlines()[1] not in str(err.value)
    with pytest.raises(ValueError, match="cannot read"):
        rl.load_gcr_key_file(str(tmp_path / "absent.json"))


# ---------------------------------------------------------------------------
# ACR: Basic on the login server, and Azure AD + /oauth2/exchange
# ---------------------------------------------------------------------------

def acr_creds(azure, **changes):
    return dict({"clientid": azure["clientid"], "clientsecret": azure["clientsecret"]}, **changes)


def test_acr_needs_login_server(check, azure):
    result = check("acr", acr_creds(azure))
    assert result.verified is None and "acr_login_server" in result.message


def test_acr_basic(check, azure):
    server = azure["url"].split("://")[1]  # as a user gives it: host[:port]
    good = check("acr", acr_creds(azure), acr_login_server=server, ca_path=azure["ca_path"])
    assert good.verified is True, good.message
    bad = check("acr", acr_creds(azure, clientsecret="wrong-secret"), acr_login_server=server,
                ca_path=azure["ca_path"])
    assert bad.verified is False and f"ACR login server {server} rejected" in bad.message


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_acr_tls_settings(check, azure):
    """validate_certs / ca_path reach the HTTP calls."""
    unknown_ca = check("acr", acr_creds(azure), acr_login_server=azure["url"])
    assert unknown_ca.unreachable is True and "certificate verify failed" in unknown_ca.message
    assert check("acr", acr_creds(azure), acr_login_server=azure["url"],
                 validate_certs=False).verified is True


def test_acr_azure_ad(check, azure):
    kwargs = {"acr_login_server": azure["url"], "acr_tenant_id": azure["tenant"],
              "acr_authority_host": azure["url"], "ca_path": azure["ca_path"]}
    good = check("acr", acr_creds(azure), **kwargs)
    assert good.verified is True, good.message
    bad = check("acr", acr_creds(azure, clientsecret="wrong-secret"), **kwargs)
    assert bad.verified is False and "AADSTS7000215" in bad.message


def test_acr_azure_ad_unreachable(check, azure):
    port = free_port()
    result = check("acr", acr_creds(azure), acr_login_server=azure["url"], acr_tenant_id=azure["tenant"],
                   acr_authority_host=f"https://127.0.0.1:{port}", ca_path=azure["ca_path"])
    assert result.unreachable is True and f"https://127.0.0.1:{port}" in result.message
    assert "check acr_authority_host" in result.message  # an option that exists


def test_no_hint_names_an_option_that_does_not_exist(rl):
    """Every option a message tells the user to check is a real option of ssm_registry."""
    import inspect
    import re
    from ansible_collections.squirrel.ssm.plugins.modules import ssm_registry
    options = set(ssm_registry.argument_spec()) | set(ssm_registry.argument_spec()['registries']['options'])
    source = inspect.getsource(rl)
    named = set(re.findall(r'"([a-z]+_[a-z_]+)"\) from None', source)) | set(
        re.findall(r'"(acr_[a-z_]+|gcr_[a-z_]+|azure_[a-z_]+|registry_[a-z_]+)', source))
    assert named and named <= options, named - options
    assert 'gcr_token_uri' not in inspect.signature(rl.check_credentials).parameters


# ---------------------------------------------------------------------------
# Missing optional libraries
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("blocked,library,call", [
    ("boto3", "boto3", lambda rl: rl.check_credentials(
        "ecr", {"accesskeyid": "AKIA", "secretaccesskey": "s", "region": "eu-west-1"})),
    ("boto3", "boto3", lambda rl: rl.ecr_keys_from_aws()),
    ("google", "google-auth", lambda rl: rl.load_gcr_key_file("/nonexistent.json")),
    ("azure", "azure-identity", lambda rl: rl.check_credentials(
        "acr", {"clientid": "c", "clientsecret": "s"}, acr_login_server="r.example", acr_tenant_id="t")),
])
def test_missing_library(rl, monkeypatch, blocked, library, call):
    for name in [n for n in sys.modules if n == blocked or n.startswith(blocked + ".")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, blocked, None)  # makes `import blocked` fail
    with pytest.raises(rl.MissingLibrary) as err:
        call(rl)
    assert err.value.library == library
    assert "Error" in err.value.traceback  # the import traceback, for the module's `exception=`


def test_missing_requests(monkeypatch):
    monkeypatch.setitem(sys.modules, "requests", None)
    monkeypatch.delitem(sys.modules, "requests.auth", raising=False)
    fresh = load_registry_login(fresh=True)
    with pytest.raises(fresh.MissingLibrary) as err:
        fresh.check_credentials("ghcr", {"username": "u", "token": "t"})
    assert err.value.library == "requests"


# ---------------------------------------------------------------------------
# One status per outcome, and hints in the caller's own terms
# ---------------------------------------------------------------------------

def test_each_outcome_has_its_status(check, basic_registry, open_registry):
    closed = f"http://127.0.0.1:{free_port()}"
    statuses = {
        "accepted": check("custom", {"url": basic_registry.url, "login": "alice", "password": ALICE}),
        "rejected": check("custom", {"url": basic_registry.url, "login": "alice", "password": "wrong-pass"}),
        "unreachable": check("custom", {"url": closed, "login": "alice", "password": ALICE}),
        "anonymous_only": check("custom", {"url": open_registry.url, "login": "alice", "password": ALICE}),
        "not_verifiable": check("acr", {"clientid": "c1d2", "clientsecret": "acr-secret-value"}),
        "not_checked": check("hub", {}),
    }
    for status, result in statuses.items():
        assert result.status == status, (status, result)
    assert [statuses[s].verified for s in ("accepted", "rejected", "unreachable")] == [True, False, False]
    assert all(statuses[s].verified is None for s in ("anonymous_only", "not_verifiable", "not_checked"))
    # Credentials no login can succeed with are rejected without asking the registry.
    assert check("custom", {"url": basic_registry.url, "password": ALICE}).status == "rejected"


def test_an_address_that_is_no_registry_is_unreachable(check, token_server):
    result = check("custom", {"url": token_server.url, "login": "alice", "password": ALICE})
    assert result.status == "unreachable"
    assert result.message.endswith("does not look like a container registry: check credentials.url or registry_url")


def test_the_hint_names_only_what_the_caller_has(check, aws_iam):
    closed = f"http://127.0.0.1:{free_port()}"
    creds = {"url": closed, "login": "alice", "password": ALICE}
    assert check("custom", creds).message.endswith("(connection refused): check credentials.url or registry_url")
    stored = dict(hint_options=(), hint_fields="the %s SSM stores")
    assert check("custom", creds, **stored).message.endswith("(connection refused): check the url SSM stores")
    assert check("ghcr", {"username": "octocat", "token": "t0ken-value"}, registry_url=closed,
                 **stored).message.endswith("check the network from this host")
    keys = {"accesskeyid": "AKIAIOSFODNN7EXAMPLE", "secretaccesskey": "s3cret/value", "region": "eu-west-1"}
    assert check("ecr", keys, aws_endpoint_url=closed).message.endswith("check credentials.region")
    assert check("ecr", keys, aws_endpoint_url=closed, **stored).message.endswith("check the region SSM stores")
    acr = check("acr", {"clientid": "c1d2", "clientsecret": "acr-secret-value"}, **stored)
    assert "acr_login_server" not in acr.message.split(":")[0] and "squirrel.ssm.ssm_registry" in acr.message
