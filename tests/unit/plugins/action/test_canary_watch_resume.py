# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A window that survives the controller: canary_watch run for real by ansible-playbook, its progress kept
in the canary's state (a fact file in a temporary fact_dir on localhost), a run interrupted or killed and
another going on from the saved checkpoint; max_samples's `running`; checkpoints refused."""

from __future__ import annotations

import datetime
import json
import os
import pathlib
import signal
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[4]
CRITERIA = {
    "error_rate": {"kind": "rate_ratio", "numerator": "app_errors_total", "denominator": "app_requests_total",
                   "threshold": 50, "unit": "percent", "min_requests": 1},
    "queue_depth": {"kind": "value", "metric": "app_queue_depth", "comparison": ">", "threshold": 10,
                    "unit": "count"},
}
RESULT_TASK = """
    - name: Show the result
      ansible.builtin.debug:
        msg: "RESULT {{ watch | to_json }}"
"""
# A string every checkpoint holds, and no other output.
CHECKPOINT_MARK = "hyperbun.canary.judge"


def serve_counters(server, path):
    """Serve on `path` counters that move with every request to it: the n-th scrape sees n's values."""

    def body(_handler):
        n = sum(1 for requested, _headers in server.requests if requested == path)
        return (f"# TYPE app_requests_total counter\napp_requests_total {100 * n}\n"
                f"# TYPE app_errors_total counter\napp_errors_total {n + n * n // 3}\n"
                f"# TYPE app_queue_depth gauge\napp_queue_depth {n % 4}\n")

    server.serve(path, body)


def scrapes(server, path):
    return sum(1 for requested, _headers in server.requests if requested == path)


def settings(server, path="/metrics", **args):
    """The watch's arguments: the test's criteria on `path`, a sample a second, and `args`."""
    watched = {"metrics_urls": [server.url(path)], "use_default_criteria": False, "criteria": CRITERIA,
               "retries": 0, "interval": 1}
    watched.update(args)
    return watched


def keep_state(fact_dir, **args):
    return dict(state_app="hyperbun", state_fact_dir=str(fact_dir), **args)


def command(tmp_path, tasks, name="watch", verbosity=0):
    """(argv, env) of ansible-playbook running `tasks` (YAML text) on localhost."""
    playbook = tmp_path / f"{name}.yml"
    playbook.write_text(f"- hosts: localhost\n  gather_facts: false\n  tasks:\n{tasks}")
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_STDOUT_CALLBACK="ansible.builtin.default", ANSIBLE_CALLBACK_RESULT_FORMAT="json")
    argv = [str(pathlib.Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,", "-c", "local",
            # The state is written by a module run on localhost: with this Python, whatever else is installed.
            "-e", json.dumps({"ansible_python_interpreter": sys.executable}), str(playbook)]
    if verbosity:
        argv.append("-" + "v" * verbosity)
    return argv, env


def watch_tasks(args):
    return f"""
    - name: Watch the canary
      hyperbun.canary.canary_watch: {json.dumps(args)}
      register: watch
      ignore_errors: true
{RESULT_TASK}"""


def parse(output):
    line = next(line for line in output.splitlines() if '"msg": "RESULT ' in line)
    return json.loads(json.loads("{" + line.strip().rstrip(",") + "}")["msg"][len("RESULT "):])


def run(tmp_path, tasks, name="watch", verbosity=0):
    """Run the playbook; (the registered result of the watch, the whole output, ansible-playbook's exit code)."""
    argv, env = command(tmp_path, tasks, name, verbosity)
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)
    output = done.stdout + done.stderr
    return parse(output), output, done.returncode


def watch(tmp_path, name="watch", **args):
    return run(tmp_path, watch_tasks(args), name)


def start(tmp_path, args, name, tasks=False):
    """ansible-playbook running the watch with `args` (or, with `tasks`, the tasks `args`) in the background,
    in a process group of its own."""
    argv, env = command(tmp_path, args if tasks else watch_tasks(args), name)
    return subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)


