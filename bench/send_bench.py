"""Send benchmark: `briefing send` into the outbox and over SMTP, against Postfix's smtp-source.

    python bench/send_bench.py [--subscribers 10000,100000] [--connections 1,4] [--runs 1]
    python bench/send_bench.py --subscribers 2000          # a quick run

The example publication is copied to a temporary folder and built; for each
list size N, N subscribers are generated (bench/gen.py) and `briefing send
trump-xi-call` runs as a whole process, with a fresh ledger each time:

- into the outbox (every file written atomically and fsynced);
- over SMTP to Postfix's `smtp-sink` on 127.0.0.1, which accepts every message
  and throws it away, with each --connections count; then `smtp-source`, a load
  generator written in C, sends N messages of the same size over the same number
  of connections (one session each, many messages per session, like briefing).

Rates are N divided by the whole process's wall time (start-up, loading and the
ledger included); "send phase" is the rate briefing itself reports for delivery.
The ledger's share is measured in this process at the smallest N: the same
outbox send through briefing's planner and Dispatcher (what SendService.run
does after preparing the issue) with a Ledger subclass that times
every ledger call, and with a ledger that records nothing, alternating
(--ledger-rounds, median). smtp-sink is started and stopped here
(never the Postfix daemon); a missing Postfix program skips the SMTP part.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from benchlib import (
    REPO,
    CpuSnapshot,
    Measurement,
    briefing_command,
    busy_note,
    check,
    machine,
    mb,
    measure,
    median_of,
    run_main,
    stop_process,
    table,
    target,
    temp_dir,
)
from gen import write_subscribers
from ledger_share import SECRET, SLUG, LedgerShare, ledger_share, print_ledger, reset

POSTFIX_DIRS = ("/usr/sbin", "/usr/lib/postfix/sbin")


@dataclass(frozen=True)
class Run:
    n: int
    what: str  # "outbox", "smtp", "smtp-source"
    connections: int
    m: Measurement
    phase_rate: float | None  # messages/s of the delivery phase, as briefing reports it

    @property
    def rate(self) -> float:
        return self.n / self.m.wall

    @property
    def cpu_ms(self) -> float:
        return self.m.cpu * 1000 / self.n


# --- Postfix's test programs ---------------------------------------------------------------


def postfix_program(name: str) -> str | None:
    for folder in POSTFIX_DIRS:
        path = Path(folder) / name
        if path.is_file() and os.access(path, os.X_OK):
            return str(path)
    return shutil.which(name)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextlib.contextmanager
def smtp_sink(program: str) -> Iterator[int]:
    """smtp-sink on a free loopback port, accepting and discarding every message; stopped
    (and reaped) however the block ends."""
    port = free_port()
    cmd = [program]
    if os.geteuid() == 0:
        cmd += ["-u", "nobody"]  # required as root: drop privileges after binding
    cmd += [f"127.0.0.1:{port}", "1000"]  # backlog
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 10
            while True:
                if proc.poll() is not None:
                    log.seek(0)
                    raise RuntimeError(f"smtp-sink exited: {log.read().decode(errors='replace')}")
                with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError("smtp-sink did not start listening within 10 s")
                time.sleep(0.05)
            yield port
        finally:
            stop_process(proc)


# --- runs --------------------------------------------------------------------------------


def prepare_project(root: Path, env: dict[str, str]) -> None:
    """A copy of the example publication, built (send checks the issue against site/)."""
    shutil.copy(REPO / "briefing.toml", root / "briefing.toml")
    for name in ("issues", "templates"):
        shutil.copytree(REPO / name, root / name)
    check(measure([*briefing_command(), "--project", str(root), "build"], env=env), "build")


_SENT = re.compile(r"Sent (\d+) via .* \((\d+) messages/s\)")


def send(project: Path, subscribers: Path, env: dict[str, str], *options: str) -> Measurement:
    reset(project)
    cmd = [*briefing_command(), "--project", str(project), "send", SLUG]
    return check(measure([*cmd, "--subscribers", str(subscribers), *options], env=env), "send")


def phase_rate(m: Measurement, n: int) -> float:
    """The delivery rate `briefing send` reports, after checking it sent to everyone."""
    found = _SENT.search(m.output)
    if not found or int(found.group(1)) != n:
        raise RuntimeError(f"briefing did not report sending {n} messages:\n{m.output}")
    return float(found.group(2))


def send_runs(
    project: Path,
    subscribers: Path,
    env: dict[str, str],
    n: int,
    runs: int,
    transport: str,
    *options: str,
) -> tuple[Measurement, float, int]:
    """Median measurement and send-phase rate of runs sends, and the average message size
    (outbox only, else 0). The outbox is emptied after each: a large list takes gigabytes."""
    found, rates, size = [], [], 0
    for _ in range(runs):
        m = send(project, subscribers, env, "--transport", transport, *options)
        rates.append(phase_rate(m, n))
        if transport == "outbox":
            sent, size = outbox_size(project)
            if sent != n:
                raise RuntimeError(f"the outbox holds {sent} messages, not {n}")
        reset(project)
        found.append(m)
    return median_of(found), statistics.median(rates), size


def outbox_size(project: Path) -> tuple[int, int]:
    """Number of .eml files in the issue's outbox and their average size in bytes."""
    sizes = [e.stat().st_size for e in os.scandir(project / "outbox" / SLUG) if e.is_file()]
    return len(sizes), sum(sizes) // max(1, len(sizes))


