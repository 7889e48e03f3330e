"""Prometheus metrics (names are a contract: alert rules and the canary judge query them).

Only API present in prometheus_client 0.16 (Debian bookworm) is used.
"""

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from .memory import resident_bytes

REQUEST_BUCKETS = (
    0.0005, 0.001, 0.0015, 0.002, 0.003, 0.004, 0.005, 0.0075, 0.01, 0.015, 0.025, 0.05,
    0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)
GRAPH_BUCKETS = (0.0005, 0.001, 0.002, 0.003, 0.004, 0.005, 0.0075, 0.01, 0.02, 0.05)
ROUTES = ("/", "/health", "/api/graph", "/api/query", "/api/markets")
ERROR_CODES = ("REQUEST_FAILED", "QUERY_TIMEOUT")


class Metrics:
    def __init__(self, settings):
        self.registry = CollectorRegistry()
        registry = self.registry
        self.requests = Counter(
            "hyperbun_http_requests", "HTTP requests served, by route and status.",
            ["method", "path", "status"], registry=registry,
        )
        self.request_duration = Histogram(
            "hyperbun_http_request_duration_seconds", "HTTP request duration by route.",
            ["path"], buckets=REQUEST_BUCKETS, registry=registry,
        )
        self.log_errors = Counter(
            "hyperbun_log_errors", "ERROR (and FATAL) log lines, by code.", ["code"], registry=registry
        )
        self.rate_limit_rejected = Counter(
            "rate_limit_rejected", "API requests rejected by rate limiting (429).", registry=registry
        )
        self.rate_limit_allowed = Counter(
            "rate_limit_allowed", "API requests admitted by rate limiting.", registry=registry
        )
        self.breaker_tripped = Gauge(
            "circuit_breaker_tripped", "1 while the circuit breaker is open or half-open.", ["breaker"],
            registry=registry,
        )
        self.breaker_trips = Counter(
            "circuit_breaker_trips", "Times the circuit breaker opened.", ["breaker"], registry=registry
        )
        self.memory_usage = Gauge("memory_usage_bytes", "Resident set size of the process.", registry=registry)
        self.memory_usage.set_function(resident_bytes)
        self.memory_limit = Gauge("memory_limit_bytes", "Memory limit of the instance.", registry=registry)
        self.memory_limit.set(settings.memory_limit_bytes)
        self.graph_build = Histogram(
            "graph_build_duration_seconds", "Duration of market graph builds.", buckets=GRAPH_BUCKETS,
            registry=registry,
        )
        self.query_timeouts = Counter("query_timeouts", "Queries that timed out.", registry=registry)
        self.queries = Counter("queries", "Queries run.", registry=registry)
        self.build_info = Gauge(
            "hyperbun_build_info", "Release running in this instance.", ["version", "instance", "node_env"],
            registry=registry,
        )
        self.build_info.labels(settings.version, settings.instance, settings.node_env).set(1)

        # Series exist from the first scrape, so that rate() sees the first increment.
        for route in ROUTES:
            self.requests.labels("GET", route, "200")
            self.request_duration.labels(route)
        for code in ERROR_CODES:
            self.log_errors.labels(code)
        for name in settings.config.breaker_names:
            self.breaker_tripped.labels(name).set(0)
            self.breaker_trips.labels(name)