def resume_tasks(go, facts, args):
    """Tasks that wait for a line in the FIFO `go`, then read the canary's state from the fact file in `facts`
    and go on with its window: the watch with `args`, its window_started_at and checkpoint."""
    tasks = f"""
    - name: Wait for the run before to end
      ansible.builtin.command: cat {go}
      changed_when: false

    - name: Read the state it kept
      ansible.builtin.set_fact:
        kept: "{{{{ lookup('ansible.builtin.file', '{facts / "hyperbun_canary.fact"}') | from_json }}}}"
{watch_tasks({**args, "window_started_at": "WINDOW", "checkpoint": "CHECKPOINT"})}"""
    tasks = tasks.replace('"WINDOW"', '"{{ kept.watch.window_started_at }}"')
    return tasks.replace('"CHECKPOINT"', '"{{ kept.watch.checkpoint }}"')


def release(fifo, timeout=60):
    """Write a line into `fifo` once a reader has it open."""
    deadline = time.time() + timeout
    while True:
        try:
            descriptor = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError:  # no reader yet
            assert time.time() < deadline, f"nothing read {fifo}"
            time.sleep(0.01)
            continue
        os.write(descriptor, b"go\n")
        os.close(descriptor)
        return


def survivors(playbook):
    """The processes whose command line names `playbook`."""
    found = []
    for proc in pathlib.Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and str(playbook).encode() in (proc / "cmdline").read_bytes():
                found.append(int(proc.name))
        except OSError:
            pass
    return found


def state(fact_dir):
    path = fact_dir / "hyperbun_canary.fact"
    return json.loads(path.read_text()) if path.exists() else {}


def at(text):
    return datetime.datetime.fromisoformat(text).timestamp()


def values(result):
    return [(r["name"], r["outcome"], r["value"]) for r in result["results"]]


def test_an_interrupted_window_ends_as_one_watched_without_a_break(tmp_path, server):
    """Three samples and the state kept, and the process ends; another reads the state from the fact file and
    goes on to the window's end: the same verdict, values and samples as a window watched without a break."""
    serve_counters(server, "/metrics")
    serve_counters(server, "/interrupted")
    facts = tmp_path / "facts"
    go = tmp_path / "go"
    os.mkfifo(go)
    # The second ansible-playbook starts beforehand and waits for the first to end: a late sample is taken
    # when the watch goes on before the next one is due; later, the schedule would skip that sample.
    second = start(tmp_path, resume_tasks(go, facts, settings(server, "/interrupted", window=8, interval=2,
                                                              **keep_state(facts))), "second", tasks=True)
    whole = start(tmp_path, settings(server, window=8, interval=2), "whole")
    try:
        first, output, code = watch(tmp_path, "first", **settings(server, "/interrupted", window=8, interval=2,
                                                                  max_samples=3, **keep_state(facts)))
        assert code == 0 and first["verdict"] == "running" and not first.get("failed"), output
        assert first["samples"] == 3 and first["window_over"] is False and first["resumed"] is False
        kept = state(facts)["watch"]
        assert kept["samples"] == 3 and kept["interval"] == 2 and kept["window_seconds"] == 8
        assert "events" not in state(facts), "a sample adds nothing to the state's timeline"
        release(go)
        second_output = second.communicate(timeout=60)[0]
        whole_output = whole.communicate(timeout=60)[0]
    finally:
        for process in (second, whole):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
    resumed, uninterrupted = parse(second_output), parse(whole_output)

    assert resumed["verdict"] == "pass" and resumed["resumed"] is True, second_output
    assert uninterrupted["verdict"] == "pass" and uninterrupted["samples"] == 5, whole_output
    assert resumed["samples"] == uninterrupted["samples"] == 5, output + second_output
    assert scrapes(server, "/interrupted") == scrapes(server, "/metrics") == 5
    assert values(resumed) == values(uninterrupted)
    assert resumed["window_ends_at"] == first["window_ends_at"] and resumed["window_over"] is True
    assert state(facts)["watch"]["samples"] == 5


