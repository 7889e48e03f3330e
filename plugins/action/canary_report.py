# Copyright: Hyper-Bun Operations Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The canary's report as one self-contained HTML page, written on the controller.

Charts are drawn with matplotlib as inline SVG, text as paths: the page loads nothing, runs no
script, and reads the same offline, attached to a mail or archived. Everything in the verdict came
through the canary's state or its /metrics and is treated as untrusted: every text is escaped, every
number checked before it is drawn.
"""

from __future__ import annotations

import datetime
import html
import io
import math
import os
import re
import tempfile
import urllib.parse

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.text.converters import to_bytes, to_text
from ansible.plugins.action import ActionBase

try:
    import matplotlib
    from matplotlib import dates as mdates
    from matplotlib.figure import Figure
except ImportError as exc:
    MATPLOTLIB_IMPORT_ERROR = exc
else:
    MATPLOTLIB_IMPORT_ERROR = None

UTC = datetime.timezone.utc
OUTCOMES = ("pass", "fail", "inconclusive", "no_data", "error")
_UNITS = {"percent": "%", "percent_per_hour": "%/h", "milliseconds": "ms", "seconds": "s", "count": "", "ratio": ""}
# The most points drawn per criterion and charts per page: a verdict is untrusted, a page must stay readable.
MAX_POINTS = 2000
MAX_CHARTS = 100
COLOURS = {"value": "#1f5fa8", "production": "#6c757d", "threshold": "#c0392b", "breach": "#c0392b",
           "isolation": "#7d3c98", "share": "#1e8449", "unmeasured": "#b9770e"}

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
       margin: 2em auto; max-width: 70em; padding: 0 1em; color: #212529; line-height: 1.4; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #ced4da; padding: 0.3em 0.6em; text-align: left; vertical-align: top; }
th { background: #f1f3f5; }
td.message { font-size: 0.85em; max-width: 40em; overflow-wrap: anywhere; }
.outcome-pass { color: #1e8449; } .outcome-fail, .outcome-error, .outcome-no_data { color: #c0392b; font-weight: bold; }
.outcome-inconclusive { color: #b9770e; }
figure { margin: 1.5em 0; padding: 0.5em; border: 1px solid #dee2e6; }
figure svg { width: 100%; height: auto; display: block; }
figcaption { margin-bottom: 0.3em; } figcaption .detail { font-size: 0.85em; color: #495057; }
.legend span { margin-right: 1.2em; white-space: nowrap; }
.no-samples, .missing { padding: 0.8em; background: #fff3cd; border: 1px solid #ffe69c; }
"""


class ReportError(ValueError):
    """The verdict or the options cannot make a report; the message says why."""


def _number(value):
    """A finite float from a verdict's value, else None (a text, such as the "Infinity" a checkpoint writes)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def parse_time(value):
    """A timezone-aware datetime from Unix seconds, an ISO 8601 text or a datetime; None for nothing or nonsense."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    if isinstance(value, datetime.datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, (int, float)):
        if not math.isfinite(value) or not 0 <= value < 10**11:
            return None
        return datetime.datetime.fromtimestamp(value, UTC)
    text = str(value).strip()
    try:
        return parse_time(float(text))
    except ValueError:
        pass
    try:
        at = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _text(value):
    return "" if value is None else to_text(value, errors="surrogate_or_replace")


def esc(value):
    return html.escape(_text(value), quote=True)


def _when(at):
    return at.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z") if at else "-"


def _fmt(value, unit=""):
    number = _number(value)
    if number is None:
        return "-"
    unit = unit if isinstance(unit, str) else ""
    suffix = _UNITS.get(unit, f" {unit}" if unit else "")
    return f"{number:.4g}{suffix}"


