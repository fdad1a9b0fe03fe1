"""The sandbox against the real servers: every exchange recorded from a real SSM (tests/contract/recorded/<label>/,
written by tests/realssm/record.py on the realssm branch) is replayed on the sandbox, in the recorder's order, and
the sandbox must answer alike: same status, same content type, same body (same keys in the same order, same
values) except volatile values (timestamps, _id, stack text), the same registry reloads (`Registering N
registries`), and for follow-up reads the same stored row.

v0.5.2 and head-a9076215 (the newest commit, same registry code) are replayed on the default flavour, v0.1.30
on version="0.1".
"""
import json
from pathlib import Path

import pytest
import requests

from tests.sandbox.ssm_sandbox import Sandbox

RECORDED = Path(__file__).parent / "recorded"
FLAVOURS = {"v0.5.2": dict(version="0.5"), "head-a9076215": dict(version="0.5"), "v0.1.30": dict(version="0.1")}
PASSWORD = "recorded-replay-password"
VOLATILE = {"timestamp", "_id", "createdAt", "updatedAt"}
RESET = "reset"

# The recorder's sequence (tests/realssm/record.py: Recorder.common, then per version after a reset); a step
# is a scenario, or (scenario, registry name) for the read that follows a write.
COMMON = [
    "login_ok", "login_wrong", "wrong_key_401", "list_fresh",
    "post_credentials_ghcr", ("row_after_post_ghcr", "ghcr"),
    "patch_reset_ghcr", ("row_after_patch_ghcr", "ghcr"),
    "post_auth_empty_quay", ("row_after_post_auth_empty_quay", "quay"),
    "patch_after_auth_empty_quay", ("row_after_auth_empty_and_patch_quay", "quay"),
    "put_custom", ("row_after_put_custom", "recorded-custom"),
    "put_existing", "delete_custom", "delete_builtin", "unknown_post", "unknown_patch", "unknown_delete",
    "post_empty_body", "put_without_authscheme",
    "put_name_with_space", ("row_name_with_space", "recorded space"), "delete_name_with_space",
    "put_name_with_slash_proxy", "unknown_route", "other_version_route",
]
V01_RESETS = [step for index, name in enumerate(("gcr", "acr", "lscr", "gitlab", "ecr"), 1)
              for step in (f"v01_reset{index}_a_post_secret_{name}", f"v01_reset{index}_b_post_{name}",
                           (f"v01_reset{index}_c_row_{name}", name), f"v01_reset{index}_d_patch_{name}",
                           (f"v01_reset{index}_e_row_{name}", name))]
V05_RELOADS = ["v05_reload_a_post_hub", "v05_reload_b_post_ghcr", "v05_reload_c_put_custom",
               "v05_reload_d_delete_custom", "v05_reload_e_patch_ghcr"]
V05_BAD_ROW = ["v05_badrow_a_post_gitea_url_number", ("v05_badrow_b_row_gitea", "gitea"), "v05_badrow_c_put_custom",
               "v05_badrow_d_restart"]
SEQUENCES = {"v0.5.2": COMMON + [RESET] + V05_RELOADS + [RESET] + V05_BAD_ROW,
             "head-a9076215": COMMON + [RESET] + V05_RELOADS + [RESET] + V05_BAD_ROW,
             "v0.1.30": COMMON + [RESET] + V01_RESETS}


def _scenario(step):
    return step[0] if isinstance(step, tuple) else step


def recordings(label):
    folder = RECORDED / label
    return {p.stem: json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))} if folder.is_dir() else {}


