# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rollback's incident report on the controller: the Markdown report and its HTML page beside it, linked;
a page that cannot be drawn is a warning and a line in the Markdown report, and the rollback goes on.

The role's report.yml is run for real by ansible-playbook on localhost, with the facts the rollback's earlier
tasks set (the evidence of one canary host, the times, the verdict the watch handed over)."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

from ansible_collections.hyperbun.canary.tests.unit.plugins.action.report_verdict import rolled_back_verdict

ROOT = pathlib.Path(__file__).resolve().parents[3]
PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  vars_files: [facts.json]
  tasks:
    - name: Write the incident report as the rollback does
      ansible.builtin.include_role:
        name: hyperbun.canary.rollback
        tasks_from: report.yml
"""


def report(tmp_path, verdict, env=None):
    incidents = tmp_path / "incidents"
    incidents.mkdir()
    facts = {
        "canary_app": "hyperbun", "rollback_incident_dir": str(incidents), "rollback_canary_hosts": ["app1"],
        "_rollback_started_at": "2025-11-27T10:07:05+00:00", "_rollback_isolated_at": "2025-11-27T10:07:20+00:00",
        "_rollback_reason": "at step 1 of 1 (5 %): canary verdict fail: error_rate", "rollback_refused": {},
        "rollback_verdict": verdict,
        # The report kept on a host that outlasts the job: this one, in the test's directory.
        "rollback_report_host": "localhost", "rollback_report_host_dir": str(tmp_path / "kept"),
        "_rollback_evidence": {"app1": {
            "state": {"release": "2.0.0", "events": [{"at": "2025-11-27T10:00:00+00:00", "event": "started"}]},
            "metrics": "# TYPE up gauge\nup 1\n", "metrics_error": "", "stopped_at": "2025-11-27T10:07:30+00:00",
            "logs": {"last_lines": ["x"], "files": ["canary.log"], "errors_total": 3,
                     "top_error_codes": [{"code": "DB_DOWN", "count": 3}]}}},
    }
    (tmp_path / "facts.json").write_text(json.dumps(facts))
    (tmp_path / "play.yml").write_text(PLAYBOOK)
    environment = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1", **(env or {}))
    command = [str(pathlib.Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,", "-c", "local",
               "-e", f"ansible_python_interpreter={sys.executable}", str(tmp_path / "play.yml")]
    done = subprocess.run(command, cwd=tmp_path, env=environment,
                          capture_output=True, text=True, timeout=300, check=False)
    return done, incidents


STEM = "2025-11-27-hyperbun-2.0.0-rollback-100705"


def test_the_html_page_is_written_beside_the_markdown_report_which_links_it(tmp_path):
    done, incidents = report(tmp_path, rolled_back_verdict())
    assert done.returncode == 0, done.stdout[-3000:]
    markdown = (incidents / f"{STEM}.md").read_text()
    page = (incidents / f"{STEM}.html").read_text()
    assert f"| Charts | [{STEM}.html]({STEM}.html):" in markdown
    assert page.count('<figure class="criterion"') == 7 and 'id="breach-marker-0"' in page
    assert 'id="isolation-marker-0"' in page and f'href="{STEM}.md"' in page
    # Kept on the host that outlasts the job: the report, its page and its evidence, as on the controller,
    # readable by root and its group only.
    kept = tmp_path / "kept"
    for name in (f"{STEM}.md", f"{STEM}.html", f"{STEM}/app1-canary-metrics.txt", f"{STEM}/app1-canary-issues.log"):
        assert (kept / name).read_bytes() == (incidents / name).read_bytes(), name
        assert (kept / name).stat().st_mode & 0o777 == 0o640, name
    assert (kept / STEM).stat().st_mode & 0o777 == 0o750


def test_a_page_that_cannot_be_drawn_is_a_warning_and_the_markdown_says_why(tmp_path):
    shadow = tmp_path / "shadow" / "matplotlib"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('No module named matplotlib')\n")
    done, incidents = report(tmp_path, rolled_back_verdict(), env={"PYTHONPATH": str(shadow.parent)})
    assert done.returncode == 0, done.stdout[-3000:]
    assert not (incidents / f"{STEM}.html").exists() and not (tmp_path / "kept" / f"{STEM}.html").exists()
    markdown = (incidents / f"{STEM}.md").read_text()
    assert "| Charts | missing: the HTML page could not be drawn (canary_report needs the Python library " \
           "matplotlib on the controller" in markdown
    assert "[WARNING]" in done.stdout + done.stderr and "was not written" in done.stdout + done.stderr
    # The rest of the report is there, as without the page.
    assert "## Verdict" in markdown and "| error_rate | fail |" in markdown


def test_a_rollback_by_hand_without_a_verdict_has_its_page_too(tmp_path):
    done, incidents = report(tmp_path, {})
    assert done.returncode == 0, done.stdout[-3000:]
    page = (incidents / f"{STEM}.html").read_text()
    assert "No verdict was given with this report" in page and "<svg" not in page
    assert f"[{STEM}.html]" in (incidents / f"{STEM}.md").read_text()
