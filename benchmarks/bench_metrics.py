# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Scrape, validate and judge a 5 MB exposition of about 50,000 series, against prometheus_client's bare parse.

Run from the collection root:  python benchmarks/bench_metrics.py [--repeat 3]

Two expositions are measured, each served by a real HTTP server on 127.0.0.1:
  mixed     the demo service's metric names at a realistic cardinality (a few thousand series
            that the default criteria read) among ~45,000 series of other families;
  all-read  every series belongs to a family a default criterion reads (~50,000 request
            counters): the worst case, where every line is taken apart into labels and values.
For each: the bare parse (prometheus_client.parser.text_string_to_metric_families over the whole
text, every sample visited) and one observation (HTTP GET + parse with every line of the body
validated + judging the default criteria, but critical_alerts which needs a Prometheus server,
with Evaluator(criteria).observe()), and the ratio of the two. Figures are the best of --repeat
runs; the goals are on the wall-clock ratio: mixed at most 0.5, all-read at most 1.2.
"""

from __future__ import annotations

import argparse
import http.server
import os
import random
import sys
import threading
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
COLLECTIONS = os.path.join(ROOT, "collections")
if os.path.isdir(COLLECTIONS):
    sys.path.insert(0, COLLECTIONS)

from ansible_collections.hyperbun.canary.plugins.module_utils._criteria import build_criteria  # noqa: E402
from ansible_collections.hyperbun.canary.plugins.module_utils._exposition import (  # noqa: E402
    parse_exposition,
    wanted_names,
)
from ansible_collections.hyperbun.canary.plugins.module_utils._judge import Evaluator  # noqa: E402
from ansible_collections.hyperbun.canary.plugins.module_utils._metrics_http import (  # noqa: E402
    HttpSettings,
    scrape_or_error,
)
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

GRAPH_BUCKETS = ("0.0005", "0.001", "0.002", "0.003", "0.004", "0.005", "0.0075", "0.01", "0.02", "0.05", "+Inf")
REQUEST_BUCKETS = ("0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "+Inf")


def demo_families(step, paths, methods, statuses, rng):
    """The demo service's names; `step` moves the counters on between two scrapes."""
    out = ["# HELP hyperbun_http_requests_total HTTP requests.", "# TYPE hyperbun_http_requests_total counter"]
    for path in paths:
        for method in methods:
            for status in statuses:
                value = 1000 + step * (50 if status == "200" else 1) + rng.randint(0, 3)
                out.append(f'hyperbun_http_requests_total{{method="{method}",path="{path}",status="{status}"}} {value}')
    out += ["# HELP hyperbun_log_errors_total ERROR log lines, by code.", "# TYPE hyperbun_log_errors_total counter"]
    for i in range(30):
        out.append(f'hyperbun_log_errors_total{{code="ERROR_CODE_{i:02d}"}} {10 + step}')
    out += ["# TYPE rate_limit_rejected_total counter", f"rate_limit_rejected_total {5 + step}",
            "# TYPE rate_limit_allowed_total counter", f"rate_limit_allowed_total {100000 + step * 5000}",
            "# TYPE circuit_breaker_tripped gauge"]
    out += [f'circuit_breaker_tripped{{breaker="breaker_{i:02d}"}} 0' for i in range(20)]
    out += ["# TYPE circuit_breaker_trips_total counter"]
    out += [f'circuit_breaker_trips_total{{breaker="breaker_{i:02d}"}} 0' for i in range(20)]
    out += ["# TYPE memory_usage_bytes gauge", f"memory_usage_bytes {200_000_000 + step * 1000}",
            "# TYPE memory_limit_bytes gauge", "memory_limit_bytes 1073741824",
            "# TYPE queries_total counter", f"queries_total {50000 + step * 20000}",
            "# TYPE query_timeouts_total counter", f"query_timeouts_total {2 + step}",
            "# TYPE graph_build_duration_seconds histogram"]
    running = 0
    for i, bound in enumerate(GRAPH_BUCKETS):
        running += (100 + step * 40) if i < 6 else step
        out.append(f'graph_build_duration_seconds_bucket{{le="{bound}"}} {running}')
    out += [f"graph_build_duration_seconds_sum {running * 0.002}", f"graph_build_duration_seconds_count {running}",
            "# TYPE hyperbun_build_info gauge",
            'hyperbun_build_info{version="1.4.0",instance="canary",node_env="production"} 1']
    return out


