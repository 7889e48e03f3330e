from __future__ import annotations

import json
import os
import socket
import tempfile
import threading

import pytest
from ansible.module_utils.testing import patch_module_args
from ansible_collections.hyperbun.canary.plugins.module_utils._haproxy_runtime import parse_servers_state
from ansible_collections.hyperbun.canary.plugins.modules import haproxy_weight

HEADER = (
    "# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight "
    "srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state "
    "srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl "
    "srv_check_port srv_check_addr srv_agent_addr srv_agent_port"
)


class FakeHAProxy:
    """Answers the runtime API commands the module uses, like HAProxy 2.6 does."""

    def __init__(self, path, level="admin"):
        self.level = level
        self.cap = 256
        self.servers = {
            "app1-production": {"weight": 19, "admin": 0, "scur": 0, "port": 3000},
            "app1-canary": {"weight": 1, "admin": 0, "scur": 0, "port": 3001},
        }
        self.commands = []
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(16)
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                conn, _address = self.sock.accept()
            except OSError:
                return
            with conn:
                line = conn.makefile().readline().strip()
                self.commands.append(line)
                conn.sendall(self.answer(line).encode())

    def answer(self, line):
        words = line.split()
        if line == "show cli level":
            return self.level + "\n"
        if words[:3] == ["show", "servers", "state"]:
            if len(words) > 3 and words[3] != "hyperbun":
                return "Can't find backend.\n"
            rows = [
                f"3 hyperbun {i} {name} 10.0.0.{i} 2 {s['admin']} {s['weight']} 19"
                f" 5 6 3 4 6 0 0 0 app1 {s['port']} - 0 0 - - 0"
                for i, (name, s) in enumerate(self.servers.items(), 1)
            ]
            return "1\n" + HEADER + "\n" + "\n".join(rows) + "\n\n"
        if line == "show stat":
            rows = [f"hyperbun,{name},0,0,{s['scur']},0" for name, s in self.servers.items()]
            return "# pxname,svname,qcur,qmax,scur,smax\n" + "\n".join(["hyperbun,BACKEND,0,0,0,0", *rows]) + "\n"
        if self.level != "admin":
            return "Permission denied\n"
        if words[:2] == ["set", "weight"]:
            # A weight above the cap is taken as the cap, without a word (a stand-in for any process that
            # answers a change and holds something else).
            self.servers[words[2].split("/")[1]]["weight"] = min(int(words[3]), self.cap)
            return ""
        if words[:2] == ["set", "server"]:
            server = self.servers[words[2].split("/")[1]]
            server["admin"] = (server["admin"] | 0x08) if words[4] == "drain" else (server["admin"] & ~0x08)
            return ""
        return "Unknown command\n"

    def close(self):
        self.sock.close()


@pytest.fixture
def workdir():
    with tempfile.TemporaryDirectory(prefix="hw") as path:
        yield path


@pytest.fixture
def haproxy(workdir):
    fake = FakeHAProxy(os.path.join(workdir, "admin.sock"))
    yield fake
    fake.close()


def run(capsys, **args):
    with patch_module_args(args), pytest.raises(SystemExit) as exit_info:
        haproxy_weight.main()
    result = json.loads(capsys.readouterr().out)
    result["rc"] = exit_info.value.code
    return result


def sets(haproxy):
    return [c for c in haproxy.commands if c.startswith("set ")]


def test_sets_weights_reads_back_and_writes_state_file(capsys, haproxy, workdir):
    state_file = os.path.join(workdir, "hyperbun.state")
    result = run(
        capsys,
        socket=haproxy.sock.getsockname(),
        backend="hyperbun",
        weights={"app1-production": 1, "app1-canary": 3},
        state_file=state_file,
    )
    assert result["rc"] == 0
    assert result["changed"] is True
    assert result["weights"] == {"app1-production": 1, "app1-canary": 3}
    assert sets(haproxy) == ["set weight hyperbun/app1-production 1", "set weight hyperbun/app1-canary 3"]
    with open(state_file) as handle:
        saved = parse_servers_state(handle.read())
    assert {name: s["uweight"] for name, s in saved.items()} == {"app1-production": 1, "app1-canary": 3}
    assert "app1-canary weight 1" in result["diff"][0]["before"]
    assert "app1-canary weight 3" in result["diff"][0]["after"]

    again = run(
        capsys,
        socket=haproxy.sock.getsockname(),
        backend="hyperbun",
        weights={"app1-production": 1, "app1-canary": 3},
        state_file=state_file,
    )
    assert again["changed"] is False
    assert len(sets(haproxy)) == 2


def test_check_mode_changes_nothing(capsys, haproxy, workdir):
    state_file = os.path.join(workdir, "hyperbun.state")
    result = run(
        capsys,
        socket=haproxy.sock.getsockname(),
        backend="hyperbun",
        weights={"app1-canary": 50},
        state_file=state_file,
        _ansible_check_mode=True,
    )
    assert result["changed"] is True
    assert result["weights"]["app1-canary"] == 50
    assert sets(haproxy) == []
    assert not os.path.exists(state_file)
    assert haproxy.servers["app1-canary"]["weight"] == 1


def test_drain_before_weight_zero_then_ready_again(capsys, haproxy):
    result = run(capsys, socket=haproxy.sock.getsockname(), backend="hyperbun", weights={"app1-canary": 0}, drain=True)
    assert result["draining"] == ["app1-canary"]
    assert sets(haproxy) == ["set server hyperbun/app1-canary state drain", "set weight hyperbun/app1-canary 0"]
    result = run(capsys, socket=haproxy.sock.getsockname(), backend="hyperbun", weights={"app1-canary": 2}, drain=True)
    assert result["draining"] == []
    assert sets(haproxy)[-1] == "set server hyperbun/app1-canary state ready"


