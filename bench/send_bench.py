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
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

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

from briefing.build import load
from briefing.send.audience import Subscriber, read_subscribers
from briefing.send.dispatch import Dispatcher, Options, Tally
from briefing.send.ledger import Ledger
from briefing.send.message import MessageTemplate
from briefing.send.plan import plan_send
from briefing.send.prepare import make_template, prepare_issue
from briefing.send.states import DeliveryState
from briefing.send.transports import OutboxTransport

SLUG = "trump-xi-call"
SECRET = "bench-unsubscribe-secret-0123456789"
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


def reset(project: Path) -> None:
    """A fresh ledger and an empty outbox, so every run sends to the whole list."""
    for name in (".briefing", "outbox"):
        shutil.rmtree(project / name, ignore_errors=True)


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


# --- the ledger's share, in process ------------------------------------------------------


# Ledger methods that only read or tidy up; every other public method is a ledger write.
_NOT_WRITES = {"close", "counts", "problems"}


def _ledger_methods() -> list[str]:
    """Public Ledger methods, whatever they are today (recover, enqueue, states, mark, …)."""
    return [n for n, v in vars(Ledger).items() if callable(v) and not n.startswith("_")]


class TimedLedger(Ledger):
    """The real ledger, adding up the time of each of its methods (close aside)."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.seconds: defaultdict[str, float] = defaultdict(float)


def _timed(name: str) -> Callable[..., Any]:
    def method(self: TimedLedger, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return getattr(super(TimedLedger, self), name)(*args, **kwargs)
        finally:
            self.seconds[name] += time.perf_counter() - started

    return method


class NullLedger(Ledger):
    """Records nothing: every recipient is new, every write is dropped."""

    def recover(self, issue: str, idempotent: bool) -> int:
        return 0

    def states(self, issue: str) -> dict[str, DeliveryState]:
        return {}


def _ignored(*args: Any, **kwargs: Any) -> None:
    return None


for _name in _ledger_methods():
    if _name != "close":
        setattr(TimedLedger, _name, _timed(_name))
    if _name not in _NOT_WRITES and _name not in vars(NullLedger):
        setattr(NullLedger, _name, _ignored)


@dataclass
class LedgerShare:
    n: int
    with_ledger: list[float] = field(default_factory=list)  # plan + dispatch seconds, each round
    without: list[float] = field(default_factory=list)  # the same with a NullLedger
    calls: list[dict[str, float]] = field(default_factory=list)  # Ledger method -> seconds

    @property
    def timed(self) -> float:
        """Share of the send spent inside ledger calls (median over rounds)."""
        shares = [sum(c.values()) / t for c, t in zip(self.calls, self.with_ledger, strict=True)]
        return statistics.median(shares)

    @property
    def added(self) -> float:
        """How much longer the send takes with the ledger than with none."""
        plain = statistics.median(self.without)
        return (statistics.median(self.with_ledger) - plain) / plain


def _send_in_process(
    template: MessageTemplate, audience: list[Subscriber], ledger: Ledger, folder: Path
) -> Tally:
    """SendService.run's plan and dispatch, with the ledger given (nobody suppressed)."""
    plan = plan_send(SLUG, audience, (), ledger, idempotent=True, resend_unknown=False)
    make = partial(OutboxTransport, folder)
    return Dispatcher(SLUG, template, ledger, make, Options(connections=1)).run(plan.to_send)


def ledger_share(project: Path, subscribers: Path, n: int, rounds: int) -> LedgerShare:
    """The same outbox send as the CLI's, planned and dispatched, with a TimedLedger and with a
    NullLedger, alternating which goes first in each round."""
    publication = load(project)
    config = publication.config
    prepared = prepare_issue(publication, SLUG, project / "site")
    template = make_template(config, prepared, SECRET.encode())
    audience = read_subscribers(subscribers, project)
    folder = project / "outbox" / SLUG
    found = LedgerShare(n)
    for round_ in range(rounds):
        kinds: list[type[Ledger]] = [TimedLedger, NullLedger]
        for kind in kinds if round_ % 2 == 0 else kinds[::-1]:
            reset(project)
            ledger = kind(project / config.send.ledger)
            started = time.perf_counter()
            try:
                tally = _send_in_process(template, audience, ledger, folder)
            finally:
                ledger.close()
            # Ctrl-C inside the dispatcher finishes the message in flight and returns; stop too.
            if tally.interrupted:
                raise KeyboardInterrupt
            if tally.sent != n:
                raise RuntimeError(f"the in-process send delivered {tally.sent} of {n}")
            seconds = time.perf_counter() - started
            if isinstance(ledger, TimedLedger):
                found.with_ledger.append(seconds)
                found.calls.append(dict(ledger.seconds))
            else:
                found.without.append(seconds)
    reset(project)
    return found


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


