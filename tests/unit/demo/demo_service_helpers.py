"""Helpers for the demo service tests: build and unpack releases, run instances on 127.0.0.1, read metrics."""

import json
import os
import re
import signal
import subprocess
import sys
import tarfile
import threading
import urllib.error
import urllib.request
from pathlib import Path

SERVICE_DIR = Path(__file__).resolve().parents[3] / "demo" / "service"
BUILD_RELEASE = SERVICE_DIR / "build-release.sh"
sys.path.insert(0, str(SERVICE_DIR))


def build_release(version, out_dir, faults=None):
    command = [str(BUILD_RELEASE), "--version", version, "--out", str(out_dir)]
    if faults is not None:
        command += ["--faults", faults]
    env = dict(os.environ, PYTHON=sys.executable)
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)


def extract(archive, dest):
    with tarfile.open(archive) as tar:
        tar.extractall(dest, filter="tar")
    return Path(dest) / Path(archive).name.removesuffix(".tar.gz")


def http_get(port, path, timeout=10):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as response:
            return response.status, response.read().decode("utf-8")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8")


class Instance:
    def __init__(self, release_dir, log_dir, env):
        self.release_dir = release_dir
        self.log_dir = Path(log_dir)
        self.env = env
        self.proc = None
        self.port = None
        self.metrics_port = None

    def start(self):
        """Run bin/hyperbun-demo and wait for its start line on stderr (the log may be filtered)."""
        self.proc = subprocess.Popen(
            [sys.executable, str(self.release_dir / "bin" / "hyperbun-demo")],
            env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )
        self.stderr_lines = []
        started = threading.Event()

        def read_stderr():
            for line in self.proc.stderr:
                self.stderr_lines.append(line)
                match = re.search(r"listening on [^ ]+:(\d+)(?: metrics on port (\d+))?", line)
                if match:
                    self.port = int(match.group(1))
                    self.metrics_port = int(match.group(2) or match.group(1))
                    started.set()
            started.set()

        self.reader = threading.Thread(target=read_stderr, daemon=True)
        self.reader.start()
        if not started.wait(15):
            raise AssertionError("service did not start within 15 s")
        return self

    def records(self):
        lines = []
        for path in sorted(self.log_dir.glob("hyper-bun-*.log")):
            lines += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        return lines

    def get(self, path):
        return http_get(self.port, path)

    def metrics(self):
        from prometheus_client.parser import text_string_to_metric_families

        status, body = http_get(self.metrics_port, "/metrics")
        assert status == 200
        samples = {}
        for family in text_string_to_metric_families(body):
            for sample in family.samples:
                samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
        return samples

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(15)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
        self.reader.join(5)
        return self.proc.returncode, "".join(self.stderr_lines)


def sample(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))))
