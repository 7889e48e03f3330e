"""Figures of the canary cycle on the demo topology (start it first with scripts/demo.sh).

- canary.yml without its window: a canary of 1.2.0 with a 2 s window judged as a dry run (so that it
  passes whatever two seconds show), its wall time less the window;
- rollback.yml: its wall time, rolling that canary back;
- fault -> isolation: a canary of 1.2.0 is watched every INTERVAL seconds; a fault (half of its
  API requests fail) is switched on in the running canary through its run-time faults file, and
  the clock runs until both load balancers read back weight 0 for the canary (nginx: the upstream
  in force shows it `down`; HAProxy: `get weight` on the admin socket says 0);
- breach -> isolation: from the sample that breached (the verdict's breach_at, recorded on the canary
  host) to the same weights 0 read back: the rollback's isolation comes first (the lease's drain, on
  every load balancer at once). Goals: at most INTERVAL + 2 s from the fault, under 1 s from the breach.

Load goes to 127.0.0.1 only. Prints figures; asserts nothing.

    .venv/bin/python benchmarks/bench_cycle.py [--interval 5] [--rounds 3]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import pathlib
import signal
import statistics
import subprocess
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
APP, LB = "hyperbun-demo-app1", "hyperbun-demo-lb1"
FAULTS_FILE = "/run/hyperbun/canary.faults"
ENV = dict(os.environ, PATH=f"{ROOT / '.venv' / 'bin'}:{os.environ['PATH']}",
           ANSIBLE_STDOUT_CALLBACK="ansible.builtin.null")
SHORT = ["-e", "@playbooks/demo/short-window.yml"]


def playbook(name, *extra, check=True):
    started = time.monotonic()
    result = subprocess.run(["ansible-playbook", f"playbooks/{name}", *SHORT, *extra], cwd=ROOT, env=ENV,
                            capture_output=True, text=True, check=False)
    if check and result.returncode != 0:
        raise SystemExit(f"{name} failed ({result.returncode}):\n{result.stdout[-3000:]}{result.stderr[-2000:]}")
    return time.monotonic() - started


def on(host, command):
    return subprocess.run(["docker", "exec", host, "sh", "-c", command], capture_output=True, text=True,
                          check=False).stdout


def canary_isolated():
    # Both read in one call, so that the clock's steps are as fine as the machine allows.
    both = on(LB, "nginx -T 2>/dev/null | grep -E 'server +app1:3001'; echo '--'; "
                  "echo 'get weight hyperbun/app1-3001' | python3 -c \"import socket,sys;"
                  " s=socket.socket(socket.AF_UNIX); s.connect('/run/haproxy/admin.sock');"
                  " s.sendall(sys.stdin.buffer.read()); print(s.recv(256).decode())\"")
    nginx, _sep, haproxy = both.partition("--\n")
    return ("down" in nginx or not nginx.strip()) and haproxy.strip().startswith("0 ")


def state():
    return json.loads(on(APP, "cat /etc/ansible/facts.d/hyperbun_canary.fact") or "{}")


def load(seconds):
    return subprocess.Popen(["wrk", "-t1", "-c4", f"-d{seconds}s", "-s", "demo/load/mixed.lua", "http://127.0.0.1:8080"],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def detection_to_isolation(interval):
    on(APP, f"rm -f {FAULTS_FILE}")
    wrk = load(600)
    steps = json.dumps({"canary_release": "1.2.0", "canary_interval": interval,
                        "canary_steps": [{"percentage": 25, "window": 600}]})
    run = subprocess.Popen(["ansible-playbook", "playbooks/canary.yml", *SHORT, "-e", steps], cwd=ROOT, env=ENV,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 600
        while not (state().get("phase") == "canary" and int(state().get("weight", 0)) == 25):
            if run.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the canary never reached its share")
            time.sleep(1)
        time.sleep(3 * interval)  # the watch has a few good samples behind it
        if run.poll() is not None or canary_isolated() or state().get("phase") != "canary":
            # A critical alert still firing from an earlier round's fault (a 5 min rate) ends the
            # canary before this round's fault; such a round measures nothing.
            raise SystemExit("the canary ended before the fault was switched on; wait for the "
                             "alerts in Prometheus to clear (http://127.0.0.1:9090/alerts) and run again")
        on(APP, f"mkdir -p /run/hyperbun && echo error_rate=0.5 > {FAULTS_FILE}")
        fault_at = time.monotonic()
        while not canary_isolated():
            if time.monotonic() - fault_at > 300:
                raise SystemExit("the canary was not isolated within 300 s")
            time.sleep(0.1)
        isolated = time.monotonic() - fault_at
        isolated_at = time.time()
        run.wait(timeout=600)
        breach_at = state().get("verdict", {}).get("breach_at")
        if not breach_at:
            raise SystemExit(f"the rollback recorded no breach: {state().get('verdict', {}).get('msg')}")
        return isolated, isolated_at - datetime.datetime.fromisoformat(breach_at).timestamp()
    finally:
        on(APP, f"rm -f {FAULTS_FILE}")
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGTERM)
        wrk.send_signal(signal.SIGINT)
        wrk.wait()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--interval", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    canary, rollback, isolation, from_breach = [], [], [], []
    for _round in range(args.rounds):
        wrk = load(300)
        try:
            window = 2
            total = playbook("canary.yml", "-e", json.dumps({
                "canary_release": "1.2.0", "canary_dry_run": True,
                "canary_steps": [{"percentage": 25, "window": window}]}))
            canary.append(total - window)
            rollback.append(playbook("rollback.yml"))
        finally:
            wrk.send_signal(signal.SIGINT)
            wrk.wait()
        from_fault, breached = detection_to_isolation(args.interval)
        isolation.append(from_fault)
        from_breach.append(breached)
        playbook("rollback.yml", check=False)

    def line(name, values, goal):
        print(f"{name:<34} median {statistics.median(values):6.1f} s  min {min(values):6.1f} s  "
              f"max {max(values):6.1f} s  goal {goal}")

    print(f"canary cycle on the demo topology, {args.rounds} round(s), sample interval {args.interval:g} s")
    line("canary.yml without its window", canary, "<= 60 s")
    line("rollback.yml", rollback, "<= 5 s idle, <= 8 s busy")
    line("fault -> isolation", isolation, f"<= {args.interval + 2:g} s")
    line("breach -> isolation", from_breach, "< 1 s")


if __name__ == "__main__":
    main()