def _criterion_series(entry):
    """One criterion's points, as dicts with a datetime and checked numbers; a point that is not one is left out."""
    columns = {key: entry.get(key) for key in ("at", "value", "baseline_value", "outcome", "samples")}
    if not isinstance(columns["at"], list):
        return []
    length = len(columns["at"])
    for key in ("value", "baseline_value", "outcome", "samples"):
        if not isinstance(columns[key], list) or len(columns[key]) != length:
            columns[key] = [None] * length
    points = []
    for at, value, baseline, outcome, samples in zip(*(columns[k] for k in columns), strict=True):
        when = parse_time(at)
        if when is None:
            continue
        points.append(dict(at=when, value=_number(value), baseline=_number(baseline),
                           outcome=outcome if outcome in OUTCOMES else "error",
                           samples=samples if isinstance(samples, int) and not isinstance(samples, bool) else 1))
    points.sort(key=lambda p: p["at"])
    return points[-MAX_POINTS:]


def shares_over_time(verdict, isolated_at, end):
    """[(datetime, percent)] of the canary's share: the watch's series, else each step's start; 0 from isolation."""
    changes = []
    series = verdict.get("series") if isinstance(verdict.get("series"), dict) else {}
    for change in series.get("shares") or []:
        if isinstance(change, dict):
            at, share = parse_time(change.get("at")), _number(change.get("share"))
            if at and share is not None and 0 <= share <= 100:
                changes.append((at, share))
    if not changes:
        for step in verdict.get("steps") or []:
            if not isinstance(step, dict):
                continue
            at = parse_time(step.get("window_started_at"))
            share = _number(step.get("percentage"))
            if share is None:
                try:
                    share = float(step.get("percentage"))
                except (TypeError, ValueError):
                    share = None
            if at and share is not None and 0 <= share <= 100:
                changes.append((at, share))
    changes.sort()
    if isolated_at is not None:
        changes = [c for c in changes if c[0] <= isolated_at] + [(isolated_at, 0.0)]
    if changes and end is not None and end > changes[-1][0]:
        changes.append((end, changes[-1][1]))
    return changes


def _svg(figure, salt):
    """The figure as an inline <svg> element: no XML prolog, ids made unique on the page by `salt`."""
    with matplotlib.rc_context({"svg.fonttype": "path", "svg.hashsalt": salt}):
        buffer = io.StringIO()
        figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None, "Format": None, "Type": None})
    text = buffer.getvalue()
    return text[text.index("<svg"):]


def _axes(figure, ylabel):
    # Fixed margins rather than a tight bounding box, which draws every figure twice.
    height = figure.get_figheight()
    figure.subplots_adjust(left=0.08, right=0.985, top=1 - 0.15 / height, bottom=0.55 / height)
    axes = figure.add_subplot(1, 1, 1)
    axes.set_ylabel(ylabel)
    axes.grid(True, color="#e9ecef", linewidth=0.6)
    locator = mdates.AutoDateLocator(tz=UTC)
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, tz=UTC))
    return axes


def time_span(times):
    """The x range every chart shares: the report's first to last time, with a little room; a single time
    (one sample) gets a minute around it rather than matplotlib's years."""
    times = [t for t in times if t is not None]
    if not times:
        return None
    first, last = min(times), max(times)
    room = max((last - first) * 0.03, datetime.timedelta(seconds=30 if first == last else 1))
    return first - room, last + room


def _markers(axes, index, breach_at, isolated_at):
    if breach_at is not None:
        axes.axvline(breach_at, color=COLOURS["breach"], linestyle="--", linewidth=1.2,
                     gid=f"breach-marker-{index}")
    if isolated_at is not None:
        axes.axvline(isolated_at, color=COLOURS["isolation"], linestyle=":", linewidth=1.4,
                     gid=f"isolation-marker-{index}")


