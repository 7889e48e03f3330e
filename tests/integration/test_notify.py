"""hyperbun.canary.notify against a real receiver on 127.0.0.1: Slack, webhook, PagerDuty and mail."""

import json
import os
import pathlib
import re
import signal
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
PLAYBOOK = ROOT / "tests" / "integration" / "notify" / "events.yml"
SINK = ROOT / "tests" / "tools" / "notify_sink.py"

SLACK_TOKEN = "T0NOTIFY/B0NOTIFY/slackpathsecret0123"
WEBHOOK_TOKEN = "webhooktokensecret4567"
ROUTING_KEY = "pagerdutyroutingkeysecret89ab"
SMTP_PASSWORD = "smtppasswordsecretcdef"
SECRETS = [SLACK_TOKEN, "slackpathsecret0123", WEBHOOK_TOKEN, ROUTING_KEY, SMTP_PASSWORD]

# One of each kind, as the playbooks tell them.
EVENTS = [
    {"event": "started", "phase": "canary", "reason": "canary 1.1.0 started beside production 1.0.0", "share": 0},
    {"event": "step", "phase": "canary", "reason": "step 1 of 2: 5 % for 30s", "share": 5},
    {
        "event": "unwatched",
        "phase": "rolled_back",
        "reason": "the lease on lb1 drained the canary at 2026-11-28T01:00:00, unwatched for 300 s",
    },
    {
        "event": "rolled_back",
        "phase": "rolled_back",
        "reason": "at step 1 of 2 (5 %): error_rate breached",
        "criterion": "error_rate",
        "value": "0.8 %",
        "threshold": "> 0.5 %",
        "report": "/srv/incidents/2026-11-28-hyperbun-1.1.0-rollback-010000.md",
        "share": 5,
    },
    {"event": "resolve", "phase": "rolled_back", "reason": "resolved by hand"},
    {"event": "passed", "phase": "passed", "reason": "every step passed", "release": "1.2.0", "share": 5},
    {"event": "promoted", "phase": "promoted", "reason": "production on 1.2.0, canary stopped", "release": "1.2.0"},
    {"event": "bake_failed", "phase": "rolled_back", "reason": "production back on 1.1.0", "release": "1.2.0"},
    {"event": "bake_passed", "phase": "promoted", "reason": "bake of 1.2.0 passed", "release": "1.2.0"},
    {"event": "decommissioned", "phase": "decommissioned", "reason": "canary unit and old releases removed"},
]
PAGERDUTY = {"rolled_back": "trigger", "bake_failed": "trigger", "passed": "resolve", "resolve": "resolve"}


class Sink:
    def __init__(self, directory):
        self.path = directory / "requests.jsonl"
        self.process = subprocess.Popen(
            [sys.executable, str(SINK), "--out", str(self.path), "--smtp-login", f"canary:{SMTP_PASSWORD}"],
            stdout=subprocess.PIPE,
            text=True,
        )
        ports = json.loads(self.process.stdout.readline())
        self.http_port, self.smtp_port = ports["http_port"], ports["smtp_port"]

    def requests(self):
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text().splitlines()]

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=10)


@pytest.fixture
def sink(tmp_path):
    receiver = Sink(tmp_path)
    yield receiver
    receiver.stop()


def channels(http_port, smtp_port, **overrides):
    base = f"http://127.0.0.1:{http_port}"
    settings = {
        "notify_slack_webhook_url": f"{base}/slack/services/{SLACK_TOKEN}",
        "notify_webhook_url": f"{base}/hook?token={WEBHOOK_TOKEN}",
        "notify_webhook_headers": {"X-Canary": "hyperbun"},
        "notify_pagerduty_routing_key": ROUTING_KEY,
        "notify_pagerduty_url": f"{base}/pagerduty/v2/enqueue",
        "notify_smtp_host": "127.0.0.1",
        "notify_smtp_port": smtp_port,
        "notify_smtp_secure": "never",
        "notify_smtp_username": "canary",
        "notify_smtp_password": SMTP_PASSWORD,
        "notify_smtp_from": "canary@hyperbun.test",
        "notify_smtp_to": ["ops@hyperbun.test"],
        "notify_timeout": 5,
    }
    settings.update(overrides)
    return settings


