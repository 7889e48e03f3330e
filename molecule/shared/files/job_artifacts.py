"""What an `ansible-runner run` job left in its artifacts directory, as one JSON document for the asserts.

usage: job_artifacts.py ARTIFACTS_DIR   (private_data_dir/artifacts/<ident>)

- rc, status: the files ansible-runner writes when the job ends;
- stats: the set_stats data of the playbook_on_stats event (its artifact_data), what AWX shows as the
  job's artifacts; changed: the changes that event counts, on every host;
- ended_arrived: when ansible-runner wrote that last event to job_events/ (the file's time);
- progress: the canary watch's progress lines, one per sample, each with its event's `created`, the
  time its event file was written (`arrived`) and the difference (`lag`): a line streamed while the
  watch ran arrived within moments of being printed, seconds before the job's end, not with it;
- failures: the messages of the tasks that failed (not those ignored);
- hosts_by_play: for each play, the hosts its task results came from, in the order they came, a
  host named again only after another's: a play run host by host (serial: 1) names each host once.
"""

import datetime
import json
import pathlib
import re
import sys

# The watch's line after a sample (plugins/action/canary_watch.py, format_progress):
# "[<label>] HH:MM:SS <left> left | ..."
PROGRESS = re.compile(r"^\[.+\] \d{2}:\d{2}:\d{2} (?:\d+h)?\d+m\d{2}s left\b")


def epoch(created):
    return datetime.datetime.fromisoformat(created).timestamp()


def hosts_by_play(events):
    plays = {}
    for event in events:
        data = event.get("event_data", {})
        if event.get("event", "").startswith("runner_on_") and data.get("host"):
            hosts = plays.setdefault(data.get("play", ""), [])
            if not hosts or hosts[-1] != data["host"]:
                hosts.append(data["host"])
    return plays


def main():
    artifacts = pathlib.Path(sys.argv[1])
    events = []
    for path in (artifacts / "job_events").glob("*.json"):
        event = json.loads(path.read_text())
        event["_arrived"] = path.stat().st_mtime
        events.append(event)
    events.sort(key=lambda event: event["counter"])
    stats = [event for event in events if event.get("event") == "playbook_on_stats"]
    summary = {
        "rc": int((artifacts / "rc").read_text().strip()),
        "status": (artifacts / "status").read_text().strip(),
        "events": len(events),
        "stats": stats[-1]["event_data"].get("artifact_data", {}) if stats else {},
        "changed": sum((stats[-1]["event_data"].get("changed") or {}).values()) if stats else None,
        "ended_arrived": stats[-1]["_arrived"] if stats else None,
        "progress": [
            {
                "line": event["stdout"],
                "created": epoch(event["created"]),
                "arrived": event["_arrived"],
                "lag": event["_arrived"] - epoch(event["created"]),
            }
            for event in events
            if PROGRESS.match(event.get("stdout", "").strip())
        ],
        "failures": [
            event["event_data"].get("res", {}).get("msg", "")
            for event in events
            if event.get("event") == "runner_on_failed" and not event["event_data"].get("ignore_errors")
        ],
        "hosts_by_play": hosts_by_play(events),
    }
    json.dump(summary, sys.stdout)


if __name__ == "__main__":
    main()
