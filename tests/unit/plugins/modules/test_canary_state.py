"""canary_state: the canary's phase in an Ansible local fact."""

import json

import pytest
from ansible.module_utils.testing import patch_module_args
from ansible_collections.hyperbun.canary.plugins.module_utils import _files
from ansible_collections.hyperbun.canary.plugins.modules import canary_state


def run(tmp_path, capsys, check_mode=False, **args):
    args.setdefault("fact_dir", str(tmp_path))
    if check_mode:
        args["_ansible_check_mode"] = True
    with patch_module_args(args), pytest.raises(SystemExit) as exited:
        canary_state.main()
    result = json.loads(capsys.readouterr().out)
    result["rc"] = exited.value.code
    return result


def fact(tmp_path):
    return json.loads((tmp_path / "hyperbun_canary.fact").read_text())


def test_records_then_reports_no_change(tmp_path, capsys):
    first = run(tmp_path, capsys, phase="canary", values={"release": "1.1.0", "weight": 5})
    again = run(tmp_path, capsys, phase="canary", values={"release": "1.1.0", "weight": 5})
    assert first["changed"] is True
    assert again["changed"] is False
    assert fact(tmp_path) == {"phase": "canary", "release": "1.1.0", "weight": 5}


def test_merges_and_removes_keys(tmp_path, capsys):
    run(tmp_path, capsys, phase="canary", values={"release": "1.1.0", "weight": 5})
    result = run(tmp_path, capsys, phase="passed", values={"weight": None, "verdict": {"outcome": "pass"}})
    assert fact(tmp_path) == {"phase": "passed", "release": "1.1.0", "verdict": {"outcome": "pass"}}
    assert result["previous"]["phase"] == "canary"
    assert result["diff"]["before"]["weight"] == 5


def test_events_build_a_timeline(tmp_path, capsys):
    run(tmp_path, capsys, phase="canary", event="canary started")
    result = run(tmp_path, capsys, event="traffic moved to 5 %")
    assert result["changed"] is True
    assert [e["event"] for e in fact(tmp_path)["events"]] == ["canary started", "traffic moved to 5 %"]
    assert all(e["at"].endswith("+00:00") for e in fact(tmp_path)["events"])


def test_check_mode_writes_nothing(tmp_path, capsys):
    result = run(tmp_path, capsys, check_mode=True, phase="canary")
    assert result["changed"] is True
    assert not (tmp_path / "hyperbun_canary.fact").exists()


def test_require_phase_refuses_and_changes_nothing(tmp_path, capsys):
    run(tmp_path, capsys, phase="failed", values={"release": "1.1.0"})
    result = run(tmp_path, capsys, phase="promoted", require_phase=["passed"])
    assert result["rc"] == 1
    assert "phase 'failed'" in result["msg"] and "passed" in result["msg"]
    assert fact(tmp_path)["phase"] == "failed"


def test_require_phase_refuses_when_nothing_recorded(tmp_path, capsys):
    result = run(tmp_path, capsys, phase="promoted", require_phase=["passed"])
    assert result["rc"] == 1
    assert "phase 'none'" in result["msg"]


def test_absent_removes_the_fact_once(tmp_path, capsys):
    run(tmp_path, capsys, phase="canary")
    assert run(tmp_path, capsys, state="absent")["changed"] is True
    assert run(tmp_path, capsys, state="absent")["changed"] is False
    assert not (tmp_path / "hyperbun_canary.fact").exists()


def test_corrupt_fact_is_a_clear_error(tmp_path, capsys):
    (tmp_path / "hyperbun_canary.fact").write_text("{not json")
    result = run(tmp_path, capsys, state="query")
    assert result["rc"] == 1
    assert "cannot read the canary state" in result["msg"]


def test_bad_app_name_is_refused(tmp_path, capsys):
    result = run(tmp_path, capsys, app="hyper-bun", phase="canary")
    assert result["rc"] == 1
    assert "letters, digits and underscores" in result["msg"]


@pytest.mark.parametrize("where", ["mkstemp", "chmod"])
def test_a_state_that_cannot_be_written_is_a_clear_error(tmp_path, capsys, monkeypatch, where):
    def refuse(*_args, **_kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(_files.tempfile if where == "mkstemp" else _files.os, where, refuse)
    result = run(tmp_path, capsys, phase="canary")
    assert result["rc"] == 1
    assert result["msg"].startswith(f"cannot write the canary state in {tmp_path / 'hyperbun_canary.fact'}: ")
    assert "Permission denied" in result["msg"]
    assert sorted(path.name for path in tmp_path.iterdir()) == [], "no file is left behind"


def test_return_state_false_writes_but_answers_only_whether_it_changed(tmp_path, capsys):
    big = {"checkpoint": "x" * 100_000}
    result = run(tmp_path, capsys, values={"watch": big}, return_state=False)
    assert result["changed"] is True
    assert not {"state", "previous", "diff"} & set(result)
    assert fact(tmp_path) == {"watch": big}
    again = run(tmp_path, capsys, values={"watch": big}, return_state=False)
    assert again["changed"] is False and "state" not in again