def run_events(tmp_path, settings, events, verbosity="-v"):
    failures_file = tmp_path / "failures.json"
    extra = dict(settings, notify_test_events=events, notify_test_failures_file=str(failures_file))
    extra_file = tmp_path / "extra.json"
    extra_file.write_text(json.dumps(extra))
    env = dict(os.environ, ANSIBLE_FORCE_COLOR="0", PY_COLORS="0", ANSIBLE_NOCOLOR="1")
    result = subprocess.run(
        ["ansible-playbook", verbosity, str(PLAYBOOK), "-e", f"@{extra_file}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    output = result.stdout + result.stderr
    failures = json.loads(failures_file.read_text()) if failures_file.exists() else None
    return result.returncode, output, failures


def assert_no_secret(output):
    for secret in SECRETS:
        assert secret not in output, f"a secret ({secret[:6]}...) was printed"


def test_every_event_reaches_every_channel_once(sink, tmp_path):
    rc, output, failures = run_events(tmp_path, channels(sink.http_port, sink.smtp_port), EVENTS)
    assert rc == 0, output[-3000:]
    assert failures == []
    assert_no_secret(output)
    requests = sink.requests()

    slack = [r for r in requests if r["kind"] == "http" and r["path"].startswith("/slack/")]
    webhook = [r for r in requests if r["kind"] == "http" and r["path"].startswith("/hook")]
    pagerduty = [r for r in requests if r["kind"] == "http" and r["path"].startswith("/pagerduty/")]
    mails = [r for r in requests if r["kind"] == "smtp"]
    assert len(slack) == len(webhook) == len(mails) == len(EVENTS)
    assert len(pagerduty) == len(PAGERDUTY)

    for event, slack_request, hook_request, mail in zip(EVENTS, slack, webhook, mails, strict=True):
        release = event.get("release", "1.1.0")
        assert slack_request["path"] == f"/slack/services/{SLACK_TOKEN}"
        text = slack_request["body"]["text"]
        assert release in text and f"phase {event['phase']}" in text and event["reason"] in text

        assert hook_request["path"] == f"/hook?token={WEBHOOK_TOKEN}"
        assert hook_request["headers"]["X-Canary"] == "hyperbun"
        body = hook_request["body"]
        assert (body["event"], body["release"], body["phase"], body["reason"], body["app"]) == (
            event["event"],
            release,
            event["phase"],
            event["reason"],
            "hyperbun",
        )
        for field in ("criterion", "value", "threshold", "report", "share"):
            assert body[field] == str(event.get(field, ""))
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", body["time"])

        assert mail["rcpt_tos"] == ["ops@hyperbun.test"] and mail["mail_from"] == "canary@hyperbun.test"
        assert mail["login"] == "canary"
        assert release in mail["subject"]
        assert f"event: {event['event']}" in mail["body"] and f"phase: {event['phase']}" in mail["body"]
        assert f"reason: {event['reason']}" in mail["body"] and f"release: {release}" in mail["body"]

    rolled_back = webhook[[e["event"] for e in EVENTS].index("rolled_back")]["body"]
    assert "error_rate 0.8 % against > 0.5 %" in rolled_back["text"]
    assert "report: /srv/incidents/" in rolled_back["text"]

    told = [e for e in EVENTS if e["event"] in PAGERDUTY]
    for event, request in zip(told, pagerduty, strict=True):
        body = request["body"]
        assert body["routing_key"] == ROUTING_KEY
        assert body["dedup_key"] == "hyperbun-canary-hyperbun"
        assert body["event_action"] == PAGERDUTY[event["event"]]
        if body["event_action"] == "trigger":
            details = body["payload"]["custom_details"]
            assert (details["release"], details["phase"], details["reason"]) == (
                event.get("release", "1.1.0"),
                event["phase"],
                event["reason"],
            )
            assert body["payload"]["severity"] == "critical" and body["payload"]["source"] == "hyperbun"


def test_receiver_down_is_reported_and_the_play_goes_on(sink, tmp_path):
    http_port, smtp_port = sink.http_port, sink.smtp_port
    sink.stop()
    rolled_back = [e for e in EVENTS if e["event"] == "rolled_back"]
    rc, output, failures = run_events(tmp_path, channels(http_port, smtp_port), rolled_back, verbosity="-vv")
    assert rc == 0, output[-3000:]
    assert_no_secret(output)
    assert sorted(f["channel"] for f in failures) == ["email", "pagerduty", "slack", "webhook"]
    for failure in failures:
        assert failure["event"] == "rolled_back"
        assert "refused" in failure["reason"].lower(), failure
    warnings = [line for line in output.splitlines() if "WARNING: notification of rolled_back failed on" in line]
    assert len(warnings) == 1
    assert all(channel in warnings[0] for channel in ("slack", "webhook", "pagerduty", "email"))


def test_a_refusing_channel_is_named_with_its_status(sink, tmp_path):
    settings = channels(
        sink.http_port,
        sink.smtp_port,
        notify_webhook_url=f"http://127.0.0.1:{sink.http_port}/status/503/hook?token={WEBHOOK_TOKEN}",
        notify_smtp_password="not-the-password",
        notify_events={"slack": ["started"], "pagerduty": []},
    )
    rolled_back = [e for e in EVENTS if e["event"] == "rolled_back"]
    rc, output, failures = run_events(tmp_path, settings, rolled_back)
    assert rc == 0, output[-3000:]
    assert_no_secret(output)
    assert "not-the-password" not in output
    assert {f["channel"] for f in failures} == {"webhook", "email"}
    webhook_failure = next(f for f in failures if f["channel"] == "webhook")
    assert webhook_failure["reason"].startswith("HTTP 503")
    requests = sink.requests()
    # notify_events kept rolled_back from Slack and PagerDuty.
    assert [r["path"].split("?")[0] for r in requests if r["kind"] == "http"] == ["/status/503/hook"]


def test_nothing_configured_sends_nothing(sink, tmp_path):
    rc, output, failures = run_events(tmp_path, {}, EVENTS[:2])
    assert rc == 0, output[-3000:]
    assert failures == []
    assert sink.requests() == []
    assert "Send it to" not in output
