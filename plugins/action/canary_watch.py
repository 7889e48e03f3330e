# Copyright: Hyper-Bun Operations Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The validation window: samples the canary's metrics on the controller and prints one line a sample.

The window is a schedule, started_at + k * interval until started_at + window; the judgement so far
is a checkpoint (Judge.checkpoint()). A watch can go on from a checkpoint, take a few samples and
return (max_samples), and keep its progress in the canary's state on the task's host after every
sample (state_app), so that the window survives the controller.
"""

from __future__ import annotations

import datetime
import math
import os
import re
import time

from ansible.errors import AnsibleActionFail, AnsibleError
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

try:
    from ansible_collections.hyperbun.canary.plugins.module_utils._judge import INCONCLUSIVE, PASS
    from ansible_collections.hyperbun.canary.plugins.module_utils._judge_params import (
        POLICY_ARGUMENT_SPEC,
        Judge,
        SetupError,
        argument_spec,
        parse_duration,
        parse_time,
    )
    from ansible_collections.hyperbun.canary.plugins.module_utils._metrics_http import (
        PROMETHEUS_AUTH_MUTUALLY_EXCLUSIVE,
        PROMETHEUS_AUTH_REQUIRED_TOGETHER,
    )
except ImportError as exc:  # prometheus-client missing on the controller
    IMPORT_ERROR = exc
else:
    IMPORT_ERROR = None

display = Display()

RUNNING = "running"
STATE_MODULE = "hyperbun.canary.canary_state"
# canary_state's default fact_dir.
FACT_DIR = "/etc/ansible/facts.d"
_APP = re.compile(r"^[A-Za-z0-9_]+$")
# Slack for the float arithmetic of the schedule, and for times written to the microsecond.
_EPSILON = 1e-6


def format_left(seconds):
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


_UNITS = {"percent": "%", "percent_per_hour": "%/h", "milliseconds": "ms", "seconds": "s", "count": "", "ratio": ""}


# The terminal's columns a progress line may take, whatever the label and the number of criteria.
LINE_WIDTH = 160
ELLIPSIS = "\u2026"
# The canary's /metrics writes the messages: nothing of it may move the terminal's cursor or colour it.
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_SOURCE_NOTE = re.compile(r" \(source: [^()]*(?:\([^()]*\)[^()]*)*\)$")
# Listed first, so that what ends a window is the last thing cut from its line.
_PROBLEM_ORDER = {"fail": 0, "error": 1, "no_data": 2}


def printable(text):
    return _UNPRINTABLE.sub("?", str(text))


def ellipsize(text, width):
    if len(text) <= width:
        return text
    return text[:max(0, width - 1)] + ELLIPSIS if width > 0 else ""


def format_result(result, reason=False):
    c = result.criterion
    unit = _UNITS.get(c.unit, f" {c.unit}")
    value = "-" if result.value is None else f"{result.value:.3g}{unit}"
    text = f"{c.name} {value} ({c.comparison}{c.threshold:g}{unit}) {result.outcome}"
    if reason and result.outcome in ("error", "no_data") and result.message:
        text += ": " + _SOURCE_NOTE.sub("", result.message)
    return printable(text)


def format_progress(label, clock, left, results, state, width=LINE_WIDTH):
    """The line printed after a sample, at most `width` characters.

    Criteria that pass (or wait for traffic) are counted; a breach, a no_data or an error is written out
    (name, value, threshold; an unmeasured one's reason while there is room). When that is too long, the
    reasons go first, then the problems that do not fit are counted ("+2 more: fail"), then the label is
    shortened; only then is a problem's text cut, with an ellipsis.
    """
    problems = sorted((r for r in results if r.outcome in _PROBLEM_ORDER), key=lambda r: _PROBLEM_ORDER[r.outcome])
    counts = {}
    for r in results:
        if r.outcome not in _PROBLEM_ORDER:
            counts[r.outcome] = counts.get(r.outcome, 0) + 1
    summary = ", ".join(f"{n} {outcome}" for outcome, n in sorted(counts.items()))
    tail = [part for part in (summary, printable(state)) if part]
    when = f"] {clock} {left} left"
    label = printable(label)

    def line(shown, label=label):
        rest = problems[len(shown):]
        outcomes = "/".join(sorted({r.outcome for r in rest}, key=_PROBLEM_ORDER.get))
        more = [f"+{len(rest)} more: {outcomes}"] if rest else []
        return " | ".join([f"[{label}{when}", *shown, *more, *tail])

    for reason in (True, False):
        text = line([format_result(r, reason) for r in problems])
        if len(text) <= width:
            return text
    shown = [format_result(r) for r in problems]
    while len(shown) > 1:
        shown.pop()
        text = line(shown)
        if len(text) <= width:
            return text
    # One problem at least is named: the label gives way first, down to a few characters.
    named = shown[:1]
    excess = len(line(named)) - width
    if excess > 0 and len(label) > 12:
        label = ellipsize(label, max(12, len(label) - excess))
    text = line(named, label)
    if named and len(text) > width:
        excess = len(text) - width
        text = line([ellipsize(named[0], max(1, len(named[0]) - excess))], label)
    return ellipsize(text, width)


def utc(at, timespec="seconds"):
    return datetime.datetime.fromtimestamp(at, datetime.timezone.utc).isoformat(timespec=timespec)


def parse_start(value):
    """Unix time of window_started_at (RFC 3339 text, a date-time YAML read, or Unix seconds); None for none."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise SetupError(f"window_started_at must be a time such as 2026-11-27T10:00:00+00:00 or Unix seconds, "
                         f"got {value!r}")
    if isinstance(value, datetime.datetime):
        at = (value if value.tzinfo else value.replace(tzinfo=datetime.timezone.utc)).timestamp()
    elif isinstance(value, datetime.date):
        at = datetime.datetime(value.year, value.month, value.day, tzinfo=datetime.timezone.utc).timestamp()
    else:
        text = str(value).strip()
        # A date-time as YAML or Python print it: a space between the date and the time.
        text = re.sub(r"^(\d{4}-\d\d-\d\d) (\d\d:)", r"\1T\2", text)
        at = parse_time(text, "window_started_at")
    if not math.isfinite(at):
        raise SetupError(f"window_started_at must be a finite time, got {value!r}")
    return at


