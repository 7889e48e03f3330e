# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The watch role run for real by ansible-playbook: with watch_state_host its task is delegated there and
keeps the window's progress in the canary's state; without it nothing is written, as before."""

from __future__ import annotations

import http.server
import json
import os
import pathlib
import subprocess
import sys
import threading

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[3]
BODY = b"# TYPE app_queue_depth gauge\napp_queue_depth 1\n"


@pytest.fixture
def metrics_url():
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(BODY)))
            self.end_headers()
            self.wfile.write(BODY)

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/metrics"
    httpd.shutdown()
    httpd.server_close()


def play(tmp_path, **role_vars):
    """Run the role on localhost; (watch_result, whole output)."""
    playbook = tmp_path / "watch.yml"
    playbook.write_text(f"""
- hosts: localhost
  gather_facts: false
  tasks:
    - name: Watch
      ansible.builtin.include_role:
        name: hyperbun.canary.watch
      vars: {json.dumps(role_vars)}
    - name: Show the result
      ansible.builtin.debug:
        msg: "RESULT {{{{ watch_result | to_json }}}}"
""")
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_STDOUT_CALLBACK="ansible.builtin.default", ANSIBLE_CALLBACK_RESULT_FORMAT="json")
    # statehost keeps the canary's state: another name for this machine, so that the delegation shows.
    inventory = tmp_path / "inventory"
    inventory.write_text("localhost ansible_connection=local\nstatehost ansible_connection=local\n")
    argv = [str(pathlib.Path(sys.executable).parent / "ansible-playbook"), "-i", str(inventory),
            "-e", json.dumps({"ansible_python_interpreter": sys.executable}), str(playbook)]
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)
    output = done.stdout + done.stderr
    line = next(line for line in output.splitlines() if '"msg": "RESULT ' in line)
    return json.loads(json.loads("{" + line.strip().rstrip(",") + "}")["msg"][len("RESULT "):]), output


def settings(url, **extra):
    return dict(watch_metrics_urls=[url], watch_baseline_urls=[], watch_prometheus_url="", watch_window=1,
                watch_interval=1, watch_criteria={"critical_alerts": {"enabled": False}},
                watch_dry_run=True, **extra)


def test_with_a_state_host_the_watch_keeps_its_progress_there(tmp_path, metrics_url):
    facts = tmp_path / "facts"
    result, output = play(tmp_path, **settings(metrics_url, watch_state_host="statehost",
                                               watch_state_fact_dir=str(facts), watch_state_app="shop"))
    assert result["samples"] == 2 and result["changed"] is True, output
    assert "[localhost -> statehost]" in output, "the task is delegated to the state's host"
    watch = json.loads((facts / "shop_canary.fact").read_text())["watch"]
    assert watch["samples"] == 2 and watch["checkpoint"]["samples"] == 2 and watch["label"] == "canary"
    assert "checkpoint" not in result and "hyperbun.canary.judge" not in output


def test_without_a_state_host_nothing_is_written(tmp_path, metrics_url):
    facts = tmp_path / "facts"
    result, output = play(tmp_path, **settings(metrics_url, watch_state_fact_dir=str(facts)))
    assert result["samples"] == 2 and result["changed"] is False and result["resumed"] is False, output
    assert not facts.exists() and "[localhost -> " not in output
