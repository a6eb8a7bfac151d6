"""Shared helpers for the benchmarks: measuring child processes, tables, statuses, cleanup.

A benchmark times whole processes: wall time from perf_counter, CPU time and
peak RSS from the rusage that os.wait4 returns for the child (on Linux it
includes the child's own reaped children, such as a process pool's workers,
and ru_maxrss is the largest single process among them). Because a pool's
processes each count only once in ru_maxrss, a sampler also adds up the
proportional set size (PSS) of the whole process tree every 50 ms: that is
the memory the run really held at once.
"""

from __future__ import annotations

import contextlib
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "bench"

MB = 1024 * 1024


@dataclass(frozen=True)
class Measurement:
    wall: float  # seconds
    user: float  # CPU seconds in user mode, the child and its reaped children
    sys: float  # CPU seconds in the kernel
    maxrss: int  # bytes: ru_maxrss, the largest single process
    tree_peak: int  # bytes: the largest sampled sum of PSS over the process tree
    returncode: int
    output: str  # stdout and stderr together

    @property
    def cpu(self) -> float:
        return self.user + self.sys


def _children(pid: int) -> list[int]:
    found = []
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as handle:
                found += [int(child) for child in handle.read().split()]
    return found


def _memory(pid: int) -> int:
    """PSS of one process in bytes (RSS where smaps_rollup is missing); 0 once it is gone."""
    for name, key in (("smaps_rollup", "Pss:"), ("status", "VmRSS:")):
        with contextlib.suppress(OSError), open(f"/proc/{pid}/{name}") as handle:
            for line in handle:
                if line.startswith(key):
                    return int(line.split()[1]) * 1024
    return 0


def tree_memory(pid: int) -> int:
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        total += _memory(current)
        todo += _children(current)
    return total


