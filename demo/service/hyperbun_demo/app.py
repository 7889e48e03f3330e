"""The HTTP service: routes, faults, metrics, graceful shutdown."""

import json
import os
import random
import signal
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from . import SERVICE_NAME
from .breaker import BreakerOpenError, CircuitBreaker
from .config import ConfigError, load_settings
from .faults import format_spec
from .faultsfile import FaultsFile
from .graph import build_graph, walk
from .logs import JsonLog, console
from .memory import MemoryGrowth
from .metrics import Metrics
from .ratelimit import EvenShare, TokenBucket

MARKETS = tuple(
    {"id": f"m-{index:03d}", "name": f"{base}/{quote}", "price": round(1.0 + index * 0.37, 2)}
    for index, (base, quote) in enumerate(
        (base, quote) for base in ("BTC", "ETH", "SOL", "ADA", "DOT", "XRP") for quote in ("USD", "EUR", "GBP")
    )
)
# Which circuit breakers guard the dependencies of each API route.
ROUTE_DEPENDENCIES = {
    "/api/graph": ("database",),
    "/api/query": ("database", "cache"),
    "/api/markets": ("upstream_feed",),
}


class Response:
    __slots__ = ("body", "content_type", "status")

    def __init__(self, status, body, content_type="application/json"):
        self.status = status
        self.body = body
        self.content_type = content_type


def _json(status, payload):
    return Response(status, (json.dumps(payload, separators=(",", ":")) + "\n").encode("utf-8"))


class ActiveFaults:
    """The faults in force, read by request threads as one snapshot (replaced whole, never changed)."""

    __slots__ = ("error_share", "faults", "graph_build_floor", "health_fail", "latency", "reject_share",
                 "timeout_share")

    def __init__(self, faults, previous=None):
        def share(name, old):
            value = float(faults.get(name, 0.0))
            # An unchanged share keeps its counter, so that its evenness survives unrelated changes.
            return old if old is not None and old.share == value else EvenShare(value)

        self.faults = dict(faults)
        self.latency = float(faults.get("latency_ms", 0.0)) / 1000.0
        self.graph_build_floor = float(faults.get("graph_build_ms", 0.0)) / 1000.0
        self.health_fail = bool(faults.get("health_fail", False))
        self.error_share = share("error_rate", previous and previous.error_share)
        self.reject_share = share("rate_limit_reject", previous and previous.reject_share)
        self.timeout_share = share("query_timeout_rate", previous and previous.timeout_share)


