"""hyperbun.canary.haproxy_map against a stand-in for HAProxy's admin socket (a Unix-socket server in a thread that
answers `show map`, `set map` and `add map` as HAProxy 2.6 does; HAProxy itself is not installed here, the traffic
Molecule scenario runs the module against the real one), and the lease's drain of a sticky canary's map entry."""

from __future__ import annotations

import importlib.util
import json
import os
import pathlib
import socket
import tempfile
import threading

import pytest
from ansible.module_utils.testing import patch_module_args
from ansible_collections.hyperbun.canary.plugins.modules import haproxy_map

ROOT = pathlib.Path(__file__).resolve().parents[4]
MAP = "/etc/haproxy/hyperbun-canary.map"


class FakeHAProxy:
    def __init__(self, path, maps, level="admin"):
        self.level = level
        self.maps = maps
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
                for command in line.split(";"):
                    self.commands.append(command.strip())
                    conn.sendall(self.answer(command.strip()).encode())

    def answer(self, line):
        words = line.split()
        if line == "show cli level":
            return self.level + "\n"
        if words[:2] in (["show", "map"], ["set", "map"], ["add", "map"]) and words[2] not in self.maps:
            return "Unknown map identifier. Please use #<id> or <file>.\n\n"
        if words[:2] == ["show", "map"]:
            return "".join(f"0x55d0{i:08x} {k} {v}\n" for i, (k, v) in enumerate(self.maps[words[2]].items())) + "\n"
        if self.level != "admin":
            return "Permission denied\n"
        if words[:2] == ["set", "map"]:
            if words[3] not in self.maps[words[2]]:
                return "entry not found.\n\n"
            self.maps[words[2]][words[3]] = words[4]
            return "\n"
        if words[:2] == ["add", "map"]:
            self.maps[words[2]][words[3]] = words[4]
            return "\n"
        if words[:2] == ["set", "weight"]:
            return "\n"
        return "Unknown command\n"

    def close(self):
        self.sock.close()


@pytest.fixture
def workdir():
    with tempfile.TemporaryDirectory(prefix="hm") as path:
        yield pathlib.Path(path)


@pytest.fixture
def map_file(workdir):
    path = workdir / "hyperbun-canary.map"
    path.write_text("# shares of the sticky canaries\nother 7\nhyperbun 0\n")
    return path


@pytest.fixture
def haproxy(workdir, map_file):
    fake = FakeHAProxy(str(workdir / "admin.sock"), {str(map_file): {"other": "7", "hyperbun": "0"}})
    yield fake
    fake.close()


def run(capsys, **args):
    with patch_module_args(args), pytest.raises(SystemExit) as exit_info:
        haproxy_map.main()
    result = json.loads(capsys.readouterr().out)
    result["rc"] = exit_info.value.code
    return result


def changes(haproxy):
    return [c for c in haproxy.commands if c.startswith(("set ", "add "))]


def test_sets_the_entry_reads_it_back_and_persists_it(capsys, haproxy, map_file):
    args = {"socket": haproxy.sock.getsockname(), "map": str(map_file), "entries": {"hyperbun": 500}}
    result = run(capsys, **args)
    assert result["rc"] == 0, result
    assert result["changed"] is True
    assert result["entries"] == {"other": "7", "hyperbun": "500"}
    assert changes(haproxy) == [f"set map {map_file} hyperbun 500"]
    assert map_file.read_text() == "# shares of the sticky canaries\nother 7\nhyperbun 500\n"
    assert "hyperbun 0" in result["diff"][0]["before"] and "hyperbun 500" in result["diff"][0]["after"]

    again = run(capsys, **args)
    assert again["changed"] is False
    assert len(changes(haproxy)) == 1


