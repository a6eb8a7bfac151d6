"""Issue 15's speed targets in one run: the build, preview and send benchmarks, then a summary.

    python bench/targets.py                # the sizes the issue names (about 40 minutes)
    python bench/targets.py --quick        # small sizes: a smoke test of the whole chain

Runs bench/build_bench.py (1,000 and 5,000 issues, against Hugo and Pelican built
right after each of briefing's cold builds), bench/preview_bench.py and
bench/send_bench.py (10,000 and 100,000 recipients, 1 and 4 connections, against
Postfix's smtp-source) one after the other, each as its own process, showing their
output as it comes; then prints every target line they printed, MET, NOT MET or
NOT MEASURED. A target at a size that was not run says so. Missing tools are named
with how to install them (bash bench/install_tools.sh).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys

from benchlib import BENCH, CpuSnapshot, busy_note, machine, run_main

FULL = {
    "build_bench.py": ["--sizes", "1000,5000", "--compare-at", "1000,5000", "--runs", "3"],
    "preview_bench.py": ["--issues", "1000", "--runs", "5"],
    "send_bench.py": ["--subscribers", "10000,100000", "--connections", "1,4"],
}
QUICK = {
    "build_bench.py": ["--sizes", "100,300", "--compare-at", "300", "--runs", "1"],
    "preview_bench.py": ["--issues", "100", "--runs", "3"],
    "send_bench.py": ["--subscribers", "1000,3000", "--connections", "1,4", "--ledger-rounds", "1"],
}
_TARGET = re.compile(r"^== (targets?|earlier targets) \((issue \d+)\) ==$|^  \[.{12}\] ")


def run(script: str, args: list[str]) -> tuple[int, list[str]]:
    """Run one benchmark, echoing its output; return its exit code and its target lines."""
    print(f"\n##### python bench/{script} {' '.join(args)}", flush=True)
    found: list[str] = []
    heading = ""
    with subprocess.Popen(
        [sys.executable, str(BENCH / script), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as proc:
        assert proc.stdout is not None
        try:
            for line in proc.stdout:
                print(line, end="", flush=True)
                match = _TARGET.match(line.rstrip("\n"))
                if match and match.group(2):
                    heading = match.group(2)
                elif match:
                    found.append(f"{script:<17} {heading:<9}{line.rstrip()}")
        except BaseException:
            proc.terminate()  # it cleans up after itself on SIGTERM
            proc.wait()
            raise
    return proc.returncode, found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, one run each")
    parser.add_argument("--only", default="", help="comma-separated: build, preview, send")
    args = parser.parse_args()
    plan = QUICK if args.quick else FULL
    if args.only:
        wanted = {f"{name.strip()}_bench.py" for name in args.only.split(",")}
        plan = {k: v for k, v in plan.items() if k in wanted}
    print(f"machine: {machine()}")
    print(f"now: {busy_note()}")
    cpu = CpuSnapshot.take()
    summary: list[str] = []
    for script, script_args in plan.items():
        code, lines = run(script, script_args)
        summary += lines if code == 0 else [f"{script:<17} FAILED with exit code {code}"]
    print("\n===== issue 15: every target of this run =====")
    print("\n".join(summary))
    if args.quick:
        print("(--quick: sizes below the issue's, so every target names the size it was set at)")
    print(f"\n{cpu.others_note()}")


if __name__ == "__main__":
    run_main(main)
