# Copyright: Hyper-Bun Operations Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Drain a canary that nobody judges any more.

Run by the lease's service when its timer fires, that is when no judgement pushed the timer back for
the lease's time: `lease_drain.py <lease directory> <seconds>`. The directory holds what the traffic
role prepared for each load balancer of this host when the lease was set (drain-<type>.json):

- nginx: the production-only upstream file the traffic role rendered, installed over the live one,
  checked with nginx -t (the previous file put back when nginx rejects it), then a graceful reload;
- haproxy: the weights of the share 0 (every canary server at 0) set through the runtime API, then
  written into the configuration file (checked with haproxy -c) and the server-state-file rewritten
  from "show servers state", as the traffic role persists a weight; for a sticky canary first its map
  entry set to 0 buckets, at run time and in the map file.

What happened is written to fired.json in the directory: when the lease fired (fired_at) and when its
drain was done (drained_at), and what each load balancer did at the last attempt (systemd tries
again while one is not drained); the next playbook reports it, records the rollback and writes the
incident report. Exits 1 when a load balancer could not be drained.

`lease_drain.py <lease directory> --now` is the isolation as soon as a step fails: the same drain, at
once; it prints what each load balancer did and writes no fired.json (the lease did not fire: the
rollback says why it drained).

`lease_drain.py <lease directory> --end <unit>` is the rollback's call on this host, the lease's last:
the same drain (again, after --now: it changes nothing the second time but a graceful reload), what
each load balancer has in force read back (nginx -T: every canary server of the upstreams at weight 0
and a sticky canary's split at 0 %; HAProxy's runtime API and configuration file: every canary server
at weight 0, and a sticky canary's map entry at 0), then the lease removed: its timer stopped and its
units deleted (a lease disarmed at the end of its canary's windows has none left), systemd reloaded,
this directory deleted. It prints one JSON document: what the lease recorded if it fired (fired), per
load balancer whether the drain is in force and what was done or why not (load_balancers), and
whether the lease was removed (lease_removed). It reads nginx -T and HAProxy's answers with the
collection's own parsers.
"""

import datetime
import json
import os
import pathlib
import shutil
import stat
import subprocess
import sys
import tempfile

# The collection's own parsers and HAProxy client (plugins/module_utils), which the lease role writes
# beside this file.
import _haproxy_config
import _haproxy_runtime
import _nginx_config


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


def ask_haproxy(path, command):
    return _haproxy_runtime.HAProxyRuntime(path).command(command)


def drain_haproxy_map(conf, entry):
    command = f"set map {entry['map']} {entry['key']} {entry['value']}"
    answer = ask_haproxy(conf["socket"], command).strip()
    if answer:
        raise RuntimeError(f"HAProxy refused {command!r}: {answer[:200]}")
    path = pathlib.Path(entry["map"])
    lines = [line for line in path.read_text().splitlines() if line.split()[:1] != [entry["key"]]]
    write_atomic(path, "\n".join([*lines, f"{entry['key']} {entry['value']}"]) + "\n")


def persist_haproxy_config(conf, weights):
    """The weights written into the configuration file as well, checked with haproxy -c first: HAProxy
    takes a weight from the server-state-file only while the configuration's weight of that server is
    the one the running process started with, so a reload keeps the drain whichever of the two applies."""
    path = pathlib.Path(conf["config"])
    before = path.read_text()
    after = _haproxy_config.set_server_weights(before, conf["backend"], weights)
    if after == before:
        return
    fd, tmp = tempfile.mkstemp(prefix=".hyperbun-lease-", suffix=".cfg")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(after)
        check = subprocess.run(["haproxy", "-c", "-q", "-f", tmp], capture_output=True, text=True, check=False)
    finally:
        pathlib.Path(tmp).unlink(missing_ok=True)
    if check.returncode != 0:
        raise RuntimeError(f"HAProxy rejects its configuration with these weights, {path} left as it was: "
                           f"{(check.stderr or check.stdout).strip()[:200]}")
    write_atomic(path, after, stat.S_IMODE(path.stat().st_mode))


def drain_haproxy(conf):
    # A sticky canary's users reach it by its map entry, whatever its weight.
    for entry in conf.get("maps", []):
        drain_haproxy_map(conf, entry)
    # The weights of the share 0 as the traffic role computed them: production's too, the canary's at 0.
    weights = conf["weights"]
    commands = "; ".join(f"set weight {conf['backend']}/{name} {weight}" for name, weight in weights.items())
    answer = ask_haproxy(conf["socket"], commands).strip()
    if answer:
        raise RuntimeError(f"HAProxy refused {commands!r}: {answer[:200]}")
    if conf.get("config"):
        persist_haproxy_config(conf, weights)
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


def confirm_nginx(conf):
    """What nginx -T has in force: every canary server of the upstreams at weight 0, a sticky canary's
    split at 0 %; raises RuntimeError naming what is not."""
    dump = subprocess.run(["nginx", "-T"], capture_output=True, text=True, check=False)
    if dump.returncode != 0:
        raise RuntimeError(f"nginx -T failed, the weights in force cannot be read back: {dump.stderr.strip()[:200]}")
    for upstream in conf["upstreams"]:
        weights = _nginx_config.upstream_weights(dump.stdout, upstream)
        serving = {server: weights[server] for server in conf["canary_servers"] if weights.get(server)}
        if serving:
            raise RuntimeError(f"nginx upstream {upstream} still has the canary at weights {serving}")
    if conf.get("split"):
        share = _nginx_config.split_share(dump.stdout, conf["split"]["variable"], conf["split"]["value"])
        if share:
            raise RuntimeError(f"nginx still gives {share} % of the users to {conf['split']['value']}")
    return f"read back from nginx -T: the canary at weight 0 in {', '.join(conf['upstreams'])}"


def confirm_haproxy(conf):
    """What the running HAProxy has: every canary server at weight 0, a sticky canary's map entry at 0;
    raises RuntimeError naming what is not."""
    backend = conf["backend"]
    state = _haproxy_runtime.parse_servers_state(ask_haproxy(conf["socket"], f"show servers state {backend}"), backend)
    serving = {name: state[name]["uweight"] for name in conf["servers"] if state.get(name, {}).get("uweight")}
    if serving:
        raise RuntimeError(f"HAProxy backend {backend} still has the canary at weights {serving}")
    if conf.get("config"):
        configured = _haproxy_config.server_weights(pathlib.Path(conf["config"]).read_text(), backend)
        serving = {name: configured[name] for name in conf["servers"] if configured.get(name)}
        if serving:
            raise RuntimeError(f"{conf['config']} still gives the canary weights {serving}")
    for entry in conf.get("maps", []):
        lines = ask_haproxy(conf["socket"], f"show map {entry['map']}").splitlines()
        values = [words[2] for words in map(str.split, lines) if len(words) == 3 and words[1] == entry["key"]]
        if values != [entry["value"]]:
            found = values or "nothing"
            raise RuntimeError(f"HAProxy map {entry['map']} has {entry['key']} at {found}, not {entry['value']}")
    return f"read back from HAProxy: servers {', '.join(conf['servers'])} of backend {backend} at weight 0"


DRIVERS = {"nginx": drain_nginx, "haproxy": drain_haproxy}
CONFIRMS = {"nginx": confirm_nginx, "haproxy": confirm_haproxy}


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


UNIT_DIR = pathlib.Path("/etc/systemd/system")


def remove_lease(lease_dir, unit):
    """The lease's timer stopped and its units deleted, systemd reloaded (a lease disarmed when its
    canary's windows ended has none left), and its directory deleted."""
    units = [path for path in (UNIT_DIR / f"{unit}.timer", UNIT_DIR / f"{unit}.service") if path.exists()]
    if units:
        # systemctl exits 5 for a unit that is not loaded: nothing to stop.
        stop = subprocess.run(["systemctl", "stop", f"{unit}.timer"], capture_output=True, text=True, check=False)
        if stop.returncode not in (0, 5):
            raise RuntimeError(f"systemctl stop {unit}.timer failed: {stop.stderr.strip()[:200]}")
        for path in units:
            path.unlink()
        subprocess.run(["systemctl", "daemon-reload"], capture_output=True, check=True)
    shutil.rmtree(lease_dir)


def end(lease_dir, unit):
    """The rollback's drain, read back, and the lease removed; returns what happened, for the playbook."""
    fired = lease_dir / "fired.json"
    result = {"fired": json.loads(fired.read_text()) if fired.exists() else None, "load_balancers": {}}
    for path in sorted(lease_dir.glob("drain-*.json")):
        lb_type = path.stem[len("drain-"):]
        try:
            conf = json.loads(path.read_text())
            DRIVERS[lb_type](conf)
            result["load_balancers"][lb_type] = {"drained": True, "detail": CONFIRMS[lb_type](conf)}
        except Exception as exc:  # every load balancer is tried; the playbook drains one that failed its own way
            result["load_balancers"][lb_type] = {"drained": False, "detail": f"{type(exc).__name__}: {exc}"}
    try:
        remove_lease(lease_dir, unit)
        result["lease_removed"] = True
    except (OSError, RuntimeError, subprocess.CalledProcessError) as exc:
        result["lease_removed"], result["lease_error"] = False, f"{type(exc).__name__}: {exc}"
    return result


def main(argv):
    lease_dir = pathlib.Path(argv[1])
    if argv[2] == "--now":
        return 1 if drain_all(lease_dir)[1] else 0
    if argv[2] == "--end":
        print(json.dumps(end(lease_dir, argv[3])), flush=True)
        return 0
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
