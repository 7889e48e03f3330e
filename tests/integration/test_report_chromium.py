"""The HTML canary report of a rolled-back canary, written by the real action plugin through ansible-playbook,
as a real browser shows it: Chromium, headless, draws it to a PNG and reports no console error.

Console errors are read through the DevTools protocol over a pipe (--remote-debugging-pipe): every console
message with its level, uncaught exceptions, and the browser's own log (a resource refused by the page's content
security policy, a failed load). A page with a deliberate console.error proves that the check sees one. The
browser resolves no host name but 127.0.0.1's, and is told not to reach any service of its own.
"""

import importlib
import json
import os
import pathlib
import select
import shutil
import subprocess
import sys
import time

import pytest
from PIL import Image

ROOT = pathlib.Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium")
WIDTH, HEIGHT = 1200, 2600
# Colours the charts draw with (plugins/action/canary_report.py COLOURS): the canary's line and the threshold.
CANARY_BLUE, THRESHOLD_RED = (0x1F, 0x5F, 0xA8), (0xC0, 0x39, 0x2B)
BROWSER_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-default-apps",
    "--disable-extensions", "--disable-domain-reliability", "--disable-client-side-phishing-detection",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1", "--hide-scrollbars",
]
PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: Write the report of the rolled-back canary
      hyperbun.canary.canary_report:
        dest: "{dest}"
        verdict: "{{{{ lookup('file', '{verdict}') | from_json }}}}"
        release: 2.0.0
        app: hyperbun
        reason: "at step 1 of 1 (5 %): canary verdict fail: error_rate <b>3 %</b>"
        isolated_at: "2025-11-27T10:07:20+00:00"
        markdown_report: 2025-11-27-hyperbun-2.0.0-rollback-100705.md
"""


@pytest.fixture(autouse=True)
def _chromium():
    # Not a skip: the test is part of the suite, and scripts/setup.sh installs Debian's chromium.
    assert CHROMIUM, "chromium is not installed: run scripts/setup.sh (or apt-get install chromium)"


def realistic_verdict():
    """The verdict the playbooks hand to the rollback, made by the real judge: error_rate breaches after passes."""
    collections = str(ROOT / "collections")
    if collections not in sys.path:
        sys.path.insert(0, collections)
    module = importlib.import_module("ansible_collections.hyperbun.canary.tests.unit.plugins.action.report_verdict")
    return module.rolled_back_verdict()


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    work = tmp_path_factory.mktemp("report")
    verdict = realistic_verdict()
    (work / "verdict.json").write_text(json.dumps(verdict))
    dest = work / "2025-11-27-hyperbun-2.0.0-rollback-100705.html"
    (work / "report.yml").write_text(PLAYBOOK.format(dest=dest, verdict=work / "verdict.json"))
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    done = subprocess.run([str(pathlib.Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,", "-c",
                           "local", str(work / "report.yml")], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return dest, verdict


class DevTools:
    """Chromium driven through the DevTools protocol on a pipe: JSON messages ended by a NUL byte."""

    def __init__(self, user_data_dir):
        to_browser, self._commands = os.pipe()
        self._answers, from_browser = os.pipe()
        # The browser reads commands on its fd 3 and writes answers on its fd 4.
        self.process = subprocess.Popen(
            ["bash", "-c", f'exec "$0" "$@" 3<&{to_browser} 4>&{from_browser} {to_browser}<&- {from_browser}>&-',
             CHROMIUM, *BROWSER_FLAGS, f"--user-data-dir={user_data_dir}", "--remote-debugging-pipe",
             "about:blank"],
            pass_fds=(to_browser, from_browser), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_browser)
        os.close(from_browser)
        self._buffer = b""
        self._next_id = 0
        self.events = []

    def send(self, method, session=None, timeout=60, **params):
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self._commands, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            answer = self._read(deadline)
            if answer.get("id") == self._next_id:
                if "error" in answer:
                    raise AssertionError(f"{method}: {answer['error']}")
                return answer.get("result", {})

    def wait_for(self, method, timeout=60):
        deadline = time.monotonic() + timeout
        while not any(e["method"] == method for e in self.events):
            self._read(deadline)

    def settle(self, seconds):
        deadline = time.monotonic() + seconds
        try:
            while True:
                self._read(deadline)
        except TimeoutError:
            pass

    def _read(self, deadline):
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._answers], [], [], left)[0]:
                raise TimeoutError("no answer from the browser in time")
            chunk = os.read(self._answers, 1 << 20)
            if not chunk:
                raise AssertionError(f"the browser closed its pipe (exit {self.process.poll()})")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        message = json.loads(raw)
        if "method" in message:
            self.events.append(message)
        return message

    def close(self):
        try:
            self.send("Browser.close", timeout=10)
        except (AssertionError, TimeoutError, OSError):
            pass
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._commands)
        os.close(self._answers)


def open_page(tmp_path, url):
    """Load `url` in a new headless Chromium: (the console errors it logged, the number of chart figures, the
    number of breach markers drawn, as the page's DOM has them)."""
    browser = DevTools(tmp_path / "profile")
    try:
        target = browser.send("Target.createTarget", url="about:blank")["targetId"]
        session = browser.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Runtime", "Log", "Page"):
            browser.send(f"{domain}.enable", session=session)
        browser.send("Page.navigate", session=session, url=url)
        browser.wait_for("Page.loadEventFired")
        # Messages logged just after the load event (a late script, a refused resource) are waited for.
        browser.settle(1.0)
        counts = browser.send("Runtime.evaluate", session=session, returnByValue=True, expression=(
            "[document.querySelectorAll('figure.criterion').length,"
            " document.querySelectorAll('g[id^=\"breach-marker-\"]').length]"))["result"]["value"]
    finally:
        browser.close()
    errors = []
    for event in browser.events:
        params = event.get("params", {})
        if event["method"] == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            errors.append(" ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", [])))
        elif event["method"] == "Runtime.exceptionThrown":
            errors.append(params.get("exceptionDetails", {}).get("text", "an exception"))
        elif event["method"] == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            errors.append(params["entry"].get("text", ""))
    return errors, counts[0], counts[1]


