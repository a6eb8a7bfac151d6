"""`briefing inbox` benchmark: a Maildir of N bounce, complaint and other messages.

    python bench/inbox_bench.py [--messages 2000]

The example publication is copied to a temporary folder; every subscriber the
messages name is active in its audience store and every delivery they refer to
is in its ledger (so VERP tokens resolve). The Maildir holds the test fixtures
(tests/fixtures/inbox: Postfix, Exim, Microsoft 365, Gmail, qmail, Sendmail,
ARF, auto-replies, mailto unsubscribes, malformed…) for distinct subscribers,
in turn. `briefing inbox --maildir … --move-to Done` runs as its own process,
then again (everything already processed). Reported: messages per second of
each run (wall time, including Python start-up) and the statuses it changed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from benchlib import REPO, busy_note, machine, run_main, temp_dir

sys.path.insert(0, str(REPO / "tests"))
from briefing.audience.store import Store
from briefing.inbox.state import message_key
from briefing.send.ledger import Ledger
from inbox_mail import EXPECTED, SECRET, render

ISSUE = "trade-talks"
BRIEFING = [sys.executable, "-m", "briefing"]


def _project(folder: Path, addresses: list[str]) -> Path:
    root = folder / "example"
    root.mkdir()
    for name in ("briefing.toml", "templates", "issues"):
        source = REPO / name
        (shutil.copytree if source.is_dir() else shutil.copy)(source, root / name)
    with (root / "briefing.toml").open("a") as toml:
        toml.write('\n[bounces]\naddress = "bounces@briefing.example.com"\n')
    store = Store(root / ".briefing" / "audience.db")
    with store.write():
        for address in addresses:
            store.apply(address, "active", "import")
    store.close()
    ledger = Ledger(root / ".briefing" / "ledger.db")
    ledger.enqueue(ISSUE, addresses)
    ledger.close()
    return root


def _maildir(folder: Path, count: int) -> list[str]:
    names = sorted(EXPECTED)
    addresses = []
    for sub in ("cur", "new", "tmp"):
        (folder / sub).mkdir(parents=True)
    for n in range(count):
        address = f"reader{n}@example.org"
        addresses.append(address)
        data = render(names[n % len(names)], address, ISSUE, n)
        (folder / "new" / f"{1764000000 + n}.M{n}P1.bench").write_bytes(data)
    return addresses


def _run(root: Path, maildir: Path) -> tuple[float, str]:
    """One `briefing inbox` process; acted-on messages move to the subfolder .X."""
    started = time.perf_counter()
    done = subprocess.run(
        [
            *BRIEFING,
            "--project",
            str(root),
            "inbox",
            "--maildir",
            str(maildir),
            "--move-to",
            "Done",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "BRIEFING_UNSUBSCRIBE_SECRET": SECRET.decode()},
        check=True,
    )
    return time.perf_counter() - started, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=2000)
    args = parser.parse_args()
    print(machine())
    print(busy_note())
    with temp_dir("inbox") as folder:
        maildir = folder / "Maildir"
        addresses = _maildir(maildir, args.messages)
        root = _project(folder, addresses)
        sample = (maildir / "new").iterdir().__next__().read_bytes()
        started = time.perf_counter()
        for _ in range(1000):
            message_key(sample)
        key_us = (time.perf_counter() - started) * 1000
        first, output = _run(root, maildir)
        changed = output.strip().splitlines()[-1]
        second, _ = _run(root, maildir)
        print(f"messages: {args.messages} ({len(EXPECTED)} fixture shapes in turn)")
        print(f"first run:  {first:6.2f} s  {args.messages / first:7.0f} messages/s  ({changed})")
        left = sum(1 for _ in (maildir / "new").iterdir()) + sum(
            1 for _ in (maildir / "cur").iterdir()
        )
        print(f"second run: {second:6.2f} s  {left} messages left in place, all seen before")
        print(f"message key (digest): {key_us:.0f} µs per message")


if __name__ == "__main__":
    run_main(main)