def test_a_killed_watch_goes_on_from_its_state_to_the_same_end(tmp_path, server):
    serve_counters(server, "/metrics")
    facts = tmp_path / "facts"
    go = tmp_path / "go"
    os.mkfifo(go)
    # The run that goes on starts beforehand, and reads the state once the killed one is gone.
    resumed = start(tmp_path, resume_tasks(go, facts, settings(server, window=8, **keep_state(facts))), "resumed",
                    tasks=True)
    launched = time.time()
    killed = start(tmp_path, settings(server, window=8, **keep_state(facts)), "killed")
    try:
        deadline = time.time() + 30
        while state(facts).get("watch", {}).get("samples", 0) < 3:
            assert killed.poll() is None and time.time() < deadline, "the watch did not keep 3 samples"
            time.sleep(0.05)
        os.killpg(killed.pid, signal.SIGKILL)
        killed.wait(timeout=30)
        # ansible-playbook's worker, the watch, runs in a session of its own: it outlives the kill of the
        # process group, and stops by itself before its next sample.
        deadline = time.time() + 3
        while survivors(tmp_path / "killed.yml"):
            assert time.time() < deadline, "the watch went on after ansible-playbook was killed"
            time.sleep(0.05)
        kept = state(facts)["watch"]
        release(go)
        output = resumed.communicate(timeout=60)[0]
    finally:
        for process in (killed, resumed):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
    returned = time.time()
    result = parse(output)
    taken = kept["samples"]
    assert taken >= 3
    window_end = at(kept["window_started_at"]) + 8
    # The window started when the killed run took its first sample.
    assert launched < at(kept["window_started_at"]) < launched + 10

    assert result["verdict"] == "pass" and result["resumed"] is True, output
    assert abs(at(result["window_ends_at"]) - window_end) < 1
    # It ended at the window's end (its last sample as late as a slow state write makes it), not a whole
    # window after it went on.
    assert window_end - 1 <= at(result["ended_at"]) <= window_end + 2.5 and returned < window_end + 10
    assert taken < result["samples"] <= 9 and result["samples"] == state(facts)["watch"]["samples"], output
    assert result["samples"] == scrapes(server, "/metrics")


def test_max_samples_while_the_window_goes_on_is_running_and_after_its_end_the_verdict(tmp_path, server):
    serve_counters(server, "/metrics")
    facts = tmp_path / "facts"
    result, output, code = watch(tmp_path, **settings(server, window=2, max_samples=1, **keep_state(facts)))
    assert code == 0 and "failed=0" in output and "ignored=0" in output, output
    assert result["verdict"] == "running" and not result["failed"] and result["samples"] == 1
    assert result["window_over"] is False and result["ended_at"] is None and result["failed_criteria"] == []
    assert [r["name"] for r in result["results"]] == ["error_rate", "queue_depth"]
    kept = state(facts)["watch"]

    time.sleep(max(0.0, at(kept["window_started_at"]) + 2.5 - time.time()))
    result, output, code = watch(tmp_path, "over", **settings(
        server, window=2, max_samples=1, window_started_at=kept["window_started_at"],
        checkpoint=json.dumps(kept["checkpoint"]), dry_run=True, **keep_state(facts)))
    assert code == 0 and result["window_over"] is True and result["resumed"] is True, output
    # One sample judges no rate: the final verdict, without another sample after the window's end.
    assert result["verdict"] == "inconclusive" and result["samples"] == 1 and scrapes(server, "/metrics") == 1
    assert result["ended_at"] is not None and result["changed"] is False


def test_a_checkpoint_of_other_criteria_is_refused_before_a_sample(tmp_path, server):
    serve_counters(server, "/metrics")
    first, output, _code = watch(tmp_path, **settings(server, window=5, max_samples=1, return_checkpoint=True))
    assert first["verdict"] == "running", output
    other = dict(CRITERIA, error_rate=dict(CRITERIA["error_rate"], threshold=5))
    result, output, _code = watch(tmp_path, "other", **settings(server, window=5, criteria=other,
                                                                checkpoint=first["checkpoint"]))
    assert result["failed"] and result["msg"].startswith("cannot go on from the checkpoint: "), result["msg"]
    assert "criterion error_rate's settings differ" in result["msg"]
    assert "Traceback" not in output and scrapes(server, "/metrics") == 1