# --- report ------------------------------------------------------------------------------


HEADERS = ["N", "what", "conn", "wall s", "msg/s", "send phase", "CPU ms/msg", "peak RSS", "ratio"]


def rows(runs: list[Run]) -> list[list[object]]:
    source = {(r.n, r.connections): r for r in runs if r.what == "smtp-source"}
    out: list[list[object]] = []
    for r in runs:
        ratio = ""
        if r.what == "smtp" and (r.n, r.connections) in source:
            ratio = f"{r.rate / source[r.n, r.connections].rate:.2f}x smtp-source"
        out.append(
            [
                r.n,
                r.what,
                r.connections,
                f"{r.m.wall:.2f}",
                f"{r.rate:.0f}",
                f"{r.phase_rate:.0f}" if r.phase_rate else "-",
                f"{r.cpu_ms:.3f}",
                mb(r.m.maxrss),
                ratio,
            ]
        )
    return out


TARGET_SIZES = (10000, 100000)  # issue 15 sets every send target at these list sizes
MEMORY_GROWTH = 1.5  # peak RSS at the largest list within this many times the smallest's


def _sizes_note(measured: set[int]) -> str:
    missing = [n for n in TARGET_SIZES if n not in measured]
    return f" — not measured at {', '.join(map(str, missing))}" if missing else ""


def smtp_targets(runs: list[Run], connections: list[int]) -> list[str]:
    out = []
    for c in sorted({1, 4, *connections}):
        pairs = [
            (ours, theirs)
            for ours in runs
            for theirs in runs
            if ours.what == "smtp" and theirs.what == "smtp-source"
            if ours.n == theirs.n and ours.connections == theirs.connections == c
        ]
        text = f"SMTP at >= 0.8x smtp-source's rate, {c} connection{'s' * (c > 1)}"
        if not pairs:
            why = "smtp-sink/smtp-source not available" if runs else "not run"
            why = why if c in connections else f"{c} not in --connections"
            out.append(target(text, None, why))
            continue
        ratios = [ours.rate / theirs.rate for ours, theirs in pairs]
        detail = ", ".join(
            f"{ours.n}: {ours.rate:.0f}/s vs {theirs.rate:.0f}/s = {ratio:.2f}x"
            for (ours, theirs), ratio in zip(pairs, ratios, strict=True)
        )
        detail += _sizes_note({ours.n for ours, _ in pairs})
        out.append(target(text, min(ratios) >= 0.8, detail))
    return out


def targets(runs: list[Run], connections: list[int], ledger: LedgerShare | None) -> None:
    print("\n== targets (issue 15) ==")
    for line in smtp_targets(runs, connections):
        print(line)
    largest = max(r.n for r in runs)
    outbox = [r for r in runs if r.what == "outbox" and r.n == largest]
    text = f"outbox at >= 1,500 messages/s at {TARGET_SIZES[-1]}, each file durable"
    if outbox:
        r = outbox[0]
        phase = f", send phase {r.phase_rate:.0f}/s" if r.phase_rate else ""
        detail = f"{r.rate:.0f} messages/s for {r.n} (whole process{phase})"
        if r.n != TARGET_SIZES[-1]:
            detail += f" — the issue sets this at {TARGET_SIZES[-1]}"
        print(target(text, r.rate >= 1500, detail))

    sizes = sorted({r.n for r in runs})
    text = f"peak memory within {MEMORY_GROWTH:g}x from the smallest list to the largest"
    if len(sizes) > 1:
        small, big = sizes[0], sizes[-1]
        by = {(r.n, r.what, r.connections): r.m.maxrss for r in runs if r.what != "smtp-source"}
        parts, ok = [], True
        for (n, what, c), rss in sorted(by.items()):
            if n != big or (small, what, c) not in by:
                continue
            growth = rss / by[small, what, c]
            ok = ok and growth <= MEMORY_GROWTH
            parts.append(f"{what}/{c}: {mb(by[small, what, c])} -> {mb(rss)} ({growth:.2f}x)")
        detail = f"{small} -> {big}: " + "; ".join(parts)
        if (small, big) != TARGET_SIZES:
            detail += f" — the issue sets this from {TARGET_SIZES[0]} to {TARGET_SIZES[1]}"
        print(target(text, ok, detail))
    else:
        print(target(text, None, "needs two list sizes"))

    print("\n== earlier targets (issue 5) ==")
    text = "the ledger adds under 10% to the send time"
    if ledger:
        detail = (
            f"{ledger.timed:.1%} of the outbox send is spent in ledger calls; the send takes"
            f" {ledger.added:+.1%} against one with a ledger that records nothing"
        )
        print(target(text, max(ledger.timed, ledger.added) < 0.10, detail))
    else:
        print(target(text, None, "not measured"))