def criterion_chart(entry, points, index, breach_at, isolated_at, span=None):
    figure = Figure(figsize=(9, 2.8), dpi=96)
    unit = _UNITS.get(_text(entry.get("unit")), _text(entry.get("unit")))
    axes = _axes(figure, unit or "value")
    measured = [p for p in points if p["value"] is not None]
    if measured:
        axes.plot([p["at"] for p in measured], [p["value"] for p in measured], color=COLOURS["value"],
                  linewidth=1.4, marker="o" if len(measured) < 60 else None, markersize=3, gid=f"canary-{index}")
    production = [p for p in points if p["baseline"] is not None]
    if production:
        axes.plot([p["at"] for p in production], [p["baseline"] for p in production], color=COLOURS["production"],
                  linewidth=1.2, linestyle="-.", gid=f"production-{index}")
    threshold = _number(entry.get("threshold"))
    if threshold is not None:
        axes.axhline(threshold, color=COLOURS["threshold"], linewidth=1.2, gid=f"threshold-{index}")
    breaches = [p for p in measured if p["outcome"] == "fail"]
    if breaches:
        axes.plot([p["at"] for p in breaches], [p["value"] for p in breaches], linestyle="none", marker="X",
                  markersize=8, color=COLOURS["breach"], gid=f"breach-points-{index}")
    unmeasured = [p["at"] for p in points if p["outcome"] in ("no_data", "error")]
    if unmeasured:
        axes.plot(unmeasured, [0.02] * len(unmeasured), linestyle="none", marker="|", markersize=10,
                  color=COLOURS["unmeasured"], transform=axes.get_xaxis_transform(), gid=f"unmeasured-{index}")
    _markers(axes, index, breach_at, isolated_at)
    if span:
        axes.set_xlim(*span)
    return _svg(figure, f"criterion-{index}")


def share_chart(changes, breach_at, isolated_at, span=None):
    figure = Figure(figsize=(9, 2.2), dpi=96)
    axes = _axes(figure, "% of traffic")
    axes.step([at for at, _share in changes], [share for _at, share in changes], where="post",
              color=COLOURS["share"], linewidth=1.6, gid="traffic-share-line")
    axes.set_ylim(bottom=0, top=max(max(share for _at, share in changes) * 1.2, 1.0))
    _markers(axes, "share", breach_at, isolated_at)
    if span:
        axes.set_xlim(*span)
    return _svg(figure, "traffic-share")


def _legend(has_production, breach_at, isolated_at, first=None):
    items = [first] if first else [("value", "canary"), ("threshold", "threshold")]
    if has_production:
        items.append(("production", "production"))
    if breach_at:
        items.append(("breach", "- - breach"))
    if isolated_at:
        items.append(("isolation", "\u00b7\u00b7\u00b7 canary isolated (weight 0)"))
    return '<div class="legend">' + "".join(
        f'<span style="color:{COLOURS[key]}">\u25a0 {html.escape(label)}</span>' for key, label in items) + "</div>"


