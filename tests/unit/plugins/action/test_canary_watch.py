# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The watch's action plugin run for real by ansible-playbook against a server on 127.0.0.1."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[4]
PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: Watch the canary
      hyperbun.canary.canary_watch: {args}
      register: watch
      ignore_errors: true

    - name: Show the result
      ansible.builtin.debug:
        msg: "RESULT {{{{ watch | to_json }}}}"
"""


def watch(tmp_path, **args):
    """Run canary_watch in a playbook; (its registered result, the whole output)."""
    playbook = tmp_path / "watch.yml"
    playbook.write_text(PLAYBOOK.format(args=json.dumps(args)))
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_STDOUT_CALLBACK="ansible.builtin.default", ANSIBLE_CALLBACK_RESULT_FORMAT="json")
    playbook_command = pathlib.Path(sys.executable).parent / "ansible-playbook"
    done = subprocess.run([str(playbook_command), "-i", "localhost,", "-c", "local", str(playbook)], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=120, check=False)
    output = done.stdout + done.stderr
    line = next(line for line in output.splitlines() if '"msg": "RESULT ' in line)
    return json.loads(json.loads("{" + line.strip().rstrip(",") + "}")["msg"][len("RESULT "):]), output


BODIES = {
    "a blank line in OpenMetrics": ("# TYPE up gauge\n\nup 1\n# EOF\n", "application/openmetrics-text; version=1.0.0"),
    "junk": ("\x00\x01 not metrics at all {{{\n", "text/plain; version=0.0.4"),
    "errors as a gauge": ("# TYPE hyperbun_log_errors gauge\nhyperbun_log_errors 5\n"
                          "# TYPE hyperbun_http_requests_total counter\nhyperbun_http_requests_total 100\n",
                          "text/plain; version=0.0.4"),
}


@pytest.mark.parametrize("case", sorted(BODIES))
def test_an_odd_exposition_ends_the_watch_in_error_without_a_traceback(tmp_path, server, case):
    body, content_type = BODIES[case]
    server.serve("/metrics", body, content_type=content_type)
    result, output = watch(tmp_path, metrics_urls=[server.url()], window="10s", interval=1, error_after=2,
                           use_default_criteria=False, retries=0,
                           criteria={"error_rate": {"kind": "rate_ratio", "numerator": "hyperbun_log_errors_total",
                                                    "denominator": "hyperbun_http_requests_total",
                                                    "threshold": 1, "unit": "percent"}})
    assert result["failed"] and result["verdict"] == "error", result["msg"]
    assert result["stopped_early"] and result["samples"] == 2
    assert "Traceback" not in output and server.url() in result["msg"]


@pytest.mark.parametrize("answer", [
    {"status": "success"},
    {"status": "success", "data": {"alerts": [{"labels": {"severity": "critical"}}]}},
    [1, 2, 3],
])
def test_an_odd_prometheus_answer_ends_the_watch_in_error_without_a_traceback(tmp_path, server, answer):
    server.serve("/api/v1/alerts", answer, content_type="application/json")
    result, output = watch(tmp_path, prometheus_url=server.url(""), window="10s", interval=1, error_after=2,
                           use_default_criteria=False, retries=0,
                           criteria={"critical_alerts": {"source": "prometheus", "kind": "alerts", "threshold": 0,
                                                         "alert_matchers": {"severity": "critical"}}})
    assert result["failed"] and result["verdict"] == "error", result["msg"]
    assert "Traceback" not in output and "/api/v1/alerts" in result["msg"]


def test_bad_arguments_are_refused_before_any_request(tmp_path, server):
    criteria = {"x": {"kind": "value", "metric": "up", "threshold": 1}}
    result, _output = watch(tmp_path, metrics_urls=[server.url()], interval="soon", use_default_criteria=False,
                            criteria=criteria)
    # The same words as canary_check's (tests/unit/plugins/modules/test_canary_check.py): one setup for both.
    assert result["failed"] and "interval must be a duration such as 90, 90s, 5m, 24h or 1h30m" in result["msg"]
    assert server.requests == []


def test_validate_only_checks_every_setting_without_a_request(tmp_path, server):
    criteria = {"x": {"kind": "value", "metric": "up", "threshold": 1}}
    result, _output = watch(tmp_path, metrics_urls=[server.url()], window="1h30m", use_default_criteria=False,
                            criteria=criteria, validate_only=True)
    assert not result.get("failed") and result["window_seconds"] == 5400, result
    result, _output = watch(tmp_path, metrics_urls=[server.url()], window="a day", use_default_criteria=False,
                            criteria=criteria, validate_only=True)
    assert result["failed"] and "window must be a duration such as" in result["msg"]
    result, _output = watch(tmp_path, metrics_urls=[server.url()], use_default_criteria=False,
                            criteria={"x": {"kind": "value", "metric": "up"}}, validate_only=True)
    assert result["failed"] and "threshold" in result["msg"], result["msg"]
    assert server.requests == []