def smtp_runs(
    project: Path,
    csv: Path,
    env: dict[str, str],
    n: int,
    c: int,
    runs: int,
    size: int,
    source: str,
    port: int,
) -> list[Run]:
    """briefing send over SMTP to smtp-sink with c connections, then smtp-source the same."""
    print(f"{n} subscribers: SMTP, {c} connection(s) ...", flush=True)
    smtp = ["--smtp-host", "127.0.0.1", "--smtp-port", str(port)]
    smtp += ["--smtp-security", "none", "--connections", str(c)]
    m, rate, _ = send_runs(project, csv, env, n, runs, "smtp", *smtp)
    print(f"{n} messages of {size} bytes: smtp-source, {c} connection(s) ...")
    cmd = [source, "-d", "-s", str(c), "-m", str(n), "-l", str(size)]
    cmd += ["-f", "news@briefing.example.com", "-t", "reader@example.com"]
    cmd += ["-M", "localhost", f"127.0.0.1:{port}"]
    found = [check(measure(cmd), "smtp-source") for _ in range(runs)]
    return [Run(n, "smtp", c, m, rate), Run(n, "smtp-source", c, median_of(found), None)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", default="10000,100000", help="list sizes, comma-separated")
    parser.add_argument("--connections", default="1,4", help="SMTP connection counts")
    parser.add_argument("--runs", type=int, default=1, help="runs per figure (median)")
    parser.add_argument(
        "--ledger-rounds", type=int, default=2, help="in-process ledger on/off sends (median)"
    )
    args = parser.parse_args()
    sizes = sorted({int(s) for s in args.subscribers.split(",") if s.strip()})
    connections = sorted({int(c) for c in args.connections.split(",") if c.strip()})
    env = {**os.environ, "BRIEFING_UNSUBSCRIBE_SECRET": SECRET}
    print(f"machine: {machine()}")
    print(f"now: {busy_note()}")
    cpu = CpuSnapshot.take()

    sink, source = postfix_program("smtp-sink"), postfix_program("smtp-source")
    skip_smtp = None
    if not sink or not source:
        skip_smtp = (
            "Postfix's smtp-sink/smtp-source not found: bash bench/install_tools.sh"
            " (installs Debian's postfix without configuring or starting it)"
        )
        print(f"skipped SMTP: {skip_smtp}")

    runs: list[Run] = []
    ledger: LedgerShare | None = None
    with temp_dir("send") as tmp, contextlib.ExitStack() as stack:
        project = tmp / "pub"
        project.mkdir()
        print("building the example publication ...", flush=True)
        prepare_project(project, env)
        port = stack.enter_context(smtp_sink(sink)) if sink and source else 0
        if port:
            print(f"smtp-sink listening on 127.0.0.1:{port}")
        for n in sizes:
            csv = tmp / f"subscribers-{n}.csv"
            write_subscribers(csv, n)

            print(f"\n{n} subscribers: outbox ...", flush=True)
            m, rate, size = send_runs(project, csv, env, n, args.runs, "outbox")
            runs.append(Run(n, "outbox", 1, m, rate))
            print(f"  average message: {size} bytes")

            if port and source:
                for c in connections:
                    runs += smtp_runs(project, csv, env, n, c, args.runs, size, source, port)

        print(f"\n{sizes[0]} subscribers: the ledger's share, in process ...", flush=True)
        csv = tmp / f"subscribers-{sizes[0]}.csv"
        ledger = ledger_share(project, csv, sizes[0], args.ledger_rounds)

    print("\n== briefing send (whole process, fresh ledger) and smtp-source ==")
    print(table(HEADERS, rows(runs)))
    print("  msg/s: N / whole-process wall time; send phase: the rate `briefing send` reports")
    if skip_smtp:
        print(f"  SMTP skipped: {skip_smtp}")
    if ledger:
        print_ledger(ledger)
    targets(runs, connections, ledger)
    print(f"\n{cpu.others_note()}")


if __name__ == "__main__":
    run_main(main)
