"""The service and `briefing send` at once, in separate processes, on one audience store."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from briefing.audience.store import ACTIVE, PENDING, UNSUBSCRIBED, Store
from briefing.build import build
from briefing.send.message import unsubscribe_token
from briefing.send.transports import OutboxTransport

from service_process import LIST_ID, SECRET, Service

SLUG = "trump-xi-call"
COUNT = 400
# A message is written a few milliseconds after its last check against the store;
# one written later than this after an unsubscribe was answered was not checked.
MARGIN = 0.25


@pytest.fixture
def project(example: Path) -> Path:
    rows = "".join(f"u{n:03}@example.com,U{n}\n" for n in range(COUNT))
    (example / "subscribers.csv").write_text("email,name\n" + rows)
    build(example, jobs=1)
    return example


@pytest.fixture
def service(project: Path) -> Iterator[Service]:
    running = Service(project)
    yield running
    running.stop()


def _send(root: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "briefing", "--project", str(root), "send", SLUG, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "BRIEFING_UNSUBSCRIBE_SECRET": SECRET},
    )


def _wait_for_first_message(folder: Path, send: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while not any(folder.glob("*.eml")):
        assert send.poll() is None, send.communicate()[0]
        assert time.monotonic() < deadline, "the send never started writing"
        time.sleep(0.01)


def test_200_one_click_unsubscribes_during_a_send_lose_nothing_and_stop_the_mail(
    project: Path, service: Service
) -> None:
    leaving = [f"u{n:03}@example.com" for n in range(0, COUNT, 2)]  # spread over the send
    folder = project / "outbox" / SLUG
    send = _send(project, "--rate", "100")  # about 4 s
    _wait_for_first_message(folder, send)

    def unsubscribe(address: str) -> tuple[str, int, float]:
        token = unsubscribe_token(SECRET.encode(), LIST_ID, address)
        reply = service.request("POST", f"/u/{token}", {"List-Unsubscribe": "One-Click"})
        return address, reply.status, time.time()

    with ThreadPoolExecutor(max_workers=50) as pool:
        answered = list(pool.map(unsubscribe, leaving))
    output, _ = send.communicate(timeout=120)
    assert send.returncode == 0, output
    assert {status for _, status, _ in answered} == {200}

    with Store(project / ".briefing/audience.db") as store:
        assert store.counts() == {ACTIVE: COUNT - 200, UNSUBSCRIBED: 200}
        events = store.query("SELECT COUNT(*) FROM events WHERE source='one-click'")
        assert events[0][0] == 200  # every unsubscribe recorded, none lost

    outbox = OutboxTransport(folder)
    late = []
    for address, _, acknowledged in answered:
        path = outbox.path_for(address)
        if path.exists() and path.stat().st_mtime > acknowledged + MARGIN:
            late.append((address, path.stat().st_mtime - acknowledged))
    assert late == [], f"mailed after their unsubscribe was answered: {late[:5]}"
    for n in range(1, COUNT, 2):  # everyone who stayed got the issue
        assert outbox.path_for(f"u{n:03}@example.com").exists()

    sent = int(re.search(r"Sent (\d+)", output).group(1))  # type: ignore[union-attr]
    withheld = re.search(r"Withheld (\d+)", output)
    held = int(withheld.group(1)) if withheld else 0
    assert held > 0, output  # some unsubscribes landed mid-send and were honoured
    assert sent + held == COUNT, output  # each of the 400 either got it or was withheld
    assert sent == len(list(folder.glob("*.eml")))
    again, _ = _send(project).communicate(timeout=120)  # withheld ones stay unsent
    assert "Sent 0 " in again and "200 suppressed" in again, again
    assert sent == len(list(folder.glob("*.eml")))


def test_an_unconfirmed_sign_up_never_gets_an_issue(project: Path, service: Service) -> None:
    for address in ("waiting@example.org", "confirmed@example.org"):
        reply = service.request("POST", "/subscribe", {"email": address})
        assert reply.status == 200
    [eml] = [
        p.read_text()
        for p in (project / "outbox/confirmations").glob("*.eml")
        if "confirmed@example.org" in p.read_text()
    ]
    link = re.search(r"/(confirm/[^\s]+)", eml.replace("=\n", ""))
    assert link is not None
    assert service.request("POST", "/" + link.group(1)).status == 200
    send = _send(project)
    output, _ = send.communicate(timeout=120)
    assert send.returncode == 0, output
    outbox = OutboxTransport(project / "outbox" / SLUG)
    assert outbox.path_for("confirmed@example.org").exists()
    assert not outbox.path_for("waiting@example.org").exists()
    with Store(project / ".briefing/audience.db") as store:
        assert store.get("waiting@example.org").status == PENDING  # type: ignore[union-attr]
    assert f"Sent {COUNT + 1} " in output


def test_a_one_off_list_is_sent_with_the_store_suppressions_applied(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from briefing.cli import cli

    monkeypatch.setenv("BRIEFING_UNSUBSCRIBE_SECRET", SECRET)
    with Store(project / ".briefing/audience.db") as store:
        store.change("U001@Example.com", UNSUBSCRIBED, "one-click")  # any spelling
        store.erase("u002@example.com")
    one_off = project / "vip.csv"
    one_off.write_text("email,name\nu001@example.com,A\nu002@example.com,B\nvip@example.org,V\n")
    result = CliRunner().invoke(
        cli, ["--project", str(project), "send", SLUG, "--subscribers", str(one_off)]
    )
    assert result.exit_code == 0, result.output
    assert "Sent 1 " in result.output and "2 suppressed" in result.output
    outbox = OutboxTransport(project / "outbox" / SLUG)
    assert outbox.path_for("vip@example.org").exists()
    assert not outbox.path_for("u001@example.com").exists()
    assert not outbox.path_for("u002@example.com").exists()