def next_slot(started, interval, after):
    """The first time of the schedule started + k * interval after `after` (the last sample's time)."""
    k = max(0, math.floor((after - started) / interval + _EPSILON) + 1)
    return started + k * interval


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    # The watch itself runs on the controller; only the state (state_app) is written through the connection.
    _requires_connection = False

    ARGUMENT_SPEC = dict(
        window=dict(type="raw", default="24h"),
        window_started_at=dict(type="raw"),
        checkpoint=dict(type="raw"),
        max_samples=dict(type="int", default=0),
        state_app=dict(type="str"),
        state_fact_dir=dict(type="str", default=FACT_DIR),
        return_checkpoint=dict(type="bool", default=False),
        dry_run=dict(type="bool", default=False),
        label=dict(type="str", default="canary"),
        traffic_share=dict(type="float"),
        subject=dict(type="str", default="canary", choices=["canary", "production"]),
        validate_only=dict(type="bool", default=False),
        **POLICY_ARGUMENT_SPEC,
        **argument_spec(interval_default=30),
    ) if IMPORT_ERROR is None else {}

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        if IMPORT_ERROR is not None:
            raise AnsibleActionFail(
                f"canary_watch needs the Python library prometheus-client on the controller: {IMPORT_ERROR}")
        _spec, args = self.validate_argument_spec(
            argument_spec=self.ARGUMENT_SPEC,
            mutually_exclusive=PROMETHEUS_AUTH_MUTUALLY_EXCLUSIVE,
            required_together=PROMETHEUS_AUTH_REQUIRED_TOGETHER,
        )
        # The ansible-playbook this worker runs for (see _wait_until).
        playbook = os.getppid()
        try:
            window, started, judge, resumed = self._setup(args)
        except SetupError as exc:
            raise AnsibleActionFail(str(exc)) from None
        if args["validate_only"]:
            result.update(changed=False, window_seconds=window,
                          msg=f"{len(judge.criteria)} criteria, a window of {format_left(window)}: settings valid")
            return result
        try:
            result.update(self._watch(args, task_vars if task_vars is not None else {}, window, started, judge,
                                      resumed, playbook))
        finally:
            self._clean_up()
        return result

    def _clean_up(self):
        """Remove the temporary directory the state's writes left on the host (none when pipelining)."""
        if self._connection._shell.tmpdir is None:
            return
        try:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        except AnsibleError as exc:
            display.warning(f"canary_watch: cannot remove its temporary directory on the host: {exc}")

    @staticmethod
    def _setup(args):
        """(window seconds, the window's start, a Judge, whether it goes on from a checkpoint) for the task's
        arguments; raises SetupError."""
        window = parse_duration(args["window"], "window")
        if args["max_samples"] < 0:
            raise SetupError(f"max_samples must be 0 (no limit) or more, got {args['max_samples']}")
        if args["state_app"] is not None and not _APP.match(args["state_app"]):
            raise SetupError("state_app must be letters, digits and underscores (it names an Ansible fact), "
                             f"got {args['state_app']!r}")
        if args["traffic_share"] is not None and not 0 <= args["traffic_share"] <= 100:
            raise SetupError(f"traffic_share must be a percentage from 0 to 100, got {args['traffic_share']!r}")
        started = parse_start(args["window_started_at"])
        checkpoint = None if args["checkpoint"] in (None, "") else args["checkpoint"]
        judge = Judge.from_params(args, minimum_interval=1, checkpoint=checkpoint)
        evaluator, interval, now = judge.evaluator, judge.interval, time.time()
        if started is None:
            # A window goes on from its first sample, or starts now.
            started = evaluator.first_at if evaluator.first_at is not None else now
        if started > now + interval:
            raise SetupError(f"window_started_at {utc(started)} is in the future")
        if evaluator.first_at is not None and evaluator.first_at < started - 1:
            raise SetupError(f"cannot go on from the checkpoint: its first sample was taken at "
                             f"{utc(evaluator.first_at)}, before the window started ({utc(started)}, "
                             "window_started_at): it is the judgement of another window")
        if evaluator.last_at is not None and evaluator.last_at > now + interval:
            raise SetupError(f"cannot go on from the checkpoint: its last sample was taken at "
                             f"{utc(evaluator.last_at)}, which is in the future")
        return window, started, judge, checkpoint is not None

    def _watch(self, args, task_vars, window, started, judge, resumed, playbook):
        evaluator, interval, label = judge.evaluator, judge.interval, args["label"]
        deadline = started + window
        host = self._task.delegate_to or task_vars.get("inventory_hostname") or "the task's host"
        changed = False
        now = time.time()
        if resumed:
            display.display(f"[{label}] going on with the window started at {utc(started)} after "
                            f"{evaluator.samples} sample(s): {format_left(deadline - now)} left, "
                            f"a sample every {interval:g}s")
        else:
            display.display(f"[{label}] watching {len(judge.criteria)} criteria for "
                            f"{format_left(deadline - max(now, started))}, a sample every {interval:g}s")

        due = started if evaluator.last_at is None else next_slot(started, interval, evaluator.last_at)
        taken = 0
        over = False
        while evaluator.decision is None:
            # The window is over when its schedule has no sample left, or its end passed while no watch
            # ran (a sample taken then would not be of the window; one this run is late for is taken).
            if due > deadline + _EPSILON or (not taken and time.time() > deadline + interval / 2):
                over = True
                break
            if args["max_samples"] and taken >= args["max_samples"]:
                break
            self._wait_until(due, playbook)
            now = time.time()
            results = judge.observe(now)
            evaluator.series.note_share(now, args["traffic_share"])
            taken += 1
            display.display(format_progress(label, utc(now)[11:19], format_left(deadline - now), results,
                                            evaluator.decision or "watching"))
            # A breach is not recorded here: the isolation comes first (the rollback records the
            # verdict), and a run that died before it takes this sample again from the one before.
            if args["state_app"] and evaluator.decision is None:
                changed = self._keep_state(args, task_vars, host, {
                    "label": label,
                    "window_started_at": utc(started, "microseconds"),
                    "window_seconds": window,
                    "interval": interval,
                    "samples": evaluator.samples,
                    "last_at": utc(now, "microseconds"),
                    "checkpoint": judge.checkpoint(),
                }) or changed
            due = next_slot(started, interval, now)

        decision = evaluator.decision
        result = dict(
            changed=changed,
            started_at=utc(started),
            window_seconds=window,
            window_ends_at=utc(deadline),
            window_over=over,
            resumed=resumed,
            stopped_early=decision is not None,
            breach_at=utc(evaluator.last_at, "milliseconds") if decision is not None else None,
            dry_run=args["dry_run"],
        )
        if decision is None and not over:
            result.update(
                verdict=RUNNING,
                samples=evaluator.samples,
                failed_criteria=[],
                results=[evaluator.last[c.name].to_dict() for c in evaluator.criteria if c.name in evaluator.last],
                ended_at=None,
                msg=f"{args['subject']} running: {evaluator.samples} sample(s) of the window so far, nothing decided "
                    f"yet; it ends at {utc(deadline)} ({format_left(deadline - time.time())} left)",
            )
            display.display(f"[{label}] {result['msg'][len(args['subject']) + 1:]}")
        else:
            verdict = evaluator.finish(success_thresholds=args["success_thresholds"] and decision is None)
            result.update(verdict.to_dict())
            if args["subject"] != "canary":
                # Production's numbers judged against the canary's thresholds are not a canary's verdict.
                result["msg"] = re.sub(r"^canary (?:verdict|passed)", lambda m: "{} {}".format(
                    args["subject"], "judged" if m.group(0).endswith("verdict") else "passed"), result["msg"])
            result["ended_at"] = utc(time.time())
            display.display(f"[{label}] verdict: {result['msg']}")
            if verdict.outcome != PASS and not args["dry_run"]:
                result["failed"] = True
            if verdict.outcome == INCONCLUSIVE:
                result["msg"] += " (inconclusive is not a pass: too little traffic to judge)"
        result["series"] = evaluator.series_dict()
        if args["return_checkpoint"]:
            result["checkpoint"] = judge.checkpoint()
        return result

    @staticmethod
    def _wait_until(due, playbook):
        """Sleep until `due`; raise AnsibleActionFail if the ansible-playbook that runs the watch is gone.

        A worker of ansible-playbook runs in a session of its own: when ansible-playbook is killed, the
        worker would go on watching, unseen, and keep writing the canary's state beside the watch that
        goes on from it. It stops instead, before its next sample.
        """
        while True:
            if os.getppid() != playbook:
                raise AnsibleActionFail("the ansible-playbook that ran this watch has ended: the watch stops")
            left = due - time.time()
            if left <= 0:
                return
            time.sleep(min(left, 0.5))

    def _keep_state(self, args, task_vars, host, watch):
        """Record `watch` as the value `watch` of the canary's state on the task's host; whether it changed.

        canary_state runs through the task's connection. Nothing is added to the state's timeline, and the
        module is told not to log its arguments (the checkpoint) on the host. Raises AnsibleActionFail,
        naming the host and the reason, when the state cannot be written.
        """
        module_args = dict(app=args["state_app"], fact_dir=args["state_fact_dir"], state="present",
                           values={"watch": watch}, return_state=False)
        no_log = self._task.no_log
        self._task.no_log = True
        started = time.perf_counter()
        try:
            answer = self._execute_module(module_name=STATE_MODULE, module_args=module_args, task_vars=task_vars)
        except AnsibleError as exc:
            answer = {"failed": True, "msg": str(exc)}
        finally:
            self._task.no_log = no_log
        display.vv(f"[{args['label']}] state kept on {host} in {time.perf_counter() - started:.3f}s")
        if answer.get("failed") or answer.get("unreachable"):
            reason = str(answer.get("msg") or "no reason given").strip()
            stderr = [line.strip() for line in str(answer.get("module_stderr") or "").splitlines() if line.strip()]
            if stderr:
                # The module did not answer: what it said on its way out (a traceback's last line).
                reason += f" ({stderr[-1] if stderr[0].startswith('Traceback') else stderr[0]})"
            raise AnsibleActionFail(
                f"cannot keep the watch's state on {host} ({STATE_MODULE}, app {args['state_app']}, "
                f"fact_dir {args['state_fact_dir']}): {reason}. The watch stops: a window whose progress "
                "cannot be kept is not run on")
        return bool(answer.get("changed"))
