"""Before/after: the runs page and the runs API of one dataset and date, served by gunicorn
(2 workers) from two versions of the code at once, against one DynamoDB Local, as ratios to the
raw boto3 Query measured in the same run.

    .venv/bin/python -m bench.bench_ab [--before 421adb3] [--after REF] [--n 150]

`--before` (and `--after`, when given) is a git ref; its tree is checked out into a temporary
worktree and served by the same Python environment (the older code needs nothing this one
lacks). Without `--after` the current working tree is "after". Both servers read the same auth
database and DynamoDB tables, so they answer the same rows; calls are interleaved in short
blocks so a disturbance of the shared machine hits every target alike. Goal of issue 10: page
within 1.2x and API within 1.1x of "before"."""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from bench._common import (
    ROOT,
    bench_engine,
    bench_env,
    interleaved_ms,
    load_demo_data,
    make_user,
    pipeline_from_settings,
    setup_django,
    summary_line,
    table,
)

PAGE_SIZE = 50


@contextmanager
def checkout(ref: str, tmp: Path) -> Iterator[Path]:
    """The tree of `ref` in a temporary detached worktree (removed afterwards)."""
    folder = tmp / f"tree-{ref[:12]}"
    subprocess.run(["git", "worktree", "add", "--detach", "--quiet", str(folder), ref], cwd=ROOT, check=True)  # noqa: S603, S607
    try:
        yield folder
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(folder)], cwd=ROOT, check=False)  # noqa: S603, S607


