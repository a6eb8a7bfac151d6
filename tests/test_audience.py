"""The audience store and `briefing audience`: statuses, history, import rules, erasure,
migration of the CSV files, and concurrent writers in separate processes."""

from __future__ import annotations

import csv
import io
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from briefing.audience.store import ACTIVE, PENDING, UNSUBSCRIBED, Store
from briefing.audience.transfer import import_rows
from briefing.cli import cli


def _run(root: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--project", str(root), *args])


def _store(root: Path) -> Store:
    return Store(root / ".briefing/audience.db")


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 31, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def test_first_use_moves_the_csv_files_into_the_store(example: Path) -> None:
    (example / "suppressions.csv").write_text("email,reason\nLINUS@example.com,complained\n")
    result = _run(example, "audience", "list")
    assert result.exit_code == 0, result.output
    lines = dict(line.split("\t")[:2] for line in result.stdout.splitlines())
    assert lines["ada@example.com"] == ACTIVE
    assert lines["linus@example.com"] == "complained"  # suppression ignores case
    with _store(example) as store:
        assert store.get("ada@example.com").fields == {"city": "London"}  # type: ignore[union-attr]
        consent = store.get("ada@example.com").consent_detail  # type: ignore[union-attr]
        assert consent == "migrated from subscribers.csv"
    # Once only: a later edit of the CSV is not silently re-read.
    (example / "subscribers.csv").write_text("email\nnew@example.com\n")
    assert "new@example.com" not in _run(example, "audience", "list").stdout


def test_import_is_idempotent_and_never_reactivates_unless_asked(example: Path) -> None:
    source = example / "members.csv"
    source.write_text(
        "Email Address,First Name,Plan\nada@EXAMPLE.com,Ada L,gold\nzoe@example.org,Zoe,\n"
    )
    args = ["audience", "import", str(source), "--map", "Email Address=email"]
    args += ["--map", "First Name=name"]
    first = _run(example, *args)
    assert "1 added, 1 updated" in first.stdout, first.output
    assert "0 added, 0 updated, 2 unchanged" in _run(example, *args).stdout
    with _store(example) as store:
        store.change("zoe@example.org", UNSUBSCRIBED, "one-click")
    kept = _run(example, *args)
    assert "1 unsubscribed left alone (pass --reactivate" in kept.stdout
    again = _run(example, *args, "--reactivate")
    assert "1 reactivated" in again.stdout
    with _store(example) as store:
        zoe = store.get("zoe@example.org")
        assert zoe is not None and zoe.status == ACTIVE
        assert [e.source for e in store.history("zoe@example.org")] == [
            "import",
            "one-click",
            "import",
        ]
        assert store.get("ada@example.com").fields["Plan"] == "gold"  # type: ignore[union-attr]


def test_bad_rows_are_all_reported_and_nothing_is_imported(example: Path) -> None:
    (example / "bad.csv").write_text("email,name\nnot-an-address,A\nok@example.com,B\nx@y,C\n")
    result = _run(example, "audience", "import", str(example / "bad.csv"))
    assert result.exit_code == 1
    assert "bad.csv:2: 'not-an-address' is not an email address" in result.output
    assert "bad.csv:4:" in result.output and "Traceback" not in result.output
    assert "ok@example.com" not in _run(example, "audience", "list").stdout
    missing = _run(example, "audience", "import", str(example / "bad.csv"), "--map", "email=mail")
    assert "no 'email' column (use --map" in missing.output


def test_remove_erases_the_person_and_keeps_them_out_of_imports(example: Path) -> None:
    assert _run(example, "audience", "remove", "Ada@example.com").exit_code == 0
    with _store(example) as store:
        assert store.get("ada@example.com") is None and store.history("ada@example.com") == []
        rows = store.query("SELECT * FROM erased")
        # Only a hash remains (a hex digest may contain "ada" by chance: look for the address).
        assert len(rows) == 1 and "ada@" not in str(rows).lower()
    files = (example / ".briefing").glob("audience.db*")  # the WAL too
    assert not any(b"Lovelace" in path.read_bytes() for path in files)  # secure_delete
    result = _run(example, "audience", "import", str(example / "subscribers.csv"))
    assert "1 erased on request, not imported" in result.stdout
    assert "ada@example.com" not in _run(example, "audience", "list").stdout


def test_remove_takes_the_address_out_of_the_ledger_and_keeps_its_counts(
    example: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from briefing.build import build

    monkeypatch.setenv("BRIEFING_UNSUBSCRIBE_SECRET", "a-long-enough-test-secret-0123456789")
    build(example, jobs=1)
    send = ["send", "trump-xi-call", "--transport", "outbox", "--yes"]
    assert _run(example, *send).exit_code == 0
    ledger = example / ".briefing/ledger.db"
    assert b"grace@example.com" in ledger.read_bytes() + _wal(ledger)
    removed = _run(example, "audience", "remove", "Grace@Example.com")
    assert removed.exit_code == 0, removed.output
    assert "The delivery ledger's 1 row(s) of past sends no longer name them." in removed.stdout
    # No copy left in the file or its WAL (secure_delete, checkpoint), in any case.
    assert b"grace@example.com" not in (ledger.read_bytes() + _wal(ledger)).lower()
    status = _run(example, "status", "trump-xi-call")
    assert status.stdout == "trump-xi-call: 4 sent\n", status.stdout
    again = _run(example, *send)  # nobody is sent the issue twice, Grace not at all
    assert again.exit_code == 0 and "Sent 0 " in again.stdout, again.stdout


def test_remove_waits_for_no_send_and_a_second_run_clears_the_ledger(
    example: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A send marks its rows by address: a row renamed under a running send would be
    queued again by its next run. So remove takes each issue's send lock, and says so."""
    from briefing.build import build
    from briefing.send.issue_lock import issue_lock

    monkeypatch.setenv("BRIEFING_UNSUBSCRIBE_SECRET", "a-long-enough-test-secret-0123456789")
    build(example, jobs=1)
    assert _run(example, "send", "trump-xi-call", "--transport", "outbox", "--yes").exit_code == 0
    ledger = example / ".briefing/ledger.db"
    with issue_lock(ledger, "trump-xi-call"):  # as a send of it would
        held = _run(example, "audience", "remove", "grace@example.com")
        assert held.exit_code == 1, held.output
        assert "Erased 1 subscriber(s)" in held.stdout
        assert "issue trump-xi-call is being sent by process" in held.output
        assert "then run the same command" in held.output
        assert b"grace@example.com" in ledger.read_bytes() + _wal(ledger)  # left as it was
    with _store(example) as store:
        assert store.get("grace@example.com") is None  # the store's part is done
    again = _run(example, "audience", "remove", "grace@example.com")
    assert again.exit_code == 0, again.output
    assert "The delivery ledger's 1 row(s) of past sends no longer name them." in again.stdout
    assert b"grace@example.com" not in (ledger.read_bytes() + _wal(ledger)).lower()


def test_forget_renames_every_spelling_and_scrubs_the_replies(tmp_path: Path) -> None:
    from briefing.send.ledger import Ledger
    from briefing.send.states import DeliveryState

    with Ledger(tmp_path / "ledger.db") as ledger:
        ledger.enqueue("a", ["Grace@example.com", "grace@example.com", "ada@example.com"])
        ledger.enqueue("b", ["grace@example.com"])
        reply = "550 5.1.1 <GRACE@EXAMPLE.COM>: no such user"
        ledger.mark("a", "grace@example.com", DeliveryState.FAILED, 550, reply)
        ledger.mark("b", "grace@example.com", DeliveryState.SENT)
        assert ledger.forget("grace@example.com", "erased-1234") == 3
        assert ledger.states("a").keys() == {"erased-1234", "ada@example.com"}
        assert ledger.states("b") == {"erased-1234": DeliveryState.SENT}
        assert all("grace" not in (p.reply or "").lower() for p in ledger.problems("a"))
        assert ledger.forget("nobody@example.com", "erased-5678") == 0


def _wal(database: Path) -> bytes:
    wal = database.with_name(database.name + "-wal")
    return wal.read_bytes() if wal.exists() else b""


def test_export_reimports_to_the_same_store(example: Path, tmp_path: Path) -> None:
    _run(example, "audience", "list")
    exported = _run(example, "audience", "export", "--status", "active").stdout
    rows = list(csv.DictReader(io.StringIO(exported)))
    assert {r["email"] for r in rows} == {
        "ada@example.com",
        "grace@example.com",
        "linus@example.com",
        "margaret@example.com",
    }
    assert rows[0]["consent_source"] == "import" and rows[0]["city"] == "London"
    (example / "export.csv").write_text(exported)
    again = _run(example, "audience", "import", str(example / "export.csv"))
    assert "0 added, 0 updated, 4 unchanged" in again.stdout, again.output


def test_stats_count_by_status_and_source_and_month(example: Path) -> None:
    _run(example, "audience", "list")
    with _store(example) as store:
        store.change("ada@example.com", UNSUBSCRIBED, "one-click")
    out = _run(example, "audience", "stats").stdout
    assert "active             3   (import 3)" in out
    assert "unsubscribed       1   (one-click 1)" in out
    month = datetime.now(UTC).strftime("%Y-%m")
    assert f"{month}        4      1" in out


def test_show_prints_consent_and_history(example: Path) -> None:
    _run(example, "audience", "list")
    out = _run(example, "audience", "show", "ada@example.com").stdout
    assert "consent:" in out and "migrated from subscribers.csv" in out
    missing = _run(example, "audience", "show", "nobody@example.com")
    assert missing.exit_code == 1 and "not in the store" in missing.output


def test_a_broken_store_is_one_clear_line(example: Path) -> None:
    (example / ".briefing").mkdir()
    (example / ".briefing/audience.db").write_text("not a database " * 100)
    result = _run(example, "audience", "stats")
    assert result.exit_code == 1
    assert "audience.db: cannot open the audience store" in result.output


def test_sign_up_confirm_and_the_rules_around_them(tmp_path: Path) -> None:
    clock = Clock()
    with Store(tmp_path / "a.db", clock) as store:
        assert store.sign_up("new@Example.org", "New", {}, "from 127.0.0.1")
        assert store.get("new@example.org").status == PENDING  # type: ignore[union-attr]
        issued = clock.now.isoformat()
        clock.now += timedelta(minutes=5)
        assert store.confirm("new@example.org", issued, "clicked")
        member = store.get("new@example.org")
        assert member is not None and member.status == ACTIVE
        assert member.consent_source == "form"
        assert member.consent_detail == "from 127.0.0.1 at 2026-01-31T12:00:00Z; clicked"
        assert not store.sign_up("new@example.org", "New", {}, "again")  # active: no mail
        clock.now += timedelta(minutes=5)
        store.change("new@example.org", UNSUBSCRIBED, "one-click")
        # An old confirmation link cannot undo a later unsubscribe.
        assert not store.confirm("new@example.org", issued, "old link")
        assert store.sign_up("new@example.org", "New", {}, "back")  # confirm to return
        assert store.get("new@example.org").status == UNSUBSCRIBED  # type: ignore[union-attr]
        clock.now += timedelta(minutes=5)
        assert store.confirm("new@example.org", clock.now.isoformat(), "new link")
        assert store.is_wanted("NEW@example.org")


def test_a_sign_up_never_confirmed_is_deleted_a_day_after_its_link_expired(
    example: Path,
) -> None:
    from briefing.audience.access import expire_sign_ups, open_store
    from briefing.config import load_config

    config = load_config(example)  # service.confirm_hours: 72 by default
    clock = Clock()
    open_store(config, clock).close()  # moves the CSV files in
    with Store(example / ".briefing/audience.db", clock) as store:
        assert store.sign_up("late@example.org", "Late", {"city": "Oslo"}, "form from a")
        assert store.sign_up("twice@example.org", "Twice", {}, "form from b")
        clock.now += timedelta(hours=50)
        assert store.sign_up("twice@example.org", "Twice", {}, "form from c")  # a new link
    clock.now += timedelta(hours=72 + 24 - 50 - 1)  # 95 h after the first: kept
    with open_store(config, clock) as store:
        expire_sign_ups(store, config)
        assert store.get("late@example.org") is not None
    clock.now += timedelta(hours=2)  # 97 h: the first link expired over a day ago
    with open_store(config, clock) as store:
        expire_sign_ups(store, config)
        assert store.get("late@example.org") is None
        assert not store.history("late@example.org")  # nothing kept about them
        assert not store.is_erased("late@example.org")  # and they may sign up again
        twice = store.get("twice@example.org")
        assert twice is not None and twice.status == PENDING  # asked again at 50 h
        assert store.get("ada@example.com") is not None  # the active are untouched
        assert store.confirm("twice@example.org", clock.now.isoformat(), "clicked")
        member = store.get("twice@example.org")
        assert member is not None and (member.consent_detail or "").startswith("form from c at")
        assert store.sign_up("late@example.org", "Late", {}, "form from d")


_WORKER = """
import sys
from pathlib import Path
from briefing.audience.store import Store
with Store(Path(sys.argv[1])) as store:
    for i in range(int(sys.argv[2]), int(sys.argv[2]) + 150):
        store.change(f"p{i}@example.com", "unsubscribed", "one-click", "worker")
"""


def test_concurrent_writers_in_processes_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    with Store(path) as store:
        import_rows(store, [(f"p{i}@example.com", "", {}) for i in range(600)], "t", False)
    workers = [
        subprocess.Popen([sys.executable, "-c", _WORKER, str(path), str(start)])
        for start in (0, 150, 300, 450)
    ]
    with Store(path) as store:  # a reader meanwhile sees whole transactions only
        while any(worker.poll() is None for worker in workers):
            assert sum(store.counts().values()) == 600
    assert [worker.wait(60) for worker in workers] == [0, 0, 0, 0]
    with Store(path) as store:
        assert store.counts() == {UNSUBSCRIBED: 600}
        events = store.query("SELECT COUNT(*) FROM events WHERE source='one-click'")
        assert events[0][0] == 600
    mode = sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_group_commit_answers_each_change_once_it_is_committed(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from briefing.serve.commits import GroupCommit

    path = tmp_path / "a.db"
    with Store(path) as store:
        import_rows(store, [(f"g{i}@example.com", "", {}) for i in range(300)], "t", False)
    commits = GroupCommit(path, lambda: datetime.now(UTC))
    try:
        with ThreadPoolExecutor(max_workers=32) as pool:
            results = list(
                pool.map(
                    lambda i: commits.change(
                        f"g{i % 300}@example.com", UNSUBSCRIBED, "one-click", ""
                    ),
                    range(600),
                )
            )
        with pytest.raises(ValueError, match="unknown status"):
            commits.change("g1@example.com", "gone", "one-click", "")
        assert commits.change("new@example.com", UNSUBSCRIBED, "mailto", "") is True
    finally:
        commits.close()
    assert results.count(True) == 300  # each address changed once; repeats report False
    assert commits.batches < 600  # changes shared transactions (and fsyncs)
    with Store(path) as store:
        assert store.counts() == {UNSUBSCRIBED: 301}
        assert store.query("SELECT COUNT(*) FROM events WHERE source='one-click'")[0][0] == 300


def test_someone_erased_can_sign_up_again_themselves(tmp_path: Path) -> None:
    clock = Clock()
    with Store(tmp_path / "a.db", clock) as store:
        import_rows(store, [("back@example.com", "B", {})], "t", False)
        assert store.erase("back@example.com") and store.is_erased("back@example.com")
        assert import_rows(store, [("back@example.com", "B", {})], "t", True).erased == 1
        assert store.sign_up("back@example.com", "B", {}, "form")
        clock.now += timedelta(minutes=1)
        assert store.confirm("back@example.com", clock.now.isoformat(), "clicked")
        assert not store.is_erased("back@example.com")  # a new consent lifts the erasure
        assert store.get("back@example.com").status == ACTIVE  # type: ignore[union-attr]


def test_an_import_changes_only_the_columns_its_file_has(example: Path) -> None:
    _run(example, "audience", "list")  # the example's subscribers (with names and city)
    plans = example / "plans.csv"
    plans.write_text("email,plan\nada@example.com,gold\n")
    result = _run(example, "audience", "import", str(plans))
    assert "0 added, 1 updated, 0 unchanged" in result.stdout, result.output
    with _store(example) as store:
        ada = store.get("ada@example.com")
    assert ada is not None and ada.name == "Ada Lovelace"
    assert ada.fields == {"city": "London", "plan": "gold"}


def test_an_inbox_dry_run_deletes_no_expired_sign_up_and_audience_does(
    example: Path, tmp_path: Path
) -> None:
    """Expiry belongs to the sign-up side (the service, the audience commands): a command
    that promises to change nothing (`inbox --dry-run`) leaves even an expired one."""
    assert _run(example, "audience", "list").exit_code == 0  # the store, CSV moved in
    old = Clock()
    old.now = datetime(2020, 1, 1, tzinfo=UTC)
    with Store(example / ".briefing/audience.db", old) as store:
        assert store.sign_up("late@example.org", "Late", {}, "form from a")
    maildir = tmp_path / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True)
    looked = _run(example, "inbox", "--maildir", str(maildir), "--dry-run")
    assert looked.exit_code == 0, looked.output
    with _store(example) as store:
        assert store.get("late@example.org") is not None
    assert _run(example, "audience", "list").exit_code == 0
    with _store(example) as store:
        assert store.get("late@example.org") is None