def normalize(value):
    """Volatile values replaced by their kind; every other value kept."""
    if isinstance(value, dict):
        return {k: ("<%s>" % k if k in VOLATILE and isinstance(v, str) else
                    "<stack>" if k == "stack" and isinstance(v, str) else normalize(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [normalize(v) for v in value]
    return value


def key_orders(value, where="$"):
    """Every object's keys in order, `_id` left out: the realssm launcher's reset re-inserts the rows with `_id`
    first, a fresh server stores it after the schema's fields; the sandbox is a fresh server."""
    found = []
    if isinstance(value, dict):
        found.append((where, [k for k in value if k != "_id"]))
        for k, v in value.items():
            found.extend(key_orders(v, f"{where}.{k}"))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found.extend(key_orders(v, f"{where}[{i}]"))
    return found


class Replay:
    """Runs a label's sequence once on a fresh sandbox and keeps what it answered, per scenario."""

    def __init__(self, label):
        self.label = label
        self.recorded = recordings(label)
        self.sb = Sandbox(api_key="replay-key", username="admin@example.com", password=PASSWORD,
                          **FLAVOURS[label]).start()
        self.v05 = self.sb.version == "0.5"
        self.session = requests.Session()
        self.answers = {}
        try:
            for step in SEQUENCES[label]:
                if step == RESET:
                    self.sb.reset()
                elif _scenario(step) in self.recorded:
                    self.answers[_scenario(step)] = self.play(step)
        finally:
            self.sb.stop()

    def play(self, step):
        scenario = _scenario(step)
        record = self.recorded[scenario]
        if "request" not in record:  # the restart after a bad row
            return {"restart_came_up": self.sb.restart(check=False)}
        request = record["request"]
        body = request.get("body")
        if isinstance(body, dict) and body.get("password") == "<admin password>":
            body = dict(body, password=PASSWORD)
        session, headers = self.session, {}
        if scenario in ("login_ok", "login_wrong"):
            session = requests.Session()
        elif scenario == "wrong_key_401":
            session, headers = requests.Session(), {"Authorization": "Bearer 00000000-0000-0000-0000-000000000000"}
        elif self.v05:
            headers = {"Authorization": f"Bearer {self.sb.api_key}"}
        elif "jwt" not in self.session.cookies:  # v0.1: the recorder logs its session in before the registry calls
            self.session.post(self.sb.url + "/api/users/login",
                              json={"username": self.sb.username, "password": PASSWORD}, timeout=10)
        before = len(self.sb.registering())
        kwargs = {"headers": headers, "timeout": 10}
        if body is not None:
            kwargs["json"] = body
        answer = session.request(request["method"], self.sb.url + request["path"], **kwargs)
        response = {"status": answer.status_code, "content_type": answer.headers.get("Content-Type")}
        try:
            response["json"] = answer.json()
        except ValueError:
            response["text"] = answer.text
        if "Set-Cookie" in answer.headers:
            cookie = answer.headers["Set-Cookie"]  # the value hidden, as the recorder does
            attributes = ";" + cookie.split(";", 1)[1] if ";" in cookie else ""
            response["set_cookie"] = [cookie.split("=", 1)[0] + "=..." + attributes]
        played = {"response": response, "reloads": self.sb.registering()[before:]}
        if isinstance(step, tuple):
            rows = (response.get("json") or {}).get("data", {}).get("registries", [])
            played["row"] = next((r for r in rows if r.get("name") == step[1]), None)
        return played


_REPLAYS = {}


def replay(label):
    if label not in _REPLAYS:
        _REPLAYS[label] = Replay(label)
    return _REPLAYS[label]


CASES = [pytest.param(label, scenario, id=f"{label}/{scenario}")
         for label in FLAVOURS for scenario in sorted(recordings(label))]


@pytest.mark.skipif(not CASES, reason="no recorded exchanges yet")
@pytest.mark.parametrize("label,scenario", CASES or [pytest.param("-", "-", id="none")])
def test_recorded_exchange(label, scenario):
    run = replay(label)
    recorded = run.recorded[scenario]
    assert scenario in run.answers, f"{scenario} is not in the replay sequence: add it to SEQUENCES"
    got = run.answers[scenario]
    if "restart_came_up" in recorded:
        assert got["restart_came_up"] == recorded["restart_came_up"]
        return
    want, have = recorded["response"], got["response"]
    assert have["status"] == want["status"]
    assert have["content_type"] == want["content_type"]
    if "json" in want:
        assert "json" in have, have.get("text", "")[:300]
        assert normalize(have["json"]) == normalize(want["json"])
        assert key_orders(have["json"]) == key_orders(want["json"])
    else:
        assert have.get("text") == want["text"]
    assert have.get("set_cookie") == want.get("set_cookie")
    assert got["reloads"] == recorded["reloads"]
    if "row" in recorded:
        assert normalize(got["row"]) == normalize(recorded["row"])
        assert key_orders(got["row"]) == key_orders(recorded["row"])


@pytest.mark.parametrize("label", list(FLAVOURS))
def test_every_recording_is_replayed(label):
    known = {_scenario(step) for step in SEQUENCES[label] if step != RESET}
    assert sorted(set(recordings(label)) - known) == []
