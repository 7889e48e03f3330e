# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The HTML canary report: one chart per criterion with its markers, escaped text, nothing loaded from anywhere,
a page even without samples; and the action run for real by ansible-playbook (check mode, idempotence, the
error when matplotlib is missing)."""

from __future__ import annotations

import copy
import datetime
import html.parser
import json
import os
import pathlib
import re
import subprocess
import sys

import pytest
from ansible_collections.hyperbun.canary.plugins.action.canary_report import render, time_span
from ansible_collections.hyperbun.canary.tests.unit.plugins.action.report_verdict import (
    INTERVAL,
    START,
    rolled_back_verdict,
)

ROOT = pathlib.Path(__file__).resolve().parents[4]
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'
ISOLATED = START + INTERVAL * 14 + 20


class Page(html.parser.HTMLParser):
    """What a reader of the page finds: its elements with their attributes, and its text."""

    def __init__(self, text):
        super().__init__()
        self.elements = []
        self.text = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)

    def find(self, tag, **attrs):
        wanted = {k.rstrip("_").replace("_", "-"): v for k, v in attrs.items()}
        return [a for t, a in self.elements if t == tag and all(a.get(k) == v for k, v in wanted.items())]


@pytest.fixture(scope="module")
def verdict():
    return rolled_back_verdict()


@pytest.fixture(scope="module")
def page(verdict):
    return render(verdict, "2.0.0", "hyperbun", "at step 1 of 1 (5 %): error_rate fail", None, ISOLATED,
                  "2025-11-27-hyperbun-2.0.0-rollback-100800.md")


def test_one_chart_per_criterion_and_the_share(verdict, page):
    parsed = Page(page)
    names = [c["name"] for c in verdict["series"]["criteria"]]
    assert len(names) == 7
    assert [f["data-criterion"] for f in parsed.find("figure", class_="criterion")] == names
    assert parsed.find("figure", class_="criterion", data_criterion="error_rate")[0]["data-outcome"] == "fail"
    assert len(parsed.find("figure", class_="traffic-share")) == 1
    # Each chart is an SVG drawing, inside its figure.
    assert page.count("<svg") == 8


def test_markers_at_the_breach_and_the_isolation_and_the_lines(page):
    parsed = Page(page)
    groups = {a.get("id") for t, a in parsed.elements if t == "g"}
    for index in range(7):
        assert {f"breach-marker-{index}", f"isolation-marker-{index}", f"threshold-{index}",
                f"canary-{index}"} <= groups
    assert {"breach-marker-share", "isolation-marker-share", "traffic-share-line"} <= groups
    # Only error_rate breached: its failing sample is marked, on its chart alone.
    assert sorted(g for g in groups if g and g.startswith("breach-points-")) == ["breach-points-0"]
    # Production's line on the criteria compared with it (error_rate, rate limits, p95, timeouts), not memory.
    assert {"production-0", "production-3", "production-5", "production-6"} <= groups
    assert "production-1" not in groups


def test_the_summary_table_and_the_facts(verdict, page):
    parsed = Page(page)
    assert [r["data-criterion"] for r in parsed.find("tr") if "data-criterion" in r] == \
        [r["name"] for r in verdict["results"]]
    text = " ".join(parsed.text)
    assert "Canary 2.0.0 of hyperbun: fail" in text
    assert "2025-11-27T10:07:00Z" in text and "2025-11-27T10:07:20Z" in text
    assert parsed.find("a", href="2025-11-27-hyperbun-2.0.0-rollback-100800.md")


def test_the_page_loads_nothing_and_runs_nothing(page):
    parsed = Page(page)
    tags = {t for t, _a in parsed.elements}
    assert not tags & {"script", "link", "img", "iframe", "object", "embed", "image", "foreignobject", "metadata"}
    assert not [a for _t, a in parsed.elements if any(k.startswith("on") or k == "src" for k in a)]
    # The glyphs of the charts' text are drawn from the same drawing's definitions (#id); the one link is the
    # Markdown report beside the page.
    references = [a.get("href") or a.get("xlink:href") for _t, a in parsed.elements if {"href", "xlink:href"} & set(a)]
    assert references and all(r.startswith("#") for r in references[1:]), set(references)
    assert references[0] == "2025-11-27-hyperbun-2.0.0-rollback-100800.md"
    assert "url(http" not in page and "@import" not in page and "@font-face" not in page
    assert "default-src 'none'" in page


def test_what_the_canary_or_the_state_wrote_is_escaped():
    hostile = rolled_back_verdict(message_extra=HOSTILE)
    hostile["series"]["criteria"][0]["unit"] = HOSTILE
    hostile["results"][0]["comparison"] = HOSTILE
    hostile["results"][1]["unit"] = {"not": "a unit"}
    page = render(hostile, HOSTILE, HOSTILE, HOSTILE, None, None, HOSTILE)
    parsed = Page(page)
    assert not parsed.find("script") and not parsed.find("img")
    assert "<script" not in page and "&lt;script&gt;" in page
    assert HOSTILE in " ".join(parsed.text)


def test_a_verdict_without_samples_still_makes_a_page():
    crashed = {"verdict": "error", "msg": "the canary did not start", "results": [], "samples": 0}
    page = render(crashed, "2.0.0", "hyperbun", "the canary did not start")
    parsed = Page(page)
    assert not parsed.find("figure", class_="criterion") and "<svg" not in page
    assert "No sample was taken" in " ".join(parsed.text)


def test_a_verdict_of_an_earlier_watch_has_its_table_and_says_there_is_no_series(verdict):
    earlier = copy.deepcopy(verdict)
    del earlier["series"]
    page = render(earlier, "2.0.0", "hyperbun", "r", None, ISOLATED)
    parsed = Page(page)
    assert len([r for r in parsed.find("tr") if "data-criterion" in r]) == 7
    assert not parsed.find("figure", class_="criterion") and "holds no series" in page
    # The share, from the steps, still drawn.
    assert len(parsed.find("figure", class_="traffic-share")) == 1


@pytest.mark.parametrize("change", [
    lambda s: s["criteria"][0].update(value=["Infinity"] * len(s["criteria"][0]["at"])),
    lambda s: s["criteria"][0].update(at=["yesterday", None, True, 1e300, *s["criteria"][0]["at"][4:]]),
    lambda s: s["criteria"][0].update(outcome="fail", samples={"x": 1}, threshold="high", unit=["%"]),
    lambda s: s["criteria"].append({"name": "extra", "at": 5}),
    lambda s: s.update(shares=[{"at": "now", "share": 500}, "x", None]),
])
def test_a_malformed_series_draws_what_it_can(verdict, change):
    odd = copy.deepcopy(verdict)
    change(odd["series"])
    parsed = Page(render(odd, "2.0.0", "hyperbun", "r"))
    assert len(parsed.find("figure", class_="criterion")) >= 7


def test_the_same_verdict_draws_the_same_page(verdict, page):
    assert render(verdict, "2.0.0", "hyperbun", "at step 1 of 1 (5 %): error_rate fail", None, ISOLATED,
                  "2025-11-27-hyperbun-2.0.0-rollback-100800.md") == page


PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: Write the report
      hyperbun.canary.canary_report:
        dest: "{dest}"
        verdict: "{{{{ lookup('file', '{verdict}') | from_json }}}}"
        release: 2.0.0
        app: hyperbun
        isolated_at: {isolated}
      register: report
      ignore_errors: true

    - name: Show the result
      ansible.builtin.debug:
        msg: "RESULT {{{{ report | to_json }}}}"
"""


