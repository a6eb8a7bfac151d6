"""One-click unsubscribe benchmark: `briefing serve` and its embedded audience store.

    python bench/unsubscribe_bench.py [--subscribers 5000] [--clients 8] [--threads 8]

The example publication is copied to a temporary folder, N subscribers are
imported into its audience store, and `briefing serve` runs as its own process
on 127.0.0.1 (waitress, --threads workers). --clients threads here, each with
one keep-alive HTTP connection, then POST RFC 8058 one-click unsubscribes
(`List-Unsubscribe=One-Click`) for N different subscribers as fast as the
service answers. Every request is a real unsubscribe: a token check and one
committed SQLite transaction (status and event). Reported: unsubscribes per
second over the whole run (wall time), latency percentiles per request, and a
check that the store recorded every one. The client runs on the same 2 cores
as the server, so the figures are a floor for the service alone.
Target (issue 11): at least 500/s with p99 under 50 ms.
"""

from __future__ import annotations

import argparse
import http.client
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

from benchlib import REPO, CpuSnapshot, busy_note, machine, run_main, stop_process, target, temp_dir

from briefing.audience.store import UNSUBSCRIBED, Store
from briefing.audience.transfer import import_rows
from briefing.send.message import unsubscribe_token

SECRET = "bench-secret-0123456789"
LIST_ID = "The Briefing <briefing.example.com>"
BRIEFING = [sys.executable, "-m", "briefing"]
SERVE_ARGS = ["--bind", "127.0.0.1:0"]


def _copy_example(folder: Path) -> Path:
    root = folder / "example"
    root.mkdir()
    for name in ("briefing.toml", "templates", "issues"):
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, root / name)
        else:
            shutil.copy(source, root / name)
    return root


def _start(root: Path, threads: int) -> tuple[subprocess.Popen[bytes], int]:
    process = subprocess.Popen(
        [*BRIEFING, "--project", str(root), "serve", *SERVE_ARGS, "--threads", str(threads)],
        stdout=subprocess.PIPE,
        env={**os.environ, "BRIEFING_UNSUBSCRIBE_SECRET": SECRET},
    )
    assert process.stdout is not None
    line = process.stdout.readline().decode()
    port = int(line.rsplit(":", 1)[1].split("/")[0])
    return process, port


def _client(port: int, tokens: list[str], latencies: list[float], errors: list[str]) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    body = b"List-Unsubscribe=One-Click"
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    for token in tokens:
        started = time.perf_counter()
        connection.request("POST", f"/u/{token}", body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        latencies.append(time.perf_counter() - started)
        if response.status != 200:
            errors.append(f"{response.status} for {token}")
    connection.close()


def run(subscribers: int, clients: int, threads: int) -> None:
    print(machine())
    print(busy_note())
    with temp_dir("unsubscribe") as folder:
        root = _copy_example(folder)
        addresses = [f"reader{n:06}@example.com" for n in range(subscribers)]
        with Store(root / ".briefing/audience.db") as store:
            import_rows(store, [(a, "", {}) for a in addresses], "bench", False)
        tokens = [unsubscribe_token(SECRET.encode(), LIST_ID, a) for a in addresses]
        process, port = _start(root, threads)
        latencies: list[float] = []
        errors: list[str] = []
        workers = [
            threading.Thread(target=_client, args=(port, tokens[i::clients], latencies, errors))
            for i in range(clients)
        ]
        snapshot = CpuSnapshot.take()
        started = time.perf_counter()
        try:
            for worker in workers:
                worker.start()
            for worker in workers:
                worker.join()
            wall = time.perf_counter() - started
        finally:
            stop_process(process)
        with Store(root / ".briefing/audience.db") as store:
            recorded = store.counts().get(UNSUBSCRIBED, 0)
    _report(subscribers, clients, threads, wall, latencies, errors, recorded)
    print("  " + snapshot.others_note())


def _report(
    n: int,
    clients: int,
    threads: int,
    wall: float,
    latencies: list[float],
    errors: list[str],
    recorded: int,
) -> None:
    ms = sorted(x * 1000 for x in latencies)
    p50, p99 = statistics.median(ms), ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    rate = n / wall
    print(f"{n} one-click unsubscribes, {clients} clients, {threads} server threads")
    print(f"  {rate:,.0f} unsubscribes/s over {wall:.2f} s")
    print(f"  latency p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {ms[-1]:.1f} ms")
    print(f"  recorded in the store: {recorded} of {n}; errors: {len(errors)}")
    ok = rate >= 500 and p99 < 50 and recorded == n and not errors
    print(
        target(
            "one-click unsubscribes ≥ 500/s, p99 < 50 ms", ok, f"{rate:,.0f}/s, p99 {p99:.1f} ms"
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=5000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    run(args.subscribers, args.clients, args.threads)


if __name__ == "__main__":
    run_main(main)