def mixed_exposition(step, target_series=50000, seed=7):
    rng = random.Random(seed)
    paths = [f"/api/v1/markets/{i:04d}/orderbook" for i in range(150)]
    lines = demo_families(step, paths, ("GET", "POST", "PUT"), ("200", "400", "404", "429", "500", "503"), rng)
    lines += ["# TYPE hyperbun_http_request_duration_seconds histogram"]
    for path in paths:
        running = 0
        for bound in REQUEST_BUCKETS:
            running += 10 + step
            lines.append(f'hyperbun_http_request_duration_seconds_bucket{{path="{path}",le="{bound}"}} {running}')
        lines.append(f'hyperbun_http_request_duration_seconds_sum{{path="{path}"}} {running * 0.01:.3f}')
        lines.append(f'hyperbun_http_request_duration_seconds_count{{path="{path}"}} {running}')
    series = sum(1 for line in lines if not line.startswith("#"))
    lines += ["# HELP market_last_price Last traded price by market and venue.", "# TYPE market_last_price gauge"]
    i = 0
    while series < target_series:
        lines.append(f'market_last_price{{market="MKT-{i:06d}",venue="venue-{i % 17:02d}",currency="USD",kind="spot"}} '
                     f"{rng.random() * 1000:.6f}")
        series += 1
        i += 1
    return "\n".join(lines) + "\n", series


def all_read_exposition(step, target_series=50000, seed=7):
    rng = random.Random(seed)
    statuses = ("200", "201", "204", "301", "304", "400", "401", "403", "404", "409", "429", "500", "502", "503")
    methods = ("GET", "POST", "PUT", "DELETE", "PATCH")
    per_path = len(statuses) * len(methods)
    paths = [f"/api/v1/markets/{i:05d}/orderbook/depth" for i in range(target_series // per_path)]
    lines = demo_families(step, paths, methods, statuses, rng)
    series = sum(1 for line in lines if not line.startswith("#"))
    return "\n".join(lines) + "\n", series


class Server:
    def __init__(self):
        self.body = b""
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body = server.body
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/metrics"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def bare_parse(text):
    count = 0
    for family in text_string_to_metric_families(text):
        for _sample in family.samples:
            count += 1
    return count


def best(repeat, function):
    """(best wall-clock seconds, best CPU seconds of this process, result): CPU time is the steadier
    figure on a machine shared with other work; the HTTP server thread's CPU is included."""
    walls, cpus = [], []
    result = None
    for _run in range(repeat):
        started, started_cpu = time.perf_counter(), time.process_time()
        result = function()
        walls.append(time.perf_counter() - started)
        cpus.append(time.process_time() - started_cpu)
    return min(walls), min(cpus), result


def measure(name, make, repeat, goal):
    """Print the figures of one exposition; True when the observation meets its goal."""
    text, series = make(1)
    server = Server()
    server.body = text.encode()
    settings = HttpSettings(timeout=30, retries=0)
    criteria = build_criteria({"critical_alerts": {"enabled": False}})
    wanted = wanted_names({metric for criterion in criteria for metric in criterion.metric_names()})
    try:
        bare, bare_cpu, parsed = best(repeat, lambda: bare_parse(text))
        assert parsed == series, (parsed, series)

        def one_observation():
            evaluator = Evaluator(criteria)
            return evaluator.observe(time.time(), canary=scrape_or_error(server.url, settings, wanted))

        observation, observation_cpu, results = best(repeat, one_observation)
    finally:
        server.close()
    snapshot = parse_exposition(text, "text/plain; version=0.0.4", wanted=wanted)
    kept = sum(len(values) for values in snapshot.samples.values())
    outcomes = {result.criterion.name: result.outcome for result in results}
    assert "error" not in outcomes.values(), [result.message for result in results]
    ratio, ratio_cpu = observation / bare, observation_cpu / bare_cpu
    met = ratio <= goal
    print(f"{name}: {len(text) / 1e6:.2f} MB, {series} series, {kept} of them read by the criteria; "
          f"outcomes {outcomes}")
    print("                                              wall s    CPU s")
    print(f"  bare parse (prometheus_client)             {bare:7.3f}  {bare_cpu:7.3f}")
    print(f"  one observation: GET + validate + judge    {observation:7.3f}  {observation_cpu:7.3f}")
    print(f"  ratio observation / bare parse             {ratio:7.2f}  {ratio_cpu:7.2f}   "
          f"goal <= {goal}: {'met' if met else 'MISSED'}")
    return met


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs of each measurement; the best is reported")
    args = parser.parse_args()
    print(f"Python {sys.version.split()[0]}, best of {args.repeat}")
    met = [measure("mixed", mixed_exposition, args.repeat, goal=0.5),
           measure("all-read", all_read_exposition, args.repeat, goal=1.2)]
    return 0 if all(met) else 1


if __name__ == "__main__":
    sys.exit(main())