def run_report(tmp_path, *options, env=None):
    dest = tmp_path / "report.html"
    (tmp_path / "verdict.json").write_text(json.dumps(rolled_back_verdict()))
    playbook = tmp_path / "report.yml"
    playbook.write_text(PLAYBOOK.format(dest=dest, verdict=tmp_path / "verdict.json", isolated=ISOLATED))
    environment = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
                       ANSIBLE_STDOUT_CALLBACK="ansible.builtin.default", ANSIBLE_CALLBACK_RESULT_FORMAT="json",
                       **(env or {}))
    done = subprocess.run([str(pathlib.Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,",
                           "-c", "local", str(playbook), *options], cwd=ROOT, env=environment,
                          capture_output=True, text=True, timeout=300, check=False)
    output = done.stdout + done.stderr
    line = next(line for line in output.splitlines() if '"msg": "RESULT ' in line)
    return json.loads(json.loads("{" + line.strip().rstrip(",") + "}")["msg"][len("RESULT "):]), dest


def test_check_mode_writes_nothing_then_a_run_writes_and_a_second_changes_nothing(tmp_path):
    result, dest = run_report(tmp_path, "--check")
    assert result["changed"] and not result.get("failed"), result
    assert not dest.exists() and list(tmp_path.glob(".canary-report-*")) == []
    result, dest = run_report(tmp_path)
    assert result["changed"] and result["charts"] == 7, result
    assert dest.stat().st_mode & 0o777 == 0o644 and dest.stat().st_size == result["size"]
    assert dest.read_text().count('<figure class="criterion"') == 7
    written = dest.stat().st_mtime_ns
    result, dest = run_report(tmp_path)
    assert not result["changed"] and dest.stat().st_mtime_ns == written, result


def test_without_matplotlib_the_task_fails_saying_what_to_install(tmp_path):
    shadow = tmp_path / "shadow" / "matplotlib"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('No module named matplotlib')\n")
    result, dest = run_report(tmp_path, env={"PYTHONPATH": str(shadow.parent)})
    assert result["failed"] and not dest.exists()
    assert re.search(r"needs the Python library matplotlib on the controller \(pip install matplotlib\)",
                     result["msg"]), result["msg"]


def test_every_chart_spans_the_report_s_times_not_years_around_a_single_point():
    start = datetime.datetime(2026, 11, 28, 2, 27, 51, tzinfo=datetime.UTC)
    isolated = start + datetime.timedelta(seconds=47)
    first, last = time_span([start, None, start + datetime.timedelta(seconds=6), isolated])
    assert first < start and last > isolated
    assert last - first < datetime.timedelta(seconds=60)
    one = time_span([start])
    assert one == (start - datetime.timedelta(seconds=30), start + datetime.timedelta(seconds=30))
    assert time_span([None]) is None