class Service:
    def __init__(self, settings):
        self.settings = settings
        self.started = time.monotonic()
        self.metrics = Metrics(settings)
        self.log = JsonLog(
            settings.log_dir, settings.log_level, settings.version, settings.instance,
            on_error=lambda code: self.metrics.log_errors.labels(code).inc(),
        )
        config = settings.config
        self.active = ActiveFaults({})
        self.bucket = TokenBucket(config.rate_limit_rps, config.rate_limit_burst)
        self.breakers = {
            name: CircuitBreaker(
                name, config.breaker_failure_threshold, config.breaker_reset_timeout, on_change=self._breaker_changed
            )
            for name in config.breaker_names
        }
        self.memory_growth = MemoryGrowth(0.0, int(settings.memory_limit_bytes * 0.95))
        self.faults_file = FaultsFile(settings.faults_file, config.breaker_names) if settings.faults_file else None
        self._faults_lock = threading.Lock()
        self._stop_watching = threading.Event()
        self.servers = []
        self._threads = []

    # -- state changes -------------------------------------------------------------------------------------------

    def _breaker_changed(self, breaker, previous, state):
        self.metrics.breaker_tripped.labels(breaker.name).set(0 if state == "closed" else 1)
        if state == "open":
            self.metrics.breaker_trips.labels(breaker.name).inc()
            self.log.warn("BREAKER_OPEN", f"circuit breaker {breaker.name} opened", breaker=breaker.name)
        elif state == "closed":
            self.log.info("BREAKER_CLOSED", f"circuit breaker {breaker.name} closed", breaker=breaker.name)

    def apply_faults(self, faults, from_file=False, announce=True):
        """Put faults in force now; logs FAULTS_CHANGED when they differ from those in force."""
        with self._faults_lock:
            previous = self.active
            if faults == previous.faults:
                return
            self.active = ActiveFaults(faults, previous)
            old_trip, new_trip = previous.faults.get("breaker_trip"), faults.get("breaker_trip")
            if old_trip != new_trip:
                if old_trip in self.breakers:
                    self.breakers[old_trip].release()
                if new_trip in self.breakers:
                    self.breakers[new_trip].force_open()
            old_growth = float(previous.faults.get("memory_growth_mb_per_min", 0.0))
            new_growth = float(faults.get("memory_growth_mb_per_min", 0.0))
            if old_growth != new_growth:
                self.memory_growth.set_rate(new_growth)
            if announce:
                self.log.info(
                    "FAULTS_CHANGED", "active faults changed to {}{}".format(
                        format_spec(faults) or "none", " (faults file)" if from_file else ""),
                    faults=format_spec(faults), previous=format_spec(previous.faults), from_file=from_file,
                    faults_file=self.settings.faults_file,
                )

    def check_faults_file(self):
        """Apply the faults file if it changed: its faults over those of the environment and release."""
        reading = self.faults_file.poll()
        if reading is None:
            return
        path = self.settings.faults_file
        if reading.error:
            self.log.error(
                "FAULTS_FILE_INVALID", f"faults file {path}: {reading.error}; faults in force unchanged",
                faults_file=path, faults=format_spec(self.active.faults),
            )
            return
        for name in reading.ignored:
            self.log.warn(
                "FAULTS_FILE_IGNORED", f"faults file {path}: fault {name} only acts at start; ignored",
                faults_file=path, fault=name,
            )
        if not reading.present:
            self.apply_faults(dict(self.settings.faults))
            return
        faults = {} if reading.clear else dict(self.settings.faults)
        faults.update(reading.override)
        self.apply_faults(faults, from_file=True)

    def _watch_faults_file(self, interval):
        while not self._stop_watching.wait(interval):
            self.check_faults_file()

    # -- routes --------------------------------------------------------------------------------------------------

    def handle(self, method, raw_path):
        parts = urlsplit(raw_path)
        path = parts.path
        if method not in ("GET", "HEAD"):
            route = path if path in ("/", "/health", *ROUTE_DEPENDENCIES) else "other"
            return route, _json(405, {"error": "method not allowed", "method": method})
        if path == "/":
            return path, _json(200, {
                "service": SERVICE_NAME, "version": self.settings.version, "instance": self.settings.instance,
                "node_env": self.settings.node_env, "canary_percentage": self.settings.canary_percentage,
            })
        if path == "/health":
            healthy = not self.active.health_fail
            return path, _json(200 if healthy else 503, {
                "status": "ok" if healthy else "unhealthy", "version": self.settings.version,
                "instance": self.settings.instance, "uptime_seconds": round(time.monotonic() - self.started, 3),
            })
        if path in ROUTE_DEPENDENCIES:
            return path, self._api(path, parse_qs(parts.query))
        return "other", _json(404, {"error": "not found", "path": path})

    def _api(self, path, query):
        active = self.active
        if active.latency:
            time.sleep(active.latency)
        if not self.bucket.allow() or active.reject_share.hit():
            self.metrics.rate_limit_rejected.inc()
            self.log.warn("RATE_LIMITED", "request rejected by rate limiting", path=path)
            return _json(429, {"error": "rate limited"})
        self.metrics.rate_limit_allowed.inc()
        if active.error_share.hit():
            self.log.error("REQUEST_FAILED", "request failed: upstream returned an invalid payload", path=path)
            return _json(500, {"error": "internal error", "code": "REQUEST_FAILED"})
        degraded = []
        for name in ROUTE_DEPENDENCIES[path]:
            try:
                self.breakers[name].call(lambda: True)
            except BreakerOpenError:
                degraded.append(name)
        if path == "/api/graph":
            payload = self._graph(active)
        elif path == "/api/query":
            return self._query(query, degraded, active)
        else:
            payload = {"markets": list(MARKETS)}
        payload["degraded"] = degraded
        return _json(200, payload)

    def _graph(self, active):
        # Timed in this thread's CPU time: a busy host or a busy interpreter must not make a healthy
        # release look slow. The graph_build_ms fault makes the build itself slower (it rebuilds
        # until it has spent that much CPU), as a slower algorithm would.
        config = self.settings.config
        started = time.thread_time()
        stats = walk(build_graph(config.graph_nodes, config.graph_edges_per_node, random.getrandbits(32)))
        while time.thread_time() - started < active.graph_build_floor:
            walk(build_graph(config.graph_nodes, config.graph_edges_per_node, random.getrandbits(32)))
        elapsed = time.thread_time() - started
        self.metrics.graph_build.observe(elapsed)
        stats["build_ms"] = round(elapsed * 1000.0, 3)
        return {"graph": stats}

    def _query(self, query, degraded, active):
        self.metrics.queries.inc()
        text = (query.get("q") or [""])[0]
        if active.timeout_share.hit():
            time.sleep(self.settings.config.query_timeout_ms / 1000.0)
            self.metrics.query_timeouts.inc()
            self.log.error(
                "QUERY_TIMEOUT", f"query timed out after {self.settings.config.query_timeout_ms:g} ms", query=text
            )
            return _json(504, {"error": "query timed out", "code": "QUERY_TIMEOUT"})
        matches = [market for market in MARKETS if text.lower() in market["name"].lower()]
        return _json(200, {"query": text, "results": matches, "degraded": degraded})

    def render_metrics(self):
        return Response(200, generate_latest(self.metrics.registry), CONTENT_TYPE_LATEST)

    # -- lifecycle -----------------------------------------------------------------------------------------------

    def bind(self):
        settings = self.settings
        main = _Server((settings.bind, settings.port), _handler_class(self, metrics_only=False))
        self.servers = [main]
        if settings.metrics_port != settings.port:
            try:
                self.servers.append(
                    _Server((settings.bind, settings.metrics_port), _handler_class(self, metrics_only=True))
                )
            except OSError as exc:
                self.log.warn(
                    "METRICS_PORT_UNAVAILABLE",
                    f"cannot listen on METRICS_PORT {settings.metrics_port} ({exc.strerror or exc}); "
                    f"/metrics stays on port {main.server_address[1]}",
                )
        return [server.server_address[1] for server in self.servers]

    def warm_up(self):
        """Allocate what the first requests would, so that resident memory is flat from the first scrape."""
        config = self.settings.config

        def work():
            for seed in range(5):
                walk(build_graph(config.graph_nodes, config.graph_edges_per_node, seed))
            _json(200, {"markets": list(MARKETS)})
            self.render_metrics()

        # Concurrently, as requests run, so that the allocator's per-thread arenas exist before the first scrape.
        workers = [threading.Thread(target=work) for _worker in range(16)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()

    def serve(self, faults_file_interval=0.2):
        self.warm_up()
        self.apply_faults(dict(self.settings.faults), announce=False)
        if self.faults_file is not None:
            self.check_faults_file()
            watcher = threading.Thread(
                target=self._watch_faults_file, args=(faults_file_interval,), name="faults-file", daemon=True
            )
            watcher.start()
        self.memory_growth.start()
        for server in self.servers:
            thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
            thread.start()
            self._threads.append(thread)

    def shutdown(self):
        """Stop accepting, serve what is already queued, wait for in-flight requests."""
        self._stop_watching.set()
        for server in self.servers:
            server.shutdown()
        for server in self.servers:
            server.drain_backlog()
            server.server_close()
        self.memory_growth.stop()


class _Server(ThreadingHTTPServer):
    daemon_threads = False
    block_on_close = True
    request_queue_size = 128

    def drain_backlog(self):
        self.socket.setblocking(False)
        while True:
            try:
                request, address = self.get_request()
            except (BlockingIOError, OSError):
                return
            request.setblocking(True)
            self.process_request(request, address)


def _handler_class(service, metrics_only):
    class Handler(BaseHTTPRequestHandler):
        server_version = SERVICE_NAME
        sys_version = ""
        protocol_version = "HTTP/1.0"
        # Below systemd's stop timeout, so that a stalled client cannot hold a restart up.
        timeout = 10

        def do_GET(self):
            self._serve("GET")

        def do_HEAD(self):
            self._serve("HEAD")

        def do_POST(self):
            self._serve("POST")

        def do_PUT(self):
            self._serve("PUT")

        def do_DELETE(self):
            self._serve("DELETE")

        def do_OPTIONS(self):
            self._serve("OPTIONS")

        def _serve(self, method):
            started = time.perf_counter()
            path = urlsplit(self.path).path
            if path == "/metrics" and method in ("GET", "HEAD"):
                self._send(service.render_metrics(), method)
                return
            if metrics_only:
                self._send(_json(404, {"error": "not found", "path": path}), method)
                return
            try:
                route, response = service.handle(method, self.path)
            except Exception as exc:
                service.log.error("REQUEST_FAILED", f"unhandled error: {exc}", path=path)
                route, response = "other", _json(500, {"error": "internal error", "code": "REQUEST_FAILED"})
            # Counted before the response leaves: a client that has its answer finds it in /metrics.
            elapsed = time.perf_counter() - started
            service.metrics.requests.labels(method, route, str(response.status)).inc()
            service.metrics.request_duration.labels(route).observe(elapsed)
            self._send(response, method)
            service.log.debug(
                "REQUEST", f"{method} {route} {response.status}", status=response.status,
                duration_ms=round(elapsed * 1000.0, 3),
            )

        def _send(self, response, method):
            try:
                self.send_response(response.status)
                self.send_header("Content-Type", response.content_type)
                self.send_header("Content-Length", str(len(response.body)))
                self.end_headers()
                if method != "HEAD":
                    self.wfile.write(response.body)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def log_message(self, format, *args):
            return

    return Handler


def main(release_dir, env=None):
    env = os.environ if env is None else env
    try:
        settings = load_settings(release_dir, env)
    except ConfigError as exc:
        console(f"refusing to start: {exc}")
        return 2
    try:
        service = Service(settings)
    except OSError as exc:
        console(f"refusing to start: log directory {settings.log_dir}: {exc.strerror or exc}")
        return 2
    log = service.log
    if settings.faults.get("crash_at_start"):
        log.fatal("CRASH_AT_START", "fatal error during start-up (fault crash_at_start)")
        console("FATAL: crashed during start-up (fault crash_at_start)")
        return 1
    try:
        ports = service.bind()
    except OSError as exc:
        reason = f"cannot listen on {settings.bind}:{settings.port}: {exc.strerror or exc}"
        log.fatal("BIND_FAILED", reason)
        console(f"FATAL: {reason}")
        return 1

    stop = threading.Event()

    def request_stop(signum, _frame):
        stop.signum = signum
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    service.serve()
    log.info(
        "STARTED", f"{SERVICE_NAME} {settings.version} listening", port=ports[0],
        metrics_port=ports[-1], node_env=settings.node_env, canary_percentage=settings.canary_percentage,
        memory_limit_bytes=settings.memory_limit_bytes, memory_limit_source=settings.memory_limit_source,
        faults=format_spec(service.active.faults), faults_file=settings.faults_file, config=settings.config_path,
        pid=os.getpid(),
    )
    notes = f" metrics on port {ports[-1]}" if ports[-1] != ports[0] else ""
    notes += f" faults={format_spec(service.active.faults)}" if service.active.faults else ""
    console(f"{SERVICE_NAME} {settings.version} ({settings.instance}) listening on {settings.bind}:{ports[0]}{notes}")
    while not stop.wait(0.5):
        pass
    # A second signal must not kill the process while it drains (the interpreter restores default
    # handlers when it exits, so an ignored signal is the only safe state from here on).
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    service.shutdown()
    signame = signal.Signals(getattr(stop, "signum", signal.SIGTERM)).name
    log.info("SHUTDOWN", f"stopped on {signame} after in-flight requests finished")
    log.close()
    console(f"stopped on {signame}")
    return 0