def screenshot(page, png, tmp_path):
    done = subprocess.run([CHROMIUM, *BROWSER_FLAGS, f"--user-data-dir={tmp_path / 'shot-profile'}",
                           f"--screenshot={png}", f"--window-size={WIDTH},{HEIGHT}", page.as_uri()],
                          capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0 and png.exists(), done.stderr[-2000:]


def test_chromium_draws_the_report_of_a_rolled_back_canary(report, tmp_path):
    page, verdict = report
    png = tmp_path / "report.png"
    screenshot(page, png, tmp_path)
    with Image.open(png) as image:
        assert image.format == "PNG" and image.size == (WIDTH, HEIGHT)
        pixels = image.convert("RGB")
        colours = pixels.getcolors(maxcolors=1 << 20)
    assert len(colours) > 100, "a blank page, or nearly"
    drawn = {colour for _count, colour in colours}
    # The charts are drawn, not only the text: the canary's line and the threshold's are on the screen.
    assert CANARY_BLUE in drawn and THRESHOLD_RED in drawn

    errors, charts, markers = open_page(tmp_path, page.as_uri())
    assert errors == []
    assert charts == len(verdict["series"]["criteria"]) == 7
    # One on each criterion's chart and one on the traffic share's.
    assert markers == 7 + 1


def test_the_console_check_sees_an_error(tmp_path):
    page = tmp_path / "broken.html"
    page.write_text('<!DOCTYPE html><html><body><p>broken</p><script>console.error("deliberate: " + 6 * 7);'
                    "</script></body></html>")
    errors, charts, markers = open_page(tmp_path, page.as_uri())
    assert errors == ["deliberate: 42"]
    assert (charts, markers) == (0, 0)


def test_the_report_s_content_security_policy_stops_what_was_slipped_in(report, tmp_path):
    # Should escaping ever fail, the page's policy still refuses a script, and the browser says so.
    page, _verdict = report
    tampered = tmp_path / "tampered.html"
    tampered.write_text(page.read_text().replace("</body>", "<script>document.title = 'ran'</script></body>"))
    errors, charts, _markers = open_page(tmp_path, tampered.as_uri())
    assert charts == 7
    assert any("Content Security Policy" in e for e in errors), errors
