"""Load a load balancer on 127.0.0.1 with many user keys, and record the version each key gets in each phase.

    sticky_load.py PORT KEYS COOKIE CANARY CONTROL_DIR [THREADS]

Every request carries the cookie COOKIE=user-<n> of one of KEYS keys, on a connection of its own (so that a
reload closes no connection a request is about to use), and is answered by an instance that names itself in
X-Instance; CANARY is the canary's. The phase is the first line of CONTROL_DIR/phase, which the scenario
writes: `moving` while the share changes, a label while it holds, `stop` to end (20 minutes after the start
at the latest). An answer counts for a phase only when the phase was the same when the request left and when
its answer came. Once every key has been answered twice in the phase, CONTROL_DIR/<label>.done
appears, and the load slows to a trickle (IDLE_PAUSE) until the next phase, as it runs while the share
moves. At `stop`, CONTROL_DIR/result.json holds the figures: requests, non-2xx answers and socket
errors over the whole run, and per phase the keys seen, the keys that got both versions and the keys
on the canary.

A small threaded client rather than wrk: each answer must be counted against the key it was sent for and
the phase it was sent in, which wrk's response() callback cannot tell (it does not say which request or
connection an answer belongs to).
"""

import http.client
import json
import pathlib
import sys
import threading
import time
from collections import defaultdict

port, keys, cookie, canary, control = (
    int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4], pathlib.Path(sys.argv[5]))
threads = int(sys.argv[6]) if len(sys.argv) > 6 else 8
phase_file = control / "phase"
LIFETIME = 1200
# Between phases (the share moving, a reload, a phase already complete) each thread waits this long
# after each answer: requests stay in flight through every change, and the roles and load balancers
# under test keep the machine's cores, which a load at full speed took (a move took 35 s instead of 8).
IDLE_PAUSE = 0.2

lock = threading.Lock()
phase = "moving"
idle = True
totals = {"requests": 0, "non_2xx": 0, "socket_errors": 0}
# versions[label][key]: the versions (canary, production) a key got in a phase; answers[label][key]: how many
versions = defaultdict(lambda: defaultdict(set))
answers = defaultdict(lambda: defaultdict(int))
error_samples = []


def read_phase():
    try:
        return phase_file.read_text().split("\n", 1)[0].strip() or "moving"
    except OSError:
        return "moving"


def worker(first):
    key = first
    while phase != "stop":
        before = phase
        status, instance = None, None
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("GET", "/", headers={"Cookie": f"{cookie}=user-{key}", "Connection": "close"})
            response = conn.getresponse()
            response.read()
            status, instance = response.status, response.getheader("X-Instance")
            conn.close()
        except (OSError, http.client.HTTPException) as exc:
            status = exc
        after = phase
        with lock:
            totals["requests"] += 1
            if isinstance(status, Exception):
                totals["socket_errors"] += 1
                error_samples.append(f"{before}: {type(status).__name__}: {status}")
            elif not 200 <= status < 300:
                totals["non_2xx"] += 1
                error_samples.append(f"{before}: HTTP {status}")
            elif before == after and before not in ("moving", "stop"):
                versions[before][key].add("canary" if instance == canary else "production")
                answers[before][key] += 1
        key = (key + threads) % keys
        if idle:
            time.sleep(IDLE_PAUSE)


def main():
    global phase, idle
    control.mkdir(parents=True, exist_ok=True)
    pool = [threading.Thread(target=worker, args=(n,), daemon=True) for n in range(threads)]
    for thread in pool:
        thread.start()
    done = set()
    started = time.monotonic()
    while True:
        # A run that died before writing `stop` must not leave the load behind.
        phase = "stop" if time.monotonic() - started > LIFETIME else read_phase()
        if phase == "stop":
            break
        idle = phase == "moving" or phase in done
        if phase != "moving" and phase not in done:
            with lock:
                seen = answers[phase]
                complete = len(seen) == keys and min(seen.values()) >= 2
            if complete:
                (control / f"{phase}.done").write_text(time.strftime("%H:%M:%S\n"))
                done.add(phase)
        time.sleep(0.05)
    for thread in pool:
        thread.join(timeout=15)
    with lock:
        result = dict(totals, errors=error_samples[:20], phases={})
        for label, by_key in versions.items():
            result["phases"][label] = {
                "seen_keys": len(by_key),
                "min_answers": min(answers[label].values()),
                "mixed": sorted(key for key, seen in by_key.items() if len(seen) > 1)[:20],
                "mixed_count": sum(1 for seen in by_key.values() if len(seen) > 1),
                "canary": sorted(key for key, seen in by_key.items() if seen == {"canary"}),
            }
    (control / "result.json").write_text(json.dumps(result) + "\n")


main()
