"""The release's scripts/*: build, self-test, production hardening checklist, circuit breaker test."""

import compileall
import importlib
import importlib.metadata
import json
import os
import re
import sys
import tempfile
import threading
import urllib.request
from datetime import UTC, datetime

from .config import ConfigError, load_config, load_settings, read_version

VERSION_PATTERN = re.compile(r"^[0-9]+\.[0-9]+\.[0-9]+(?:[-+][0-9A-Za-z.+-]+)?$")
MODULES = (
    "hyperbun_demo.app", "hyperbun_demo.breaker", "hyperbun_demo.commands", "hyperbun_demo.config",
    "hyperbun_demo.faults", "hyperbun_demo.graph", "hyperbun_demo.logs", "hyperbun_demo.memory",
    "hyperbun_demo.metrics", "hyperbun_demo.ratelimit", "hyperbun_demo.release",
)
REQUIRED_METRICS = (
    "hyperbun_http_requests", "hyperbun_http_request_duration_seconds", "hyperbun_log_errors",
    "rate_limit_rejected", "rate_limit_allowed", "circuit_breaker_tripped", "circuit_breaker_trips",
    "memory_usage_bytes", "memory_limit_bytes", "graph_build_duration_seconds", "query_timeouts", "queries",
    "hyperbun_build_info",
)


def _config_path(release_dir):
    return os.path.join(release_dir, "config", "production.yaml")


class Checks:
    """Prints one line per check and remembers whether a critical one failed."""

    def __init__(self):
        self.failed_critical = 0
        self.passed = 0
        self.warnings = 0

    def check(self, title, func, critical=True):
        try:
            detail = func()
            ok = True
        except Exception as exc:
            detail = str(exc) or type(exc).__name__
            ok = False
        if ok:
            self.passed += 1
            mark = "✅"
        elif critical:
            self.failed_critical += 1
            mark = "❌"
        else:
            self.warnings += 1
            mark = "⚠️"
        print("{} {}{}".format(mark, title, f": {detail}" if detail else ""))
        sys.stdout.flush()
        return ok


def build_main(release_dir):
    version_path = os.path.join(release_dir, "VERSION")
    version = read_version(release_dir)
    if not os.path.isfile(version_path) or not VERSION_PATTERN.match(version):
        print(f"build failed: {version_path} is missing or not a version (X.Y.Z)")
        return 1
    try:
        config = load_config(_config_path(release_dir))
    except ConfigError as exc:
        print(f"build failed: {exc}")
        return 1
    package = os.path.join(release_dir, "hyperbun_demo")
    if not compileall.compile_dir(package, quiet=2, force=True):
        print(f"build failed: {package} does not byte-compile")
        return 1
    info = {
        "service": config.service_name,
        "version": version,
        "built_at": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "python": ".".join(map(str, sys.version_info[:3])),
    }
    try:
        with open(os.path.join(release_dir, "BUILD_INFO"), "w", encoding="utf-8") as handle:
            json.dump(info, handle, sort_keys=True)
            handle.write("\n")
    except OSError as exc:
        print(f"build failed: cannot write BUILD_INFO: {exc.strerror or exc}")
        return 1
    print("build ok: {} {} built at {}".format(config.service_name, version, info["built_at"]))
    return 0


def _fail(message):
    raise RuntimeError(message)


def _get(port, path):
    url = f"http://127.0.0.1:{port}{path}"
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode("utf-8")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8")


