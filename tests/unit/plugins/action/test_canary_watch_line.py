# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The watch's line per sample fits a terminal of 160 columns, and still says what went wrong."""

from __future__ import annotations

import pytest
from ansible_collections.hyperbun.canary.plugins.action.canary_watch import LINE_WIDTH, format_progress, format_result
from ansible_collections.hyperbun.canary.plugins.module_utils._criteria import build_criteria
from ansible_collections.hyperbun.canary.plugins.module_utils._judge import Result

# The guide's eight, and one of the operator's.
CRITERIA = build_criteria({"workers_up": {"kind": "value", "metric": "up", "threshold": 1, "comparison": "<"}})
LONG = "a_criterion_whose_name_was_written_by_someone_who_likes_to_be_very_explicit_about_everything"


def results(outcomes=None, values=None, messages=None, criteria=CRITERIA):
    outcomes, values, messages = outcomes or {}, values or {}, messages or {}
    return [Result(c, outcomes.get(c.name, "pass"), values.get(c.name, 0.25), messages.get(c.name, ""))
            for c in criteria]


def progress(found, label="canary 1.1.0 at 5 % (step 1 of 1)", state="watching"):
    return format_progress(label, "10:00:30", "23h59m30s", found, state)


def test_nine_passing_criteria_are_counted():
    assert len(CRITERIA) == 9
    line = progress(results())
    assert line == "[canary 1.1.0 at 5 % (step 1 of 1)] 10:00:30 23h59m30s left | 9 pass | watching"
    # What the line was before it was summarized: every criterion written out.
    assert len(" | ".join(format_result(r) for r in results())) > LINE_WIDTH


def test_a_breach_is_written_out_with_its_value_and_threshold():
    line = progress(results({"error_rate": "fail"}, {"error_rate": 2.5}), state="fail")
    assert len(line) <= LINE_WIDTH
    assert "| error_rate 2.5% (>1%) fail |" in line
    assert line.endswith("| 8 pass | fail")


def test_an_unmeasured_criterion_says_why_while_there_is_room():
    line = progress(results({"memory_usage": "no_data"}, {"memory_usage": None},
                            {"memory_usage": "connection refused (source: http://127.0.0.1:3001/metrics)"}))
    assert "memory_usage - (>80%) no_data: connection refused |" in line
    assert "source:" not in line and len(line) <= LINE_WIDTH


def test_several_problems_with_long_messages_fit_and_the_first_ones_are_named():
    names = [c.name for c in CRITERIA]
    outcomes = {names[0]: "fail", names[1]: "error", names[2]: "no_data", names[3]: "fail", names[4]: "error"}
    messages = {name: "the canary's /metrics said something unexpected " * 5 for name in outcomes}
    line = progress(results(outcomes, {name: None for name in names[1:3]}, messages))
    assert len(line) <= LINE_WIDTH, line
    # The failures first: they end the window.
    assert f"| {names[0]} 0.25% (>1%) fail | +4 more: fail/error/no_data | 4 pass | watching" in line


def test_every_criterion_failing_with_long_names_fits():
    criteria = build_criteria({f"{LONG}_{i}": {"kind": "value", "metric": "up", "threshold": 1} for i in range(9)},
                              use_defaults=False)
    line = progress(results({c.name: "fail" for c in criteria}, {c.name: 123456.789 for c in criteria},
                            criteria=criteria))
    assert len(line) <= LINE_WIDTH, line
    # The last resort: the label and then the first breach are cut, never the count of the others.
    assert f"| {LONG}_" not in line and f"| {LONG[:80]}" in line and "\u2026 | +8 more: fail | watching" in line


def test_a_long_label_gives_way_before_what_the_sample_found():
    line = progress(results({"error_rate": "fail"}, {"error_rate": 2.5}), label="canary " + "x" * 300)
    assert len(line) <= LINE_WIDTH, line
    assert line.startswith("[canary xxx") and "\u2026] 10:00:30 23h59m30s left" in line
    assert "| error_rate 2.5% (>1%) fail | 8 pass | watching" in line


@pytest.mark.parametrize("label", ["c", "canary " + "y" * 1000])
@pytest.mark.parametrize("failing", [0, 1, 4, 9])
def test_no_line_is_longer_than_160(label, failing):
    criteria = build_criteria({LONG: {"kind": "value", "metric": "up", "threshold": 1}})
    outcomes = {c.name: "fail" for c in criteria[-failing:]} if failing else {}
    line = progress(results(outcomes, {c.name: -1.5e-300 for c in criteria},
                            {c.name: "z" * 500 for c in criteria}, criteria), label=label)
    assert len(line) <= LINE_WIDTH, line
    if failing:
        # Something of the breach is always there: at least its criterion's name begins.
        assert f"| {LONG[:5]}" in line or " fail" in line


def test_what_the_canary_wrote_cannot_reach_the_terminal_as_control_characters():
    line = progress(results({"error_rate": "error"}, {"error_rate": None},
                            {"error_rate": "bad line \x1b[31mred\x1b[0m\r\nspoofed"}))
    assert "\x1b" not in line and "\r" not in line and "\n" not in line
    assert "bad line ?[31mred?[0m??spoofed" in line