def test_drain_timeout_fails_without_zeroing_the_weight(capsys, haproxy):
    haproxy.servers["app1-canary"]["scur"] = 3
    result = run(
        capsys,
        socket=haproxy.sock.getsockname(),
        backend="hyperbun",
        weights={"app1-canary": 0},
        drain=True,
        drain_timeout=1,
    )
    assert result["rc"] == 1
    assert "still has sessions" in result["msg"]
    assert haproxy.servers["app1-canary"]["weight"] == 1


@pytest.mark.parametrize(
    ("args", "message", "missing"),
    [
        ({"weights": {"app9-production": 1}}, "has no server app9-production", ["app9-production"]),
        ({"weights": {"app1-production": 1}, "backend": "other"}, "does not know backend 'other'", ["app1-production"]),
        ({"weights": {"app1-production": 257}}, "must be an integer from 0 to 256", None),
        ({"weights": {"app1-production": "ten"}}, "must be an integer from 0 to 256", None),
    ],
)
def test_bad_input_is_refused_before_any_change(capsys, haproxy, args, message, missing):
    result = run(capsys, **{"socket": haproxy.sock.getsockname(), "backend": "hyperbun", **args})
    assert result["rc"] == 1
    assert message in result["msg"]
    assert result.get("missing") == missing
    assert sets(haproxy) == []


def test_operator_level_socket_is_refused(capsys, workdir):
    fake = FakeHAProxy(os.path.join(workdir, "operator.sock"), level="operator")
    try:
        result = run(capsys, socket=fake.sock.getsockname(), backend="hyperbun", weights={"app1-production": 1})
    finally:
        fake.close()
    assert result["rc"] == 1
    assert "level 'operator', weights need level admin" in result["msg"]


def test_missing_socket_is_refused(capsys, workdir):
    result = run(capsys, socket=os.path.join(workdir, "absent.sock"), backend="hyperbun", weights={})
    assert result["rc"] == 1
    assert "does not exist" in result["msg"]


CONFIG = """\
global
    stats socket /run/haproxy/admin.sock level admin
defaults
    mode http
backend hyperbun
    balance roundrobin
    server app1-production app1:3000 check weight 19 # production
    server app1-canary app1:3001 check
backend other
    server app1-canary app1:3001 weight 5
"""


def test_addresses_exclusive_and_config_persisted(capsys, haproxy, workdir):
    config = os.path.join(workdir, "haproxy.cfg")
    with open(config, "w") as handle:
        handle.write(CONFIG)
    args = {
        "socket": haproxy.sock.getsockname(),
        "backend": "hyperbun",
        "weights": {"app1:3001": 2},
        "exclusive": True,
        "config": config,
        "validate": "true %s",
    }
    result = run(capsys, **args)
    assert result["changed"] is True
    assert result["config_changed"] is True
    assert result["weights"] == {"app1-production": 0, "app1-canary": 2}
    with open(config) as handle:
        written = handle.read()
    assert "server app1-production app1:3000 check weight 0 # production\n" in written
    assert "server app1-canary app1:3001 check weight 2\n" in written
    assert "server app1-canary app1:3001 weight 5\n" in written
    assert len(result["diff"]) == 2
    assert run(capsys, **args)["changed"] is False


def test_config_rejected_by_haproxy_changes_nothing(capsys, haproxy, workdir):
    config = os.path.join(workdir, "haproxy.cfg")
    with open(config, "w") as handle:
        handle.write(CONFIG)
    result = run(
        capsys,
        socket=haproxy.sock.getsockname(),
        backend="hyperbun",
        weights={"app1-canary": 7},
        config=config,
        validate="false %s",
    )
    assert result["rc"] == 1
    assert "HAProxy rejects the configuration" in result["msg"]
    assert sets(haproxy) == []
    with open(config) as handle:
        assert handle.read() == CONFIG


def test_a_weight_not_held_when_read_back_fails_naming_the_run_time(capsys, haproxy, workdir):
    haproxy.cap = 2
    state_file = os.path.join(workdir, "hyperbun.state")
    result = run(
        capsys,
        socket=haproxy.sock.getsockname(),
        backend="hyperbun",
        weights={"app1-production": 1, "app1-canary": 3},
        state_file=state_file,
    )
    assert result["rc"] == 1
    assert result["msg"] == (
        "HAProxy backend hyperbun does not hold the weights {'app1-production': 1, 'app1-canary': 3} when read back"
        " after the change: run time {'app1-canary': 2}"
    )
    assert result["weights"] == {"app1-production": 1, "app1-canary": 2}


def test_a_state_file_that_does_not_hold_the_weights_fails_naming_it(capsys, haproxy, workdir, monkeypatch):
    state_file = os.path.join(workdir, "hyperbun.state")
    # The file is written, then something else writes it again before it is read back.
    written = haproxy_weight.write_atomic

    def write_then_spoil(module, path, text, mode):
        written(module, path, text, mode)
        if path == state_file:
            with open(path, "w") as handle:
                handle.write("1\n")

    monkeypatch.setattr(haproxy_weight, "write_atomic", write_then_spoil)
    result = run(
        capsys,
        socket=haproxy.sock.getsockname(),
        backend="hyperbun",
        weights={"app1-production": 1, "app1-canary": 3},
        state_file=state_file,
    )
    assert result["rc"] == 1
    assert result["msg"].endswith(f"when read back after the change: {state_file}"), result["msg"]