def selftest_main(release_dir):
    """Quick self-test of the code in this release; faults are runtime behaviour and stay off here."""
    try:
        from prometheus_client.parser import text_string_to_metric_families

        from .app import Service
    except ImportError as exc:
        print(f"❌ Python package {exc.name} is missing (Debian: python3-prometheus-client, python3-yaml)")
        return 1

    checks = Checks()
    config_path = _config_path(release_dir)
    checks.check(f"configuration parses ({config_path})", lambda: load_config(config_path) and "")

    def import_all():
        for module in MODULES:
            importlib.import_module(module)
        return f"{len(MODULES)} modules"

    checks.check("package imports", import_all)
    if checks.failed_critical:
        print(f"self-test failed: {checks.failed_critical} check(s) failed")
        return 1

    with tempfile.TemporaryDirectory(prefix="hyperbun-selftest-") as log_dir:
        env = dict(os.environ)
        env.update({
            "PORT": "0", "HYPERBUN_BIND": "127.0.0.1", "HYPERBUN_FAULTS": "none", "HYPERBUN_LOG_DIR": log_dir,
            "HYPERBUN_CONFIG": config_path, "HYPERBUN_INSTANCE": "selftest", "LOG_LEVEL": "INFO",
        })
        env.pop("METRICS_PORT", None)
        service = None
        try:
            settings = load_settings(release_dir, env)
            service = Service(settings)
            port = service.bind()[0]
            service.serve()
        except (ConfigError, OSError) as exc:
            checks.check("service starts on 127.0.0.1", lambda message=str(exc): _fail(message))
            port = None
        if port is not None:
            checks.check("service starts on 127.0.0.1", lambda: f"port {port}")

            def expect(path, status, test=None):
                got, body = _get(port, path)
                if got != status:
                    raise RuntimeError(f"GET {path} answered {got}, expected {status}")
                return test(body) if test else ""

            def health(body):
                data = json.loads(body)
                if data.get("status") != "ok" or data.get("version") != settings.version:
                    raise RuntimeError(f"unexpected health answer {body.strip()}")
                return ""

            def graph(body):
                nodes = json.loads(body)["graph"]["nodes"]
                if nodes != settings.config.graph_nodes:
                    raise RuntimeError(f"walk reached {nodes} of {settings.config.graph_nodes} nodes")
                return f"{nodes} nodes"

            def query(body):
                results = json.loads(body)["results"]
                if not results:
                    raise RuntimeError("no results for a known market")
                return f"{len(results)} results"

            def metrics(body):
                names = {family.name for family in text_string_to_metric_families(body)}
                missing = sorted(set(REQUIRED_METRICS) - names)
                if missing:
                    raise RuntimeError("missing metrics: {}".format(", ".join(missing)))
                return f"{len(names)} metric families"

            checks.check("GET /health answers ok", lambda: expect("/health", 200, health))
            checks.check("GET / answers", lambda: expect("/", 200))
            checks.check("GET /api/graph builds and walks the graph", lambda: expect("/api/graph", 200, graph))
            checks.check("GET /api/query finds markets", lambda: expect("/api/query?q=btc", 200, query))
            checks.check("GET /api/markets answers", lambda: expect("/api/markets", 200))
            checks.check("unknown path answers 404", lambda: expect("/no-such-route", 404))
            checks.check("GET /metrics parses", lambda: expect("/metrics", 200, metrics))
        if service is not None and service.servers:
            stopper = threading.Thread(target=service.shutdown)
            stopper.start()
            stopper.join(10)
            service.log.close()
    if checks.failed_critical:
        print(f"self-test failed: {checks.failed_critical} check(s) failed")
        return 1
    print(f"self-test passed: {checks.passed} checks")
    return 0


def checklist_main(release_dir):
    checks = Checks()
    print(f"Production hardening checklist for {release_dir}")

    def python_version():
        return "Python " + ".".join(map(str, sys.version_info[:3]))

    def library(name, distribution):
        module = importlib.import_module(name)
        try:
            version = importlib.metadata.version(distribution)
        except importlib.metadata.PackageNotFoundError:
            version = getattr(module, "__version__", "installed")
        return f"{distribution} {version}"

    def version():
        value = read_version(release_dir)
        if not os.path.isfile(os.path.join(release_dir, "VERSION")) or not VERSION_PATTERN.match(value):
            raise RuntimeError("VERSION missing or not X.Y.Z")
        return value

    config_holder = {}

    def config():
        config_holder["config"] = load_config(_config_path(release_dir))
        return _config_path(release_dir)

    def rate_limit():
        current = config_holder["config"]
        return f"{current.rate_limit_rps:g} requests/s, burst {current.rate_limit_burst:g}"

    def breakers():
        current = config_holder["config"]
        names = ", ".join(current.breaker_names)
        return f"{names} (threshold {current.breaker_failure_threshold}, reset {current.breaker_reset_timeout:g}s)"

    settings_holder = {}

    def environment():
        settings_holder["settings"] = load_settings(release_dir)
        current = settings_holder["settings"]
        return f"PORT={current.port} METRICS_PORT={current.metrics_port} LOG_LEVEL={current.log_level}"

    def memory():
        current = settings_holder["settings"]
        if current.memory_limit_bytes < 64 * 1024 * 1024:
            raise RuntimeError(f"memory limit {current.memory_limit_bytes} bytes is below 64 MiB")
        return f"{current.memory_limit_bytes // (1024 * 1024)} MiB (from {current.memory_limit_source})"

    def node_env():
        value = os.environ.get("NODE_ENV", "")
        if value != "production":
            raise RuntimeError(f"NODE_ENV is {value!r}, not 'production'")
        return ""

    def log_dir():
        path = os.environ.get("HYPERBUN_LOG_DIR") or os.path.join(release_dir, "logs")
        existing = path
        while not os.path.isdir(existing):
            existing = os.path.dirname(existing) or "."
        if not os.access(existing, os.W_OK):
            raise RuntimeError(f"{existing} is not writable")
        return path

    def build_info():
        with open(os.path.join(release_dir, "BUILD_INFO"), encoding="utf-8") as handle:
            return "built at {}".format(json.load(handle).get("built_at"))

    checks.check("Python runtime", python_version)
    checks.check("prometheus_client available", lambda: library("prometheus_client", "prometheus_client"))
    checks.check("PyYAML available", lambda: library("yaml", "PyYAML"))
    checks.check("release VERSION", version)
    if checks.check("configuration valid", config):
        checks.check("rate limiting configured", rate_limit)
        checks.check("circuit breakers configured", breakers)
        if checks.check("environment valid", environment):
            checks.check("memory limit set", memory)
    checks.check("NODE_ENV is production", node_env, critical=False)
    checks.check("log directory writable", log_dir, critical=False)
    checks.check("release built (BUILD_INFO)", build_info, critical=False)
    if checks.failed_critical:
        print(f"❌ {checks.failed_critical} critical check(s) failed")
        return 1
    print(f"✅ All critical checks passed ({checks.passed} passed, {checks.warnings} warning(s))")
    return 0


