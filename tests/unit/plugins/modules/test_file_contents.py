from __future__ import annotations

import json
import os
import stat

import pytest
from ansible.module_utils.testing import patch_module_args
from ansible_collections.hyperbun.canary.plugins.modules import file_contents


def run(capsys, check_mode=False, diff=False, **args):
    if check_mode:
        args["_ansible_check_mode"] = True
    if diff:
        args["_ansible_diff"] = True
    with patch_module_args(args), pytest.raises(SystemExit) as exit_info:
        file_contents.main()
    result = json.loads(capsys.readouterr().out)
    result["rc"] = exit_info.value.code
    return result


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def lease_args(root, drain="drain now\n"):
    return {
        "directories": [{"path": str(root / "lease" / "app"), "mode": "0700"}],
        "files": [
            {"path": str(root / "lease" / "app" / "drain.json"), "content": drain, "mode": "0600"},
            {"path": str(root / "unit.timer"), "content": "[Timer]\nOnActiveSec=90s\n"},
        ],
    }


def test_writes_directories_and_files_then_a_second_run_changes_nothing(capsys, tmp_path):
    result = run(capsys, **lease_args(tmp_path))
    assert result["rc"] == 0 and result["changed"] is True
    assert result["changed_paths"] == [str(tmp_path / "lease" / "app"), str(tmp_path / "lease" / "app" / "drain.json"),
                                       str(tmp_path / "unit.timer")]
    assert (tmp_path / "lease" / "app" / "drain.json").read_text() == "drain now\n"
    assert mode(tmp_path / "lease" / "app") == 0o700
    # A missing parent is made as the directory is.
    assert mode(tmp_path / "lease") == 0o700
    assert mode(tmp_path / "lease" / "app" / "drain.json") == 0o600
    assert mode(tmp_path / "unit.timer") == 0o644

    again = run(capsys, **lease_args(tmp_path))
    assert again["rc"] == 0 and again["changed"] is False and again["changed_paths"] == []


def test_only_what_differs_is_written_content_or_mode(capsys, tmp_path):
    run(capsys, **lease_args(tmp_path))
    os.chmod(tmp_path / "unit.timer", 0o666)
    result = run(capsys, **lease_args(tmp_path, drain="drain later\n"))
    assert result["changed_paths"] == [str(tmp_path / "lease" / "app" / "drain.json"), str(tmp_path / "unit.timer")]
    assert (tmp_path / "lease" / "app" / "drain.json").read_text() == "drain later\n"
    # Written atomically: the mode is the one asked for, not the temporary file's.
    assert mode(tmp_path / "lease" / "app" / "drain.json") == 0o600
    assert mode(tmp_path / "unit.timer") == 0o644
    assert not [p for p in (tmp_path / "lease" / "app").iterdir() if p.name.startswith(".")]


def test_check_mode_reports_and_writes_nothing_with_a_diff(capsys, tmp_path):
    result = run(capsys, check_mode=True, diff=True, **lease_args(tmp_path))
    assert result["rc"] == 0 and result["changed"] is True
    assert len(result["changed_paths"]) == 3
    assert not (tmp_path / "lease").exists() and not (tmp_path / "unit.timer").exists()
    assert {"before_header": str(tmp_path / "unit.timer"), "after_header": str(tmp_path / "unit.timer"),
            "before": "", "after": "[Timer]\nOnActiveSec=90s\n"} in result["diff"]

    run(capsys, **lease_args(tmp_path))
    result = run(capsys, check_mode=True, diff=True, **lease_args(tmp_path, drain="drain later\n"))
    assert result["changed_paths"] == [str(tmp_path / "lease" / "app" / "drain.json")]
    assert result["diff"] == [{"before_header": str(tmp_path / "lease" / "app" / "drain.json"),
                               "after_header": str(tmp_path / "lease" / "app" / "drain.json"),
                               "before": "drain now\n", "after": "drain later\n"}]
    assert (tmp_path / "lease" / "app" / "drain.json").read_text() == "drain now\n"


def test_a_file_where_a_directory_belongs_is_refused(capsys, tmp_path):
    (tmp_path / "lease").mkdir()
    (tmp_path / "lease" / "app").write_text("not a directory")
    result = run(capsys, **lease_args(tmp_path))
    assert result["rc"] == 1
    assert result["msg"] == f"{tmp_path / 'lease' / 'app'} exists and is not a directory"
    assert not (tmp_path / "unit.timer").exists()

    # A file in the way of a parent directory is named too.
    result = run(capsys, directories=[{"path": str(tmp_path / "lease" / "app" / "sub")}])
    assert result["rc"] == 1
    assert result["msg"] == f"{tmp_path / 'lease' / 'app'} exists and is not a directory"


def test_a_missing_directory_is_named(capsys, tmp_path):
    result = run(capsys, files=[{"path": str(tmp_path / "absent" / "f"), "content": "x"}])
    assert result["rc"] == 1
    assert result["msg"].startswith(str(tmp_path / "absent")), result["msg"]
    assert "No such file or directory" in result["msg"]


def test_relative_paths_are_under_the_root_which_is_made_with_its_mode_once(capsys, tmp_path):
    args = {"root": str(tmp_path / "kept"), "root_mode": "0750",
            "directories": [{"path": "incident", "mode": "0750"}],
            "files": [{"path": "incident.md", "content": "# Incident\n", "mode": "0640"},
                      {"path": "incident/app1-canary-metrics.txt", "content": "up 1\n", "mode": "0640"}]}
    result = run(capsys, **args)
    assert result["changed_paths"] == [str(tmp_path / "kept"), str(tmp_path / "kept" / "incident"),
                                       str(tmp_path / "kept" / "incident.md"),
                                       str(tmp_path / "kept" / "incident" / "app1-canary-metrics.txt")]
    assert mode(tmp_path / "kept") == 0o750
    assert mode(tmp_path / "kept" / "incident" / "app1-canary-metrics.txt") == 0o640
    # A root that exists is the caller's: its mode stays.
    os.chmod(tmp_path / "kept", 0o755)
    again = run(capsys, **args)
    assert again["changed"] is False and mode(tmp_path / "kept") == 0o755


def test_a_relative_path_without_a_root_is_refused_writing_nothing(capsys, tmp_path):
    result = run(capsys, files=[{"path": str(tmp_path / "a"), "content": "a"}, {"path": "b", "content": "b"}])
    assert result["rc"] == 1
    assert result["msg"] == "files: b is a relative path and no root is given; nothing was written"
    assert not (tmp_path / "a").exists()