def test_an_entry_the_map_lacks_is_added(capsys, haproxy, map_file):
    result = run(capsys, socket=haproxy.sock.getsockname(), map=str(map_file), entries={"shop": "2500"})
    assert result["rc"] == 0, result
    assert changes(haproxy) == [f"add map {map_file} shop 2500"]
    assert haproxy.maps[str(map_file)]["shop"] == "2500"
    assert map_file.read_text().splitlines()[-1] == "shop 2500"


def test_a_file_behind_the_running_map_is_written_alone(capsys, haproxy, map_file):
    haproxy.maps[str(map_file)]["hyperbun"] = "500"
    result = run(capsys, socket=haproxy.sock.getsockname(), map=str(map_file), entries={"hyperbun": "500"})
    assert result["changed"] is True and result["file_written"] is True
    assert changes(haproxy) == []
    assert "hyperbun 500" in map_file.read_text()


def test_check_mode_changes_nothing(capsys, haproxy, map_file):
    before = map_file.read_text()
    result = run(capsys, socket=haproxy.sock.getsockname(), map=str(map_file), entries={"hyperbun": 9999},
                 _ansible_check_mode=True)
    assert result["changed"] is True
    assert result["entries"]["hyperbun"] == "9999"
    assert changes(haproxy) == []
    assert map_file.read_text() == before
    assert haproxy.maps[str(map_file)]["hyperbun"] == "0"


@pytest.mark.parametrize(
    ("args", "message"),
    [({"map": "/etc/haproxy/unused.map"}, "has not loaded the map /etc/haproxy/unused.map"),
     ({"entries": {"hyperbun": "5 00"}}, "hold no white space"),
     ({"entries": {"": "500"}}, "hold no white space"),
     ({"socket": "/run/haproxy/missing.sock"}, "does not exist")],
)
def test_bad_input_is_refused_before_any_change(capsys, haproxy, map_file, args, message):
    before = map_file.read_text()
    result = run(capsys, **{"socket": haproxy.sock.getsockname(), "map": str(map_file),
                            "entries": {"hyperbun": "500"}, **args})
    assert result["rc"] == 1
    assert message in result["msg"]
    assert changes(haproxy) == []
    assert map_file.read_text() == before


def test_operator_level_socket_is_refused(capsys, workdir, map_file):
    fake = FakeHAProxy(str(workdir / "operator.sock"), {str(map_file): {"hyperbun": "0"}}, level="operator")
    try:
        result = run(capsys, socket=fake.sock.getsockname(), map=str(map_file), entries={"hyperbun": "500"})
    finally:
        fake.close()
    assert result["rc"] == 1
    assert "weights need level admin" in result["msg"]


def test_the_lease_drains_a_sticky_canary_map_entry_to_0(haproxy, map_file, workdir, monkeypatch):
    # The collection's HAProxy client and parsers, which the lease role writes beside the drain.
    monkeypatch.syspath_prepend(str(ROOT / "plugins" / "module_utils"))
    spec = importlib.util.spec_from_file_location("lease_drain_sticky", ROOT / "roles/lease/files/lease_drain.py")
    drain = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(drain)
    haproxy.maps[str(map_file)]["hyperbun"] = "2500"
    map_file.write_text("other 7\nhyperbun 2500\n")
    lease = workdir / "lease"
    lease.mkdir()
    (lease / "drain-haproxy.json").write_text(json.dumps({
        "socket": haproxy.sock.getsockname(), "backend": "hyperbun", "servers": ["app1-canary"],
        "weights": {"app1-canary": 0}, "state_file": "",
        "maps": [{"map": str(map_file), "key": "hyperbun", "value": "0"}]}))
    assert drain.main(["lease_drain.py", str(lease), "300"]) == 0, (lease / "fired.json").read_text()
    assert haproxy.maps[str(map_file)] == {"other": "7", "hyperbun": "0"}
    assert map_file.read_text() == "other 7\nhyperbun 0\n"
    assert haproxy.commands[0] == f"set map {map_file} hyperbun 0"
    assert "set weight hyperbun/app1-canary 0" in haproxy.commands
    assert os.path.exists(lease / "fired.json")