class _Sampler(threading.Thread):
    def __init__(self, pid: int, interval: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval, self.peak = pid, interval, 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            self.peak = max(self.peak, tree_memory(self.pid))
            self.done.wait(self.interval)


def measure(
    cmd: Sequence[str | os.PathLike[str]],
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
) -> Measurement:
    """Run cmd to completion and measure it. On Ctrl-C the child is stopped and reaped.

    Python programs run as they do on a user's machine: with bytecode cached. This
    VM's environment sets PYTHONDONTWRITEBYTECODE, which makes every `briefing` (and
    Pelican) process compile its modules again: ~0.1 s of each start-up."""
    env = dict(os.environ if env is None else env)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    with tempfile.TemporaryFile() as out:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
        sampler = _Sampler(proc.pid)
        sampler.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        except BaseException:
            stop_process(proc)
            raise
        finally:
            sampler.done.set()
        wall = time.perf_counter() - started
        sampler.join()
        proc.returncode = os.waitstatus_to_exitcode(status)  # already reaped by wait4
        out.seek(0)
        output = out.read().decode("utf-8", "replace")
    return Measurement(
        wall=wall,
        user=usage.ru_utime,
        sys=usage.ru_stime,
        maxrss=usage.ru_maxrss * 1024,  # Linux reports kilobytes
        tree_peak=max(sampler.peak, usage.ru_maxrss * 1024),
        returncode=proc.returncode,
        output=output,
    )


def stop_process(proc: subprocess.Popen[bytes], grace: float = 5.0) -> None:
    """Ask a child to stop, then make it; always reap it."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            proc.wait()


def check(m: Measurement, what: str) -> Measurement:
    """Raise with the child's output when it failed."""
    if m.returncode != 0:
        raise RuntimeError(f"{what} failed (exit {m.returncode}):\n{m.output.strip()}")
    return m


def median_of(measurements: Sequence[Measurement]) -> Measurement:
    """A measurement made of the medians of each figure."""

    def med(attr: str) -> float:
        return statistics.median(getattr(m, attr) for m in measurements)

    return Measurement(
        wall=med("wall"),
        user=med("user"),
        sys=med("sys"),
        maxrss=int(med("maxrss")),
        tree_peak=int(med("tree_peak")),
        returncode=max(m.returncode for m in measurements),
        output=measurements[-1].output,
    )


@contextlib.contextmanager
def temp_dir(prefix: str) -> Iterator[Path]:
    """A temporary folder on the same disk as /tmp, removed however the block ends."""
    path = Path(tempfile.mkdtemp(prefix=f"briefing-bench-{prefix}-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def stop_on_sigterm() -> None:
    """Turn SIGTERM into KeyboardInterrupt so the same cleanup runs as for Ctrl-C."""

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


def run_main(main: object) -> None:
    """Call main() with SIGTERM handled; Ctrl-C prints one line and exits 130."""
    stop_on_sigterm()
    try:
        main()  # type: ignore[operator]
    except KeyboardInterrupt:
        print("\ninterrupted: temporary files and helper processes were removed", file=sys.stderr)
        sys.exit(130)


def briefing_command() -> list[str]:
    """The `briefing` console script installed beside this Python."""
    beside = Path(sys.executable).with_name("briefing")
    found = str(beside) if beside.is_file() else shutil.which("briefing")
    if not found:
        sys.exit("the `briefing` command is not installed: python3 -m pip install -e .")
    return [found]


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain-text table, text left-aligned and numbers right-aligned."""
    cells = [[str(c) for c in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def line(row: Sequence[str], source: Sequence[object]) -> str:
        parts = []
        for i, cell in enumerate(row):
            numeric = isinstance(source[i], int | float) or cell[:1].isdigit()
            parts.append(cell.rjust(widths[i]) if numeric else cell.ljust(widths[i]))
        return "  ".join(parts).rstrip()

    out = [line(cells[0], headers), "  ".join("-" * w for w in widths)]
    out += [line(cells[i + 1], rows[i]) for i in range(len(rows))]
    return "\n".join(out)


def status(ok: bool | None) -> str:
    return {True: "MET", False: "NOT MET", None: "NOT MEASURED"}[ok]


def target(text: str, ok: bool | None, detail: str) -> str:
    return f"  [{status(ok):^12}] {text}: {detail}"


def mb(n: float) -> str:
    return f"{n / MB:.0f} MB"


def _cpu_times() -> tuple[int, int]:
    with open("/proc/stat") as handle:
        values = [int(v) for v in handle.readline().split()[1:]]
    return sum(values), values[3] + values[4]  # total, idle + iowait


def busy_note(seconds: float = 1.0) -> str:
    """How busy the machine is right now: other work on it makes every figure noisy."""
    try:
        total0, idle0 = _cpu_times()
        time.sleep(seconds)
        total1, idle1 = _cpu_times()
    except OSError:
        return "CPU use unknown"
    busy = 1 - (idle1 - idle0) / max(1, total1 - total0)
    note = f"CPU {busy:.0%} busy before the run, load average {os.getloadavg()[0]:.2f}"
    if busy > 0.10:
        note += " — WARNING: other work is running; the figures below will be noisy"
    return note


@dataclass(frozen=True)
class CpuSnapshot:
    busy: float  # CPU seconds the whole machine spent busy since boot
    own: float  # CPU seconds of this process and its reaped children
    at: float

    @classmethod
    def take(cls) -> CpuSnapshot:
        total, idle = _cpu_times()
        usages = [
            resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
        ]
        own = sum(u.ru_utime + u.ru_stime for u in usages)
        return cls((total - idle) / os.sysconf("SC_CLK_TCK"), own, time.monotonic())

    def others_note(self) -> str:
        """How much CPU other processes took since this snapshot: noise in every figure."""
        now = CpuSnapshot.take()
        others = max(0.0, (now.busy - self.busy) - (now.own - self.own))
        share = others / max(1e-9, (now.at - self.at) * (os.cpu_count() or 1))
        note = f"other processes used {others:.0f} CPU-seconds during the run ({share:.0%} of it)"
        if share > 0.05:
            note += " — WARNING: the figures are noisy; run again on a quiet machine"
        return note


def machine() -> str:
    """One line naming the machine the figures came from."""
    cpu = "unknown CPU"
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as handle:
        for line in handle:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    version = ".".join(map(str, sys.version_info[:3]))
    return f"{os.cpu_count()} cores ({cpu}), {memory / 2**30:.0f} GiB, Python {version}"
