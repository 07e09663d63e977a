"""Throughput of the runs API under gunicorn vs a bare Django JSON view in the same server.

    .venv/bin/python -m bench.bench_throughput [--seconds 10] [--connections 16]

Starts gunicorn (`gunicorn -c gunicorn.conf.py dataplatform.wsgi`, 2 workers x 4 threads,
DJANGO_ENV=local, DEBUG off) on a free loopback port against the bench DynamoDB Local with the demo
data, then drives it from a separate process: `wrk` (Debian package) when installed, else a
small Python multiprocess keep-alive load generator (said in the output). Targets:
GET /health/live (bare Django JSON view, no DynamoDB, no auth) and
GET /api/v1/runs/?datasetName=X&businessDate=D (token auth, one DynamoDB Query).
Load generator, gunicorn and DynamoDB Local share the machine's cores."""

from __future__ import annotations

import argparse
import http.client
import multiprocessing
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from bench._common import (
    ROOT,
    bench_engine,
    bench_env,
    load_demo_data,
    make_user,
    pipeline_from_settings,
    process_cpu_seconds,
    setup_django,
    summary_line,
    table,
)
from dataplatform.pipeline.engine import free_port


def children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def wait_ready(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - loopback
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not answer {url} within {timeout:.0f} s")


def run_wrk(url: str, token: str, seconds: int, connections: int) -> dict[str, Any]:
    wrk = shutil.which("wrk")
    assert wrk is not None
    out = subprocess.run(  # noqa: S603 - fixed argv
        [wrk, "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-H", f"Authorization: Token {token}", url],
        capture_output=True, text=True, check=True, timeout=seconds + 30,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.MULTILINE)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.MULTILINE)
    return {
        "rps": rps, "requests": total, "non2xx": int(bad.group(1)) if bad else 0,
        "errors": errors.group(1) if errors else "", "p50": p50.group(1) if p50 else "?",
        "p99": p99.group(1) if p99 else "?",
    }


def _py_worker(args: tuple[str, int, str, str, float]) -> tuple[int, int, list[float]]:
    host, port, path, token, until = args
    conn = http.client.HTTPConnection(host, port, timeout=10)
    ok = bad = 0
    latencies: list[float] = []
    while time.monotonic() < until:
        started = time.perf_counter()
        conn.request("GET", path, headers={"Authorization": f"Token {token}"})
        response = conn.getresponse()
        response.read()
        latencies.append(time.perf_counter() - started)
        if response.status == 200:
            ok += 1
        else:
            bad += 1
    conn.close()
    return ok, bad, latencies


def run_python_load(url: str, token: str, seconds: int, connections: int) -> dict[str, Any]:
    """Fallback generator: `connections` processes, one keep-alive connection each."""
    match = re.match(r"http://([^:/]+):(\d+)(/.*)", url)
    assert match is not None
    host, port, path = match.group(1), int(match.group(2)), match.group(3)
    started = time.monotonic()
    until = started + seconds
    with multiprocessing.get_context("spawn").Pool(connections) as pool:
        results = pool.map(_py_worker, [(host, port, path, token, until)] * connections)
    elapsed = time.monotonic() - started
    ok = sum(r[0] for r in results)
    bad = sum(r[1] for r in results)
    latencies = sorted(x for r in results for x in r[2])

    def pct(q: float) -> str:
        return f"{latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000:.2f}ms" if latencies else "?"

    return {"rps": (ok + bad) / elapsed, "requests": ok + bad, "non2xx": bad, "errors": "",
            "p50": pct(0.5), "p99": pct(0.99)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--dataset", default="bond-prices")
    args = parser.parse_args()
    use_wrk = shutil.which("wrk") is not None

    with bench_engine() as (engine, tmp):
        setup_django(engine, tmp)
        p = pipeline_from_settings()
        load_demo_data(p)
        day = max(r.business_date for r in p.runs.by_dataset(args.dataset, limit=50).items).isoformat()
        _, token = make_user("bench-viewer", "viewer")
        from django.db import connections

        connections.close_all()

        port = free_port()
        env = {**os.environ, **bench_env(engine, tmp),
               "GUNICORN_BIND": f"127.0.0.1:{port}", "GUNICORN_WORKERS": str(args.workers),
               "GUNICORN_THREADS": str(args.threads), "DJANGO_ENV": "local"}
        gunicorn = Path(sys.executable).parent / "gunicorn"
        log = open(tmp / "gunicorn.log", "wb")  # noqa: SIM115 - closed below
        server = subprocess.Popen(  # noqa: S603 - fixed argv
            [str(gunicorn), "-c", "gunicorn.conf.py", "dataplatform.wsgi"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        results: dict[str, dict[str, Any]] = {}
        try:
            base = f"http://127.0.0.1:{port}"
            wait_ready(f"{base}/health/live")
            targets = {
                "GET /health/live (bare JSON view)": f"{base}/health/live",
                "GET /api/v1/runs/?datasetName&businessDate": (
                    f"{base}/api/v1/runs/?datasetName={args.dataset}&businessDate={day}"
                ),
            }
            load = run_wrk if use_wrk else run_python_load
            assert engine.process is not None
            for name, url in targets.items():
                load(url, token, 2, args.connections)  # warm-up: imports, connections, caches
                pids = {"gunicorn": [server.pid, *children(server.pid)], "engine": [engine.process.pid]}
                before = {k: sum(process_cpu_seconds(pid) for pid in v) for k, v in pids.items()}
                results[name] = load(url, token, args.seconds, args.connections)
                for k, v in pids.items():
                    used = sum(process_cpu_seconds(pid) for pid in v) - before[k]
                    results[name][f"cpu_{k}"] = used / max(results[name]["requests"], 1) * 1000
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(timeout=10)
            log.close()

    generator = (f"wrk -t2 -c{args.connections} -d{args.seconds}s" if use_wrk
                 else f"Python fallback load generator ({args.connections} processes; wrk not installed)")
    print(f"\ngunicorn {args.workers} workers x {args.threads} threads (gthread) on 127.0.0.1; load: {generator}; "
          f"2 cores shared by load generator, gunicorn and DynamoDB Local")
    bare = results["GET /health/live (bare JSON view)"]["rps"]
    rows = [[name, f"{r['rps']:.0f}", f"{r['rps'] / bare:.2f}x", r["requests"], r["non2xx"], r["p50"], r["p99"],
             f"{r['cpu_gunicorn']:.2f}", f"{r['cpu_engine']:.2f}"]
            for name, r in results.items()]
    print(table(["target", "req/s", "vs bare", "requests", "non-2xx", "p50", "p99", "CPU ms/req: gunicorn",
                 "DynamoDB Local"], rows))
    api = results["GET /api/v1/runs/?datasetName&businessDate"]["rps"]
    summary_line(f"throughput under gunicorn ({args.workers}x{args.threads}, {generator.split(' (')[0]}): bare "
                 f"/health/live {bare:.0f} req/s; runs API {api:.0f} req/s = {api / bare:.2f}x of bare")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