@contextmanager
def serve(tree: Path, env: dict[str, str], tmp: Path, name: str) -> Iterator[str]:
    """gunicorn with the tree's own gunicorn.conf.py, 2 workers, DEBUG off, static files collected
    for whitenoise; yields host:port."""
    from dataplatform.pipeline.engine import free_port

    addr = f"127.0.0.1:{free_port()}"
    static = tmp / f"static-{name}"
    static.mkdir(exist_ok=True)
    env = {**env, "GUNICORN_BIND": addr, "GUNICORN_WORKERS": "2", "DJANGO_STATIC_ROOT": str(static),
           "PYTHONPATH": str(tree)}
    python = os.environ.get("BENCH_PYTHON", str(ROOT / ".venv" / "bin" / "python"))
    subprocess.run([python, "manage.py", "collectstatic", "--noinput", "-v", "0"], cwd=tree, env=env, check=True)  # noqa: S603
    log = open(tmp / f"gunicorn-{name}.log", "wb")  # noqa: SIM115 - closed below
    argv = [python, "-m", "gunicorn", "-c", str(tree / "gunicorn.conf.py"), "-b", addr, "-w", "2", "dataplatform.wsgi"]
    server = subprocess.Popen(argv, cwd=tree, env=env, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"http://{addr}/health/live", timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError(f"{name}: gunicorn did not serve on {addr}; see {log.name}") from None
                time.sleep(0.1)
        yield addr
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def http_login(addr: str, username: str, password: str) -> dict[str, str]:
    """Sign in through the server's own login form (each version names its own auth backend in
    the session); the Cookie header of the signed-in session."""
    import re
    from http.cookies import SimpleCookie

    connection = http.client.HTTPConnection(addr, timeout=30)
    try:
        connection.request("GET", "/accounts/login/")
        response = connection.getresponse()
        page = response.read().decode()
        jar = SimpleCookie()
        for header in response.headers.get_all("Set-Cookie") or []:
            jar.load(header)
        match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        assert match, "no CSRF token on the login page"
        body = f"csrfmiddlewaretoken={match.group(1)}&username={username}&password={password}"
        cookie = "; ".join(f"{k}={v.value}" for k, v in jar.items())
        connection.request("POST", "/accounts/login/", body=body, headers={
            "Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie, "Referer": f"http://{addr}/"})
        response = connection.getresponse()
        response.read()
        assert response.status == 302, f"login refused: {response.status}"
        for header in response.headers.get_all("Set-Cookie") or []:
            jar.load(header)
        return {"Cookie": "; ".join(f"{k}={v.value}" for k, v in jar.items())}
    finally:
        connection.close()


def getter(
    addr: str, path: str, headers: dict[str, str], conns: list[http.client.HTTPConnection]
) -> Callable[[], None]:
    """A keep-alive GET; reconnects when the server closed an idle connection (that happens
    between blocks, during the untimed warm-up calls)."""
    state = {"conn": http.client.HTTPConnection(addr, timeout=30)}
    conns.append(state["conn"])

    def get() -> None:
        for attempt in (1, 2):
            try:
                state["conn"].request("GET", path, headers=headers)
                response = state["conn"].getresponse()
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                state["conn"].close()
                state["conn"] = http.client.HTTPConnection(addr, timeout=30)
                conns.append(state["conn"])
                if attempt == 2:
                    raise
        body = response.read()
        assert response.status == 200, (path, response.status, body[:200])

    return get


def dynamodb_calls(log: Path, call: Callable[[], None], n: int = 5) -> float | None:
    """Make `n` more calls of one target and read its server's access log about them: the median
    DynamoDB calls per request (None when that version's log does not say). The log's durations
    are not used: calls made back to back are slower than the interleaved ones timed above."""
    offset = log.stat().st_size
    for _ in range(n):
        call()
    time.sleep(0.3)  # the workers' last lines
    with log.open("rb") as handle:
        handle.seek(offset)
        lines = handle.read().decode(errors="replace").splitlines()
    calls: list[float] = []
    for line in lines:
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and entry.get("status") == 200 and "dynamodb_calls" in entry:
            calls.append(float(entry["dynamodb_calls"]))
    return statistics.median(calls) if calls else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--before", default="421adb3", help="git ref of the 'before' code")
    parser.add_argument("--after", default=None, help="git ref of the 'after' code (default: the working tree)")
    parser.add_argument("--n", type=int, default=150, help="timed calls per target (median reported)")
    parser.add_argument("--dataset", default="bond-prices")
    args = parser.parse_args()

    with bench_engine() as (engine, tmp), ExitStack() as stack:
        setup_django(engine, tmp)
        import boto3
        from django.conf import settings
        from django.db import connections

        from dataplatform.pipeline.schema import RUN_DATASET_INDEX

        p = pipeline_from_settings()
        load_demo_data(p)
        config = p.config
        runs = p.runs.by_dataset(args.dataset, limit=50).items
        day = max(r.business_date for r in runs).isoformat()
        raw = boto3.session.Session().client(
            "dynamodb", endpoint_url=engine.endpoint_url, region_name=config.region,
            aws_access_key_id="local", aws_secret_access_key="local",  # noqa: S106
        )
        request = {
            "TableName": config.run_table, "IndexName": RUN_DATASET_INDEX,
            "KeyConditionExpression": "#d = :d AND #b = :b",
            "ExpressionAttributeNames": {"#d": "datasetName", "#b": "businessDate"},
            "ExpressionAttributeValues": {":d": {"S": args.dataset}, ":b": {"S": day}},
            "ScanIndexForward": False, "Limit": PAGE_SIZE,
        }
        items = raw.query(**request)["Items"]
        operator, _ = make_user("bench-operator", "operator", password="bench-password-123")  # noqa: S106
        _, token = make_user("bench-viewer", "viewer")
        connections.close_all()

        env = {**os.environ, **bench_env(engine, tmp), "DJANGO_SECRET_KEY": settings.SECRET_KEY}
        before_tree = stack.enter_context(checkout(args.before, tmp))
        before = stack.enter_context(serve(before_tree, env, tmp, "before"))
        after_tree = stack.enter_context(checkout(args.after, tmp)) if args.after else ROOT
        after = stack.enter_context(serve(after_tree, env, tmp, "after"))

        password = "bench-password-123"  # noqa: S105
        auth = {"Authorization": f"Token {token}"}
        page_path = f"/runs/?datasetName={args.dataset}&businessDate={day}"
        full_path = "/runs/"  # every dataset, newest first: a full page of 50 rows
        api_path = f"/api/v1/runs/?datasetName={args.dataset}&businessDate={day}"
        conns: list[http.client.HTTPConnection] = []
        cookies = {
            name: http_login(addr, operator.username, password) for name, addr in (("before", before), ("after", after))
        }
        targets = {
            "floor": lambda: raw.query(**request),
            "page before": getter(before, page_path, cookies["before"], conns),
            "page after": getter(after, page_path, cookies["after"], conns),
            "50-row page before": getter(before, full_path, cookies["before"], conns),
            "50-row page after": getter(after, full_path, cookies["after"], conns),
            "api before": getter(before, api_path, auth, conns),
            "api after": getter(after, api_path, auth, conns),
        }
        try:
            samples = interleaved_ms(targets, args.n)
            logs = {"before": tmp / "gunicorn-before.log", "after": tmp / "gunicorn-after.log"}
            ddb_calls = {
                name: dynamodb_calls(logs[name.rsplit(" ", 1)[1]], call)
                for name, call in targets.items() if name != "floor"
            }
        finally:
            for connection in conns:
                connection.close()
    after_name = args.after or "working tree"
    medians = {name: statistics.median(values) for name, values in samples.items()}
    floor = medians["floor"]
    print(f"\nruns of {args.dataset} on {day}: {len(items)} items; gunicorn, 2 workers, DEBUG off; "
          f"{args.n} calls per target, interleaved, medians; before = {args.before}, after = {after_name}")
    rows = []
    for name, ms in medians.items():
        seen = ddb_calls.get(name)
        rows.append([name, f"{ms:.2f}", f"{ms / floor:.2f}x", "" if seen is None else f"{seen:g}"])
    print(table(["target", "ms/call", "vs floor", "DynamoDB calls"], rows))
    page_ratio = medians["page after"] / medians["page before"]
    full_ratio = medians["50-row page after"] / medians["50-row page before"]
    api_ratio = medians["api after"] / medians["api before"]
    summary_line(
        f"A/B {args.before} -> {after_name}: page {medians['page before'] / floor:.2f}x -> "
        f"{medians['page after'] / floor:.2f}x of the floor (after/before {page_ratio:.2f}, goal <= 1.2); "
        f"API {medians['api before'] / floor:.2f}x -> {medians['api after'] / floor:.2f}x "
        f"(after/before {api_ratio:.2f}, goal <= 1.1); 50-row runs page {medians['50-row page before']:.1f} -> "
        f"{medians['50-row page after']:.1f} ms (after/before {full_ratio:.2f}, reported)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
