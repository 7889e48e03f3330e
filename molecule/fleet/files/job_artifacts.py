"""What an `ansible-runner run` job left in its artifacts directory, as one JSON document for the asserts.

usage: job_artifacts.py ARTIFACTS_DIR   (private_data_dir/artifacts/<ident>)

- rc, status: the files ansible-runner writes when the job ends;
- stats: the set_stats data of the playbook_on_stats event (its artifact_data), what AWX shows as the
  job's artifacts;
- ended, ended_arrived: when that last event was made (its `created`, by the callback in the
  playbook's process) and when ansible-runner wrote it to job_events/ (the file's time);
- progress: the canary watch's progress lines, one per sample, each with its event's `created`, the
  time its event file was written (`arrived`) and the difference (`lag`): a line streamed while the
  watch ran arrived within moments of being printed, seconds before the job's end, not with it;
- failures: the messages of the tasks that failed (not those ignored);
- play_hosts: for each play, its hosts in the order their task results came, repeats merged (a play
  with `serial: 1` lists each host once, one after the other).
"""

import datetime
import json
import pathlib
import re
import sys

# The watch's line after a sample (plugins/action/canary_watch.py, format_progress):
# "[<label>] HH:MM:SS <left> left | ..."
PROGRESS = re.compile(r"^\[.+\] \d{2}:\d{2}:\d{2} (?:\d+h)?\d+m\d{2}s left\b")
RESULTS = ("runner_on_ok", "runner_on_failed", "runner_on_skipped", "runner_on_unreachable")


def epoch(created):
    return datetime.datetime.fromisoformat(created).timestamp()


def main():
    artifacts = pathlib.Path(sys.argv[1])
    events = []
    for path in (artifacts / "job_events").glob("*.json"):
        event = json.loads(path.read_text())
        event["_arrived"] = path.stat().st_mtime
        events.append(event)
    events.sort(key=lambda event: event["counter"])
    stats = [event for event in events if event.get("event") == "playbook_on_stats"]
    play_hosts = {}
    for event in events:
        data = event.get("event_data", {})
        if event.get("event") in RESULTS and data.get("host"):
            hosts = play_hosts.setdefault(data.get("play", ""), [])
            if not hosts or hosts[-1] != data["host"]:
                hosts.append(data["host"])
    summary = {
        "rc": int((artifacts / "rc").read_text().strip()),
        "status": (artifacts / "status").read_text().strip(),
        "events": len(events),
        "stats": stats[-1]["event_data"].get("artifact_data", {}) if stats else {},
        "ended": epoch(stats[-1]["created"]) if stats else None,
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
        "play_hosts": play_hosts,
    }
    json.dump(summary, sys.stdout)


if __name__ == "__main__":
    main()
