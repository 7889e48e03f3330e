# Copyright: Hyper-Bun Operations Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Drain a canary that nobody judges any more.

Run by the lease's service when its timer fires, that is when no judgement pushed the timer back for
the lease's time: `lease_drain.py <lease directory> <seconds>`. The directory holds what the traffic
role prepared for each load balancer of this host when the lease was set (drain-<type>.json):

- nginx: the production-only upstream file the traffic role rendered, installed over the live one,
  checked with nginx -t (the previous file put back when nginx rejects it), then a graceful reload;
- haproxy: the canary servers set to weight 0 through the runtime API, and the server-state-file
  rewritten from "show servers state", as the traffic role persists a weight; for a sticky canary
  first its map entry set to 0 buckets, at run time and in the map file.

What happened is written to fired.json in the directory: when the lease fired (fired_at) and when its
drain was done (drained_at), and what each load balancer did at the last attempt (systemd tries
again while one is not drained); the next playbook reports it, records the rollback and writes the
incident report. Exits 1 when a load balancer could not be drained.

`lease_drain.py <lease directory> --now` is the rollback's isolation: the same drain, at once, before
anything else of the rollback; it prints what each load balancer did and writes no fired.json (the
lease did not fire: the rollback says why it drained).
"""

import datetime
import json
import os
import pathlib
import socket
import subprocess
import sys
import tempfile


def write_atomic(path, text, mode=0o644):
    path = pathlib.Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        pathlib.Path(tmp).unlink(missing_ok=True)
        raise


def ask_haproxy(path, command, timeout=10):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(timeout)
        conn.connect(path)
        conn.sendall(command.encode() + b"\n")
        chunks = []
        while chunk := conn.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks).decode(errors="replace")


def drain_haproxy_map(conf, entry):
    command = f"set map {entry['map']} {entry['key']} {entry['value']}"
    answer = ask_haproxy(conf["socket"], command).strip()
    if answer:
        raise RuntimeError(f"HAProxy refused {command!r}: {answer[:200]}")
    path = pathlib.Path(entry["map"])
    lines = [line for line in path.read_text().splitlines() if line.split()[:1] != [entry["key"]]]
    write_atomic(path, "\n".join([*lines, f"{entry['key']} {entry['value']}"]) + "\n")


def drain_haproxy(conf):
    # A sticky canary's users reach it by its map entry, whatever its weight.
    for entry in conf.get("maps", []):
        drain_haproxy_map(conf, entry)
    commands = "; ".join(f"set weight {conf['backend']}/{name} 0" for name in conf["servers"])
    answer = ask_haproxy(conf["socket"], commands).strip()
    if answer:
        raise RuntimeError(f"HAProxy refused {commands!r}: {answer[:200]}")
    if conf.get("state_file"):
        write_atomic(conf["state_file"], ask_haproxy(conf["socket"], "show servers state"))
    return f"servers {', '.join(conf['servers'])} of backend {conf['backend']} at weight 0"


def drain_nginx(conf):
    live = pathlib.Path(conf["upstream_file"])
    previous = live.read_text() if live.exists() else None
    write_atomic(live, pathlib.Path(conf["drained_file"]).read_text())
    test = subprocess.run(["nginx", "-t", "-q"], capture_output=True, text=True, check=False)
    if test.returncode != 0:
        if previous is None:
            live.unlink()
        else:
            write_atomic(live, previous)
        raise RuntimeError(f"nginx rejected the production-only upstream, the previous file is back: "
                           f"{test.stderr.strip()[:200]}")
    reload = subprocess.run(["systemctl", "reload", "nginx"], capture_output=True, text=True, check=False)
    if reload.returncode != 0:
        raise RuntimeError(f"systemctl reload nginx failed: {reload.stderr.strip()[:200]}")
    return f"production-only upstream {live} in force"


DRIVERS = {"nginx": drain_nginx, "haproxy": drain_haproxy}


def drain_all(lease_dir):
    """Drain every load balancer the lease's directory prepared; returns what each did, and whether one failed."""
    results, failed = {}, False
    for path in sorted(lease_dir.glob("drain-*.json")):
        lb_type = path.stem[len("drain-"):]
        try:
            results[lb_type] = "drained: " + DRIVERS[lb_type](json.loads(path.read_text()))
        except Exception as exc:  # every load balancer is tried, and each failure recorded
            failed = True
            results[lb_type] = f"not drained: {type(exc).__name__}: {exc}"
        print(f"{lb_type}: {results[lb_type]}", flush=True)
    return results, failed


def now_text():
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


def main(argv):
    lease_dir = pathlib.Path(argv[1])
    if argv[2] == "--now":
        return 1 if drain_all(lease_dir)[1] else 0
    seconds = int(float(argv[2]))
    # When the timer fired, apart from when the drain was done: on a busy host the drain (nginx -t,
    # a reload, HAProxy's calls) takes seconds of its own.
    fired_at = now_text()
    results, failed = drain_all(lease_dir)
    fired = lease_dir / "fired.json"
    record = json.loads(fired.read_text()) if fired.exists() else {
        "fired_at": fired_at,
        "drained_at": now_text(),
        "unwatched_after": seconds,
        "reason": f"unwatched for {seconds} s: no judgement pushed the lease back, so it drained the canary",
        "attempts": 0,
    }
    record.update(load_balancers=results, failed=failed, attempts=record.get("attempts", 0) + 1)
    write_atomic(fired, json.dumps(record, indent=2) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