class _FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def _failing():
    raise OSError("dependency down")


def breaker_test_main(release_dir):
    from .breaker import CLOSED, HALF_OPEN, OPEN, BreakerOpenError, CircuitBreaker

    try:
        config = load_config(_config_path(release_dir))
    except ConfigError as exc:
        print(f"❌ configuration: {exc}")
        return 1
    checks = Checks()
    threshold = config.breaker_failure_threshold
    timeout = config.breaker_reset_timeout

    def make():
        clock = _FakeClock()
        return CircuitBreaker("test", threshold, timeout, clock=clock), clock

    def fail(breaker, times):
        for _attempt in range(times):
            try:
                breaker.call(_failing)
            except OSError:
                pass

    def expect(condition, message):
        if not condition:
            raise AssertionError(message)

    def starts_closed():
        breaker = make()[0]
        expect(breaker.state == CLOSED and breaker.call(lambda: 42) == 42, "new breaker is not closed")
        return ""

    def opens_at_threshold():
        breaker = make()[0]
        fail(breaker, threshold - 1)
        expect(breaker.state == CLOSED, f"opened before {threshold} failures")
        fail(breaker, 1)
        expect(breaker.state == OPEN and breaker.trips == 1, f"still closed after {threshold} failures")
        return f"{threshold} consecutive failures"

    def rejects_when_open():
        breaker = make()[0]
        fail(breaker, threshold)
        calls = []
        try:
            breaker.call(lambda: calls.append(1))
        except BreakerOpenError:
            pass
        expect(not calls, "open breaker called the dependency")
        return ""

    def success_resets():
        breaker = make()[0]
        fail(breaker, threshold - 1)
        breaker.call(lambda: None)
        fail(breaker, threshold - 1)
        expect(breaker.state == CLOSED, "failure count not reset by a success")
        return ""

    def half_open_then_closes():
        breaker, clock = make()
        fail(breaker, threshold)
        clock.now += timeout
        expect(breaker.state == HALF_OPEN, f"not half-open after {timeout:g}s")
        breaker.call(lambda: None)
        expect(breaker.state == CLOSED, "probe success did not close")
        return f"after {timeout:g}s"

    def half_open_failure_reopens():
        breaker, clock = make()
        fail(breaker, threshold)
        clock.now += timeout
        fail(breaker, 1)
        expect(breaker.state == OPEN and breaker.trips == 2, "probe failure did not reopen")
        return ""

    def forced_stays_open():
        breaker, clock = make()
        breaker.force_open()
        clock.now += timeout * 10
        expect(breaker.state == OPEN, "forced breaker recovered")
        return ""

    checks.check("breaker starts closed", starts_closed)
    checks.check("breaker opens at the failure threshold", opens_at_threshold)
    checks.check("open breaker rejects without calling", rejects_when_open)
    checks.check("success resets the failure count", success_resets)
    checks.check("half-open after the reset timeout, closed by a success", half_open_then_closes)
    checks.check("failure while half-open reopens", half_open_failure_reopens)
    checks.check("forced-open breaker stays open", forced_stays_open)
    checks.check("breakers configured: {}".format(", ".join(config.breaker_names)), lambda: "")
    if checks.failed_critical:
        print(f"❌ {checks.failed_critical} circuit breaker test(s) failed")
        return 1
    print(f"✅ All circuit breaker tests passed ({checks.passed})")
    return 0
