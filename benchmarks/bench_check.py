"""Wall time of each scheduled check run (playbooks/check.yml) of a canary on the demo topology.

An operator watches a long canary from cron: check.yml takes one judgement of the canary under way
(one sample, the lease pushed back, or the window's verdict once its end passed) and exits. Under
steady load through both load balancers (wrk to nginx on 127.0.0.1:8080 and HAProxy on :8081), after
a rollback of any canary under way, a canary of --release is started with one step of 25 % for
--window and a single sample (canary.yml, canary_samples_per_run=1, canary_unwatched_after=30); then
check.yml runs every --interval-between-runs seconds until it exits non-zero or the canary leaves
phase canary. Printed for each run: its number, wall seconds, exit code and the watch's `running:
N sample(s)` or verdict line; then min/median/max and whether every run was under the 10 s goal.
rollback.yml leaves the demo clean at the end. Needs the demo topology up (scripts/demo.sh).

Load goes to 127.0.0.1 only. Prints figures; asserts nothing.

    .venv/bin/python benchmarks/bench_check.py [--window 120s] [--interval-between-runs 3] [--release 1.1.0]
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import statistics
import subprocess
import time

from bench_cycle import ENV, ROOT, SHORT, state

GOAL = 10.0
UNWATCHED_AFTER = ["-e", "canary_unwatched_after=30"]
# The default callback, so that a failed run's reason is in its output.
OUTPUT_ENV = dict(ENV, ANSIBLE_STDOUT_CALLBACK="ansible.builtin.default", ANSIBLE_NOCOLOR="1")
# The watch's own lines: `[label] running: 3 sample(s) of the window so far, ...`, `[label] verdict: ...`.
WATCH_LINE = re.compile(r"^\[[^\]]*\] ((?:running|verdict): .*)$", re.MULTILINE)
NOTHING_TO_DO = re.compile(r"no canary of \S+ is under way[^\n]*?nothing to check")
ERROR = re.compile(r"^\[ERROR\]: .*$", re.MULTILINE)
FATAL = re.compile(r"^(?:fatal|failed): \[[^\]]+\].*?(?=^\S|\Z)", re.MULTILINE | re.DOTALL)


def run(name, *extra):
    """(wall seconds, exit code, output) of ansible-playbook playbooks/<name>."""
    started = time.monotonic()
    result = subprocess.run(["ansible-playbook", f"playbooks/{name}", *SHORT, *extra], cwd=ROOT, env=OUTPUT_ENV,
                            capture_output=True, text=True, check=False)
    return time.monotonic() - started, result.returncode, result.stdout + result.stderr


def summary(output):
    """The watch's last line in a run's output, or why it judged nothing, or its failure."""
    lines = WATCH_LINE.findall(output)
    if lines:
        return lines[-1]
    nothing = NOTHING_TO_DO.search(output)
    if nothing:
        return nothing.group(0)
    fatal = FATAL.findall(output)
    return fatal[-1].strip() if fatal else "(no watch line)"


def load(port, seconds):
    return subprocess.Popen(["wrk", "-t1", "-c4", f"-d{seconds}s", "-H", "Connection: close",
                             "-s", "demo/load/mixed.lua", f"http://127.0.0.1:{port}"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # A run every ~10 s gives a 120 s window the 8 samples the demo's memory_growth needs.
    parser.add_argument("--window", default="120s", help="the canary step's window (default 120s)")
    parser.add_argument("--interval-between-runs", type=float, default=3.0,
                        help="seconds from the end of a check run to the start of the next (default 3)")
    parser.add_argument("--release", default="1.1.0", help="the release to canary (default 1.1.0)")
    args = parser.parse_args()

    wrks = [load(8080, 3600), load(8081, 3600)]
    runs = []
    try:
        # A canary under way, or one of the release that passed (which canary.yml would not run again).
        if state().get("phase") in ("canary", "passed"):
            seconds, code, output = run("rollback.yml")
            print(f"a canary was {state().get('phase')}: rollback.yml {seconds:.1f} s, exit {code}")
            if code != 0:
                raise SystemExit(f"rollback.yml failed ({code}):\n{output[-4000:]}")
        time.sleep(2)  # the load reaches both instances before the canary's first sample

        steps = json.dumps({"canary_steps": [{"percentage": 25, "window": args.window}]})
        seconds, code, output = run("canary.yml", "-e", f"canary_release={args.release}",
                                    "-e", "canary_samples_per_run=1", *UNWATCHED_AFTER, "-e", steps)
        print(f"canary.yml, canary {args.release} at 25 % for {args.window}: {seconds:.1f} s, exit {code}, "
              f"{summary(output)}")
        if code != 0 or state().get("phase") != "canary":
            raise SystemExit(f"the canary did not start (exit {code}, phase {state().get('phase')}):\n{output[-4000:]}")

        print(f"check.yml every {args.interval_between_runs:g} s after the last ended, until it exits non-zero "
              "or the phase leaves canary")
        print(f"{'run':>4} {'wall s':>7} {'exit':>4}  watch")
        while True:
            time.sleep(args.interval_between_runs)
            seconds, code, output = run("check.yml", *UNWATCHED_AFTER)
            phase = state().get("phase")
            runs.append(seconds)
            print(f"{len(runs):>4} {seconds:7.2f} {code:>4}  {summary(output)}", flush=True)
            if code != 0 or phase != "canary":
                print(f"stopped: exit {code}, phase {phase}")
                for error in ERROR.findall(output):
                    print(error)
                break
            if len(runs) >= 500:
                print("stopped: 500 runs and the canary is still under way")
                break
    finally:
        if runs or state().get("phase") == "canary":
            seconds, code, output = run("rollback.yml")
            print(f"rollback.yml: {seconds:.1f} s, exit {code}" + ("" if code == 0 else f"\n{output[-4000:]}"))
        for wrk in wrks:
            wrk.send_signal(signal.SIGINT)
        for port, wrk in zip((8080, 8081), wrks, strict=True):
            out = wrk.communicate()[0]
            requests = re.search(r"^\s*(\d+) requests in .*$", out, re.MULTILINE)
            errors = re.findall(r"^\s*(Socket errors:.*|Non-2xx.*)$", out, re.MULTILINE)
            print(f"wrk to 127.0.0.1:{port}: {requests.group(0).strip() if requests else '?'}"
                  + "".join(f"; {e}" for e in errors))

    if runs:
        print(f"check.yml, {len(runs)} run(s): min {min(runs):.2f} s  median {statistics.median(runs):.2f} s  "
              f"max {max(runs):.2f} s  goal < {GOAL:g} s: "
              f"{'every run under it' if max(runs) < GOAL else f'{sum(r >= GOAL for r in runs)} run(s) over it'}")


if __name__ == "__main__":
    main()