def test_a_corrupt_checkpoint_in_the_state_is_refused_before_a_sample(tmp_path, server):
    serve_counters(server, "/metrics")
    facts = tmp_path / "facts"
    watch(tmp_path, **settings(server, window=5, max_samples=2, **keep_state(facts)))
    saved = state(facts)
    saved["watch"]["checkpoint"]["samples"] = -1
    (facts / "hyperbun_canary.fact").write_text(json.dumps(saved))
    tasks = f"""
    - name: Read the canary's state
      hyperbun.canary.canary_state:
        app: hyperbun
        fact_dir: {facts}
        state: query
      register: canary
{watch_tasks(settings(server, window=5, window_started_at="WINDOW", checkpoint="CHECKPOINT"))}"""
    tasks = tasks.replace('"WINDOW"', '"{{ canary.state.watch.window_started_at }}"')
    tasks = tasks.replace('"CHECKPOINT"', '"{{ canary.state.watch.checkpoint }}"')
    result, output, _code = run(tmp_path, tasks, "corrupt")
    assert result["failed"] and result["msg"].startswith("cannot go on from the checkpoint: "), result["msg"]
    assert "checkpoint.samples: -1 is negative" in result["msg"]
    assert "Traceback" not in output and scrapes(server, "/metrics") == 2

    result, output, _code = watch(tmp_path, "text", **settings(server, window=5, checkpoint='{"format": '))
    assert result["failed"] and "cannot go on from the checkpoint: checkpoint: not JSON" in result["msg"]
    assert "Traceback" not in output and scrapes(server, "/metrics") == 2


def test_a_state_that_cannot_be_written_fails_the_watch_naming_the_host(tmp_path, server):
    serve_counters(server, "/metrics")
    (tmp_path / "a-file").write_text("not a directory\n")
    result, output, code = watch(tmp_path, **settings(server, window=5, **keep_state(tmp_path / "a-file" / "facts")))
    assert code == 0 and result["failed"], output
    assert result["msg"].startswith("cannot keep the watch's state on localhost"), result["msg"]
    assert "Not a directory" in result["msg"] and "a-file" in result["msg"]
    assert "Traceback" not in output and scrapes(server, "/metrics") == 1


def test_the_checkpoint_is_printed_only_when_asked_for(tmp_path, server):
    serve_counters(server, "/metrics")
    facts = tmp_path / "facts"
    result, output, _code = run(tmp_path, watch_tasks(settings(server, window=1, **keep_state(facts))),
                                verbosity=3)
    assert result["verdict"] == "pass" and "checkpoint" not in result, output
    assert CHECKPOINT_MARK not in output
    assert state(facts)["watch"]["checkpoint"]["format"] == CHECKPOINT_MARK

    result, output, _code = watch(tmp_path, "asked", **settings(server, window=1, return_checkpoint=True))
    assert result["checkpoint"]["format"] == CHECKPOINT_MARK and result["checkpoint"]["samples"] == 2


def test_without_state_the_host_is_not_contacted(tmp_path, server):
    """As before: nothing written, not changed, and no module run (its Python would be needed)."""
    serve_counters(server, "/metrics")
    tasks = watch_tasks(settings(server, window=1)).replace("register: watch", "register: watch\n"
                                                                               "      vars:\n"
                                                                               "        ansible_python_interpreter:"
                                                                               " /nonexistent/python")
    result, output, _code = run(tmp_path, tasks)
    assert result["verdict"] == "pass" and result["changed"] is False and result["samples"] == 2, output
    assert result["resumed"] is False and result["window_over"] is True


def test_a_breach_ends_the_watch_before_it_is_written_down(tmp_path, server):
    """The isolation comes first: the breach's sample goes to the rollback, not to the canary's state, whose
    last sample stays the one before (a run that died in between would take it again)."""
    serve_counters(server, "/metrics")
    facts = tmp_path / "facts"
    criteria = dict(CRITERIA, queue_depth=dict(CRITERIA["queue_depth"], threshold=2))
    result, output, _code = watch(tmp_path, **settings(server, window=30, criteria=criteria, **keep_state(facts)))
    assert result["failed"] and result["stopped_early"] and result["failed_criteria"] == ["queue_depth"], output
    assert result["samples"] == scrapes(server, "/metrics") == 3
    kept = state(facts)["watch"]
    assert kept["samples"] == 2 and at(kept["last_at"]) < at(result["breach_at"])
