"""DynamoDB Local start and stop times: from launching the JVM to the first answer, and from
SIGTERM to exit, on disk (as `bin/run`) and in memory (as the tests), fresh each time.

    .venv/bin/python -m bench.bench_engine [--n 3]"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from bench._common import summary_line, table
from dataplatform.pipeline.engine import DynamoDBLocal


def measure(*, on_disk: bool) -> tuple[float, float]:
    with tempfile.TemporaryDirectory(prefix="runmon-engine-") as folder:
        engine = DynamoDBLocal(path=Path(folder) / "data" if on_disk else None)
        started = time.perf_counter()
        engine.start()
        up = time.perf_counter() - started
        started = time.perf_counter()
        engine.stop()
        return up, time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=3)
    args = parser.parse_args()
    rows = []
    medians = {}
    for name, on_disk in (("on disk (-dbPath, bin/run)", True), ("in memory (tests, benchmarks)", False)):
        starts, stops = zip(*(measure(on_disk=on_disk) for _ in range(args.n)), strict=True)
        medians[name] = statistics.median(starts)
        rows.append([name, f"{statistics.median(starts):.2f}", f"{min(starts):.2f}-{max(starts):.2f}",
                     f"{statistics.median(stops):.2f}"])
    print(table(["DynamoDB Local", "start s (median)", "range", "stop s"], rows))
    summary_line("engine start: " + "; ".join(f"{k} {v:.2f} s" for k, v in medians.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
