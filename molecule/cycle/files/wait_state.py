"""Waits, on the controller, until the canary state recorded on a test host says what a test waits for,
then prints that state as JSON; exits 1 with the last state read when the time is up.

Reading the state with `docker exec <host> cat` every second costs a small fraction of what an
Ansible task polled every second costs (a module run on the host each time): a scenario waits this
way for minutes, beside other scenarios on the same two cores.

    wait_state.py HOST [--phase P] [--min-samples N] [--min-elapsed S] [--weight W]
                  [--ended-since STARTED_AT] [--timeout SECONDS]

The conditions are all required, except --ended-since, which is enough on its own: a run that started
after STARTED_AT (the state's started_at differs) and whose phase is no longer canary has ended, and
there is nothing more to wait for.
"""

import argparse
import datetime
import json
import subprocess
import sys
import time

FACT = "/etc/ansible/facts.d/hyperbun_canary.fact"


def read(host):
    done = subprocess.run(["docker", "exec", host, "cat", FACT], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return {}
    try:
        state = json.loads(done.stdout)
    except ValueError:
        return {}
    return state if isinstance(state, dict) else {}


def elapsed(state):
    started = state.get("watch", {}).get("window_started_at")
    if not started:
        return -1.0
    return time.time() - datetime.datetime.fromisoformat(started).timestamp()


def reached(state, args):
    if args.ended_since is not None and (
        state.get("started_at", "") != args.ended_since and state.get("phase", "canary") != "canary"
    ):
        return True
    if args.phase is not None and state.get("phase") != args.phase:
        return False
    if state.get("watch", {}).get("samples", 0) < args.min_samples:
        return False
    if args.min_elapsed and elapsed(state) < args.min_elapsed:
        return False
    return args.weight is None or float(state.get("weight", -1)) == args.weight


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("host")
    parser.add_argument("--phase")
    parser.add_argument("--min-samples", type=int, default=0)
    parser.add_argument("--min-elapsed", type=float, default=0.0)
    parser.add_argument("--weight", type=float)
    parser.add_argument("--ended-since")
    parser.add_argument("--timeout", type=float, default=150.0)
    args = parser.parse_args()
    deadline = time.monotonic() + args.timeout
    while True:
        state = read(args.host)
        if reached(state, args):
            print(json.dumps(state))
            return 0
        if time.monotonic() > deadline:
            print(json.dumps(state))
            return 1
        time.sleep(1)


if __name__ == "__main__":
    sys.exit(main())
