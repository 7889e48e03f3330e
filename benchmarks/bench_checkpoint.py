# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The size of a judge's checkpoint over a 24-hour window, and the time to write it and go on from it.

Run from the collection root:  python benchmarks/bench_checkpoint.py [--samples 2880] [--paths 20] [--repeat 5]

A canary and a production baseline of two instances are observed every 30 s (2880 samples are
24 hours) with the default criteria (critical_alerts reads a stand-in Prometheus with no alert
firing). The expositions are the demo service's names (bench_metrics.demo_families), its counters
moving on every sample: request counters of --paths paths x 3 methods x 6 statuses, 30 error codes,
20 circuit breakers, an 11-bucket histogram. Printed: the checkpoint's size as compact JSON after
10, 100 and --samples samples, and the best of --repeat runs of writing it (Evaluator.checkpoint()
+ JSON) and of going on from it (JSON + Evaluator.restore()). The goal is a size that does not
grow with the window: from 100 samples to the last, within 5 % (the digits of running totals).
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
COLLECTIONS = os.path.join(ROOT, "collections")
if os.path.isdir(COLLECTIONS):
    sys.path.insert(0, COLLECTIONS)

from ansible_collections.hyperbun.canary.plugins.module_utils import _checkpoint  # noqa: E402
from ansible_collections.hyperbun.canary.plugins.module_utils._criteria import build_criteria  # noqa: E402
from ansible_collections.hyperbun.canary.plugins.module_utils._exposition import (  # noqa: E402
    Snapshot,
    parse_exposition,
    wanted_names,
)
from ansible_collections.hyperbun.canary.plugins.module_utils._judge import Evaluator  # noqa: E402
from bench_metrics import demo_families  # noqa: E402

START = 1_764_000_000
INTERVAL = 30
CONTENT_TYPE = "text/plain; version=0.0.4"


class NoAlerts:
    """A Prometheus server with no alert firing."""

    def alerts(self):
        return []


def exposition(step, paths, seed):
    methods, statuses = ("GET", "POST", "PUT"), ("200", "400", "404", "429", "500", "503")
    lines = demo_families(step, [f"/api/v1/markets/{i:04d}/orderbook" for i in range(paths)], methods, statuses,
                          random.Random(seed + step))
    return "\n".join(lines) + "\n"


def best(repeat, function):
    """(best wall-clock seconds, result)."""
    times, result = [], None
    for _run in range(repeat):
        started = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - started)
    return min(times), result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--samples", type=int, default=2880, help="observations, 30 s apart (2880: 24 hours)")
    parser.add_argument("--paths", type=int, default=20, help="request paths of the exposition")
    parser.add_argument("--repeat", type=int, default=5, help="runs of each timing; the best is reported")
    args = parser.parse_args()
    criteria = build_criteria()
    wanted = wanted_names({name for criterion in criteria for name in criterion.metric_names()})
    evaluator = Evaluator(criteria, baseline=True)
    series = sum(1 for line in exposition(1, args.paths, 0).splitlines() if not line.startswith("#"))
    print(f"Python {sys.version.split()[0]}; {len(criteria)} default criteria, a baseline of two instances; "
          f"{series} series a target; a sample every {INTERVAL}s; best of {args.repeat}")
    marks = sorted({10, 100, args.samples})
    sizes = {}
    started = time.perf_counter()
    for step in range(1, args.samples + 1):
        canary = parse_exposition(exposition(step, args.paths, 0), CONTENT_TYPE, wanted=wanted, source="canary")
        production = Snapshot.merge([parse_exposition(exposition(step, args.paths, seed), CONTENT_TYPE,
                                                      wanted=wanted, source=f"production {seed}")
                                     for seed in (1, 2)])
        evaluator.observe(START + INTERVAL * step, canary, production, NoAlerts())
        if step in marks:
            sizes[step] = len(_checkpoint.dumps(evaluator.checkpoint()))
            print(f"  after {step:5d} samples ({step * INTERVAL / 3600:5.2f} h): checkpoint {sizes[step]:8d} bytes")
    fed = time.perf_counter() - started
    outcomes = {result.criterion.name: result.outcome for result in evaluator.finish().results}
    print(f"  {args.samples} samples judged in {fed:.1f}s; outcomes {outcomes}")

    write, text = best(args.repeat, lambda: _checkpoint.dumps(evaluator.checkpoint()))
    read, restored = best(args.repeat, lambda: Evaluator.restore(_checkpoint.loads(text), criteria, baseline=True))
    assert _checkpoint.dumps(restored.checkpoint()) == text
    print(f"  checkpoint + JSON:    {write * 1000:8.2f} ms")
    print(f"  JSON + restore:       {read * 1000:8.2f} ms")
    print(f"  both:                 {(write + read) * 1000:8.2f} ms")
    growth = (sizes[args.samples] - sizes[100]) / sizes[100] if 100 in sizes else 0.0
    met = growth <= 0.05
    print(f"  growth from 100 samples to {args.samples}: {growth * 100:+.2f} %   "
          f"goal <= 5 %: {'met' if met else 'MISSED'}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