def targets(runs: list[Run], connections: list[int], ledger: LedgerShare | None) -> None:
    print("\n== targets (issue 5) ==")
    largest = max(r.n for r in runs)
    for c in connections:
        pairs = [
            (ours, theirs)
            for ours in runs
            for theirs in runs
            if ours.what == "smtp" and theirs.what == "smtp-source"
            if ours.n == theirs.n and ours.connections == theirs.connections == c
        ]
        text = f"SMTP at >= 0.8x smtp-source's rate, {c} connection{'s' * (c > 1)}"
        if pairs:
            ratios = [ours.rate / theirs.rate for ours, theirs in pairs]
            detail = ", ".join(
                f"{ours.n}: {ours.rate:.0f}/s vs {theirs.rate:.0f}/s = {ratio:.2f}x"
                for (ours, theirs), ratio in zip(pairs, ratios, strict=True)
            )
            print(target(text, min(ratios) >= 0.8, detail))
        else:
            print(target(text, None, "smtp-sink/smtp-source not available"))

    outbox = [r for r in runs if r.what == "outbox" and r.n == largest]
    if outbox:
        r = outbox[0]
        phase = f", send phase {r.phase_rate:.0f}/s" if r.phase_rate else ""
        detail = f"{r.rate:.0f} messages/s for {r.n} (whole process{phase})"
        print(target("outbox at >= 1,500 messages/s, each file durable", r.rate >= 1500, detail))

    sizes = sorted({r.n for r in runs})
    text = "peak memory flat in the list size (largest within 20% of smallest)"
    if len(sizes) > 1:
        small, big = sizes[0], sizes[-1]
        by = {(r.n, r.what, r.connections): r.m.maxrss for r in runs if r.what != "smtp-source"}
        parts, ok = [], True
        for (n, what, c), rss in sorted(by.items()):
            if n != big or (small, what, c) not in by:
                continue
            growth = rss / by[small, what, c]
            ok = ok and growth <= 1.2
            parts.append(f"{what}/{c}: {mb(by[small, what, c])} -> {mb(rss)} ({growth:.2f}x)")
        print(target(text, ok, f"{small} -> {big}: " + "; ".join(parts)))
    else:
        print(target(text, None, "needs two list sizes"))

    text = "the ledger adds under 10% to the send time"
    if ledger:
        detail = (
            f"{ledger.timed:.1%} of the outbox send is spent in ledger calls; the send takes"
            f" {ledger.added:+.1%} against one with a ledger that records nothing"
        )
        print(target(text, max(ledger.timed, ledger.added) < 0.10, detail))
    else:
        print(target(text, None, "not measured"))


def print_ledger(share: LedgerShare) -> None:
    n, total = share.n, statistics.median(share.with_ledger)
    rounds = len(share.with_ledger)
    print(f"\n== the ledger's share of an outbox send to {n} (in process, median of {rounds}) ==")
    print(f"  send with the ledger: {total:.2f} s ({n / total:.0f} messages/s)")
    for name in sorted(share.calls[0], key=lambda k: -share.calls[0][k]):
        seconds = statistics.median(c.get(name, 0.0) for c in share.calls)
        print(f"    Ledger.{name:<9} {seconds:7.3f} s  {seconds / total:6.1%}")
    print(f"    all ledger calls {share.timed:6.1%} of the send")
    plain = statistics.median(share.without)
    print(
        f"  send with a ledger that records nothing: {plain:.2f} s ({n / plain:.0f} messages/s);"
        f" the real ledger adds {share.added:+.1%}"
    )


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
        skip_smtp = "Postfix's smtp-sink/smtp-source not found (apt-get install -y postfix)"
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