def render(verdict, release="", app="", reason="", breach_at=None, isolated_at=None, markdown_report=""):
    """The page, as text. `verdict` is the watch's result or the state's verdict (a dictionary)."""
    if MATPLOTLIB_IMPORT_ERROR is not None:
        raise ReportError(f"canary_report needs the Python library matplotlib on the controller "
                          f"(pip install matplotlib): {MATPLOTLIB_IMPORT_ERROR}")
    if not isinstance(verdict, dict):
        raise ReportError(f"verdict must be a dictionary (the watch's result or the state's verdict), "
                          f"got {type(verdict).__name__}")
    breach = parse_time(breach_at) or parse_time(verdict.get("breach_at"))
    isolated = parse_time(isolated_at)
    outcome = _text(verdict.get("verdict") or "unknown")
    series = verdict.get("series") if isinstance(verdict.get("series"), dict) else {}
    entries = [e for e in series.get("criteria") or [] if isinstance(e, dict)][:MAX_CHARTS]
    results = [r for r in verdict.get("results") or [] if isinstance(r, dict)]
    samples = verdict.get("samples") if isinstance(verdict.get("samples"), int) else 0
    title = f"Canary {_text(release) or '?'} of {_text(app) or '?'}: {outcome}"

    out = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
           # Nothing but the page's own styles and inline images, should anything slip through.
           "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
           "style-src 'unsafe-inline'; img-src data:\">",
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           f"<title>{esc(title)}</title>", f"<style>{STYLE}</style>", "</head>", "<body>",
           f"<h1>{esc(title)}</h1>", '<table class="facts">']
    facts = [("Release", release), ("Application", app), ("Verdict", outcome), ("Reason", reason),
             ("Window", f"{_when(parse_time(verdict.get('started_at')))} to "
                        f"{_when(parse_time(verdict.get('ended_at')))}"),
             ("Samples", samples), ("Breach (UTC)", _when(breach)),
             ("Canary isolated, weight 0 (UTC)", _when(isolated))]
    failed_step = verdict.get("failed_step") if isinstance(verdict.get("failed_step"), dict) else None
    if failed_step:
        facts.append(("Failed at step", f"{_text(failed_step.get('number'))} "
                                        f"({_text(failed_step.get('percentage'))} % of the traffic)"))
    for name, value in facts:
        out.append(f"<tr><th>{esc(name)}</th><td>{esc(value) or '-'}</td></tr>")
    if markdown_report:
        name = os.path.basename(_text(markdown_report))
        out.append(f'<tr><th>Incident report</th><td><a href="{esc(urllib.parse.quote(name))}">{esc(name)}</a>'
                   "</td></tr>")
    out.append("</table>")

    out += ["<h2>Criteria</h2>", '<table class="summary">',
            "<tr><th>criterion</th><th>outcome</th><th>value</th><th>threshold</th><th>production</th>"
            "<th>severity</th><th>what was measured</th></tr>"]
    for r in results:
        unit = _text(r.get("unit"))
        result_outcome = _text(r.get("outcome"))
        css = result_outcome if result_outcome in OUTCOMES else "error"
        out.append(
            f'<tr data-criterion="{esc(r.get("name"))}"><td>{esc(r.get("name"))}</td>'
            f'<td class="outcome-{css}">{esc(result_outcome)}</td><td>{esc(_fmt(r.get("value"), unit))}</td>'
            f'<td>{esc(r.get("comparison"))} {esc(_fmt(r.get("threshold"), unit))}</td>'
            f'<td>{esc(_fmt(r.get("baseline_value"), unit))}</td><td>{esc(r.get("severity"))}</td>'
            f'<td class="message">{esc(r.get("message"))}</td></tr>')
    if not results:
        out.append('<tr><td colspan="7">No criterion was judged.</td></tr>')
    out.append("</table>")

    charted = [(e, _criterion_series(e)) for e in entries]
    if not verdict:
        out.append('<p class="no-samples">No verdict was given with this report (a rollback by hand): there is '
                   "nothing to chart.</p>")
    elif not samples and not any(points for _e, points in charted):
        out.append('<p class="no-samples">No sample was taken: the canary was not judged, so there is nothing '
                   "to chart. The reason above says what stopped it.</p>")
    else:
        last = max((p["at"] for _e, points in charted for p in points), default=None)
        end = max([t for t in (last, isolated, parse_time(verdict.get("ended_at"))) if t is not None], default=None)
        changes = shares_over_time(verdict, isolated, end)
        span = time_span([p["at"] for _e, points in charted for p in points] + [at for at, _share in changes]
                         + [breach, isolated])
        out.append("<h2>Traffic on the canary</h2>")
        if changes:
            out.append("<figure class=\"traffic-share\"><figcaption>The canary's share of the traffic, in percent"
                       "</figcaption>" + share_chart(changes, breach, isolated, span)
                       + _legend(False, breach, isolated, first=("share", "share")) + "</figure>")
        else:
            out.append('<p class="missing">The canary\'s share of the traffic over time is not known.</p>')
        out.append("<h2>Each criterion over the window</h2>")
        if not charted:
            out.append('<p class="missing">The verdict holds no series of the criteria over time '
                       "(a watch of an earlier version, or a failure before the window).</p>")
        for index, (entry, points) in enumerate(charted):
            name = entry.get("name")
            unit = _text(entry.get("unit"))
            shown = [p for p in points if p["outcome"] == "fail"]
            figure_outcome = "fail" if shown else (points[-1]["outcome"] if points else "no_data")
            has_production = any(p["baseline"] is not None for p in points)
            merged = sum(p["samples"] for p in points) - len(points)
            caption = (f'<strong>{esc(name)}</strong> <span class="outcome-{esc(figure_outcome)}">'
                       f'{esc(figure_outcome)}</span> <span class="detail">(breaches when '
                       f"{esc(entry.get('comparison'))} {esc(_fmt(entry.get('threshold'), unit))}; "
                       f"{len(points)} point(s) for {len(points) + merged} sample(s)"
                       f"{', each merged point shows its worst sample' if merged else ''})</span>")
            chart = (criterion_chart(entry, points, index, breach, isolated, span)
                     + _legend(has_production, breach, isolated)
                     if points else '<p class="missing">No sample of this criterion.</p>')
            out.append(f'<figure class="criterion" data-criterion="{esc(name)}" data-outcome="{esc(figure_outcome)}">'
                       f"<figcaption>{caption}</figcaption>{chart}</figure>")
    out += ["</body>", "</html>", ""]
    return "\n".join(out)


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    ARGUMENT_SPEC = dict(
        dest=dict(type="path", required=True),
        verdict=dict(type="dict", required=True),
        release=dict(type="str", default=""),
        app=dict(type="str", default=""),
        reason=dict(type="str", default=""),
        breach_at=dict(type="raw"),
        isolated_at=dict(type="raw"),
        markdown_report=dict(type="str", default=""),
        mode=dict(type="raw", default="0644"),
        on_error=dict(type="str", default="fail", choices=["fail", "warn"]),
    )

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        _spec, args = self.validate_argument_spec(argument_spec=self.ARGUMENT_SPEC)
        try:
            result.update(self._report(args))
        # With on_error=warn nothing may fail the caller (a rollback), a bug in the drawing included.
        except Exception as exc:
            if args["on_error"] != "warn":
                raise
            why = str(exc) if isinstance(exc, AnsibleActionFail) else f"{type(exc).__name__}: {exc}"
            result.update(changed=False, drawn=False, dest=args["dest"], error=why,
                          msg=f"the canary report {args['dest']} was not written: {why}")
            result["warnings"] = [result["msg"]]
        return result

    def _report(self, args):
        mode = args["mode"]
        if isinstance(mode, str):
            if not re.fullmatch(r"0?[0-7]{3,4}", mode):
                raise AnsibleActionFail(f"mode must be octal, such as '0644', got {mode!r}")
            mode = int(mode, 8)
        if not isinstance(mode, int) or isinstance(mode, bool) or not 0 <= mode <= 0o7777:
            raise AnsibleActionFail(f"mode must be octal, such as '0644', got {args['mode']!r}")
        try:
            page = render(args["verdict"], args["release"], args["app"], args["reason"], args["breach_at"],
                          args["isolated_at"], args["markdown_report"])
        except ReportError as exc:
            raise AnsibleActionFail(str(exc)) from None
        dest = args["dest"]
        data = to_bytes(page)
        try:
            with open(dest, "rb") as current:
                changed = current.read() != data
        except OSError:
            changed = True
        charts = page.count('<figure class="criterion"')
        result = dict(dest=dest, changed=changed, drawn=True, charts=charts, size=len(data),
                      msg=f"canary report {'would be ' if self._task.check_mode else ''}written to {dest}: "
                          f"{charts} criterion chart(s)")
        if self._task.check_mode:
            result["changed"] = True
            return result
        if changed:
            self._write(dest, data, mode)
        return result

    @staticmethod
    def _write(dest, data, mode):
        directory = os.path.dirname(dest) or "."
        try:
            handle, temporary = tempfile.mkstemp(prefix=".canary-report-", dir=directory)
            try:
                with os.fdopen(handle, "wb") as output:
                    output.write(data)
                os.chmod(temporary, mode)
                os.replace(temporary, dest)
            except BaseException:
                os.unlink(temporary)
                raise
        except OSError as exc:
            raise AnsibleActionFail(f"cannot write the canary report {dest}: {exc}") from None
