"""Issue 10: `send SLUG --to me --as reader` fills a test copy with that subscriber's
fields, so an editor checks merge fields with real data."""

from __future__ import annotations

import email
import email.policy
import http.client
import threading
from email.message import EmailMessage
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from briefing.build import build
from briefing.cli import cli

SLUG = "trump-xi-call"


@pytest.fixture
def project(example: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("BRIEFING_UNSUBSCRIBE_SECRET", "as-secret-0123456789")
    (example / "subscribers.csv").write_text(
        "email,name,city\nann@example.com,Ann,Oslo\nbob@example.com,Bob,\n"
    )
    note = next((example / "issues").glob(f"*-{SLUG}")) / "issue.md"
    text = note.read_text()
    note.write_text(text.replace("\n---\n", "\n---\nSee you in {{ city }}.\n\n", 1))
    build(example, jobs=1)
    return example


def _run(root: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--project", str(root), *args])


def _copy(root: Path) -> EmailMessage:
    (path,) = (root / "outbox" / f"{SLUG}-test").glob("*.eml")
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def _text(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def test_a_test_copy_as_a_subscriber_carries_their_fields(project: Path) -> None:
    result = _run(project, "send", SLUG, "--to", "me@example.com", "--as", "ann@EXAMPLE.com")
    assert result.exit_code == 0, result.output
    message = _copy(project)
    assert "See you in Oslo." in _text(message)
    assert message["To"] == "Ann <me@example.com>"  # delivered to the editor, not to Ann
    # The list send would be refused (Bob has no city); the test copy only warns.
    assert "merge-missing" not in result.output  # judged against Ann alone
    plain = _run(project, "send", SLUG, "--to", "me@example.com")
    assert "See you in ." in _text(_copy(project))
    assert plain.exit_code == 0


def test_as_needs_a_known_subscriber_and_a_test_copy(project: Path) -> None:
    unknown = _run(project, "send", SLUG, "--to", "me@example.com", "--as", "zed@example.com")
    assert unknown.exit_code == 1
    assert "--as: zed@example.com is not in the audience store" in unknown.output
    alone = _run(project, "send", SLUG, "--as", "ann@example.com")
    assert alone.exit_code == 1 and "--as needs --to" in alone.output
    refused = _run(project, "send", SLUG)
    assert refused.exit_code == 1 and "merge-missing" in refused.output
    assert not (project / "outbox" / SLUG).exists()


def test_preview_as_a_subscriber_shows_the_email_with_their_fields(project: Path) -> None:
    from briefing.cli.site import _reader_values
    from briefing.preview import serve

    reader = _reader_values(project, "ann@example.com")
    server, preview = serve(project, project / "site", 0, lambda line: None, reader)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        port = server.server_address[1]
        email_html = _get(port, f"/site/issues/{SLUG}/email.html")
        dashboard = _get(port, f"/?issue={SLUG}")
    finally:
        preview.stop.set()
        server.shutdown()
        server.server_close()
    assert "See you in Oslo." in email_html and "{{ city }}" not in email_html
    assert "See you in Oslo." in dashboard  # the plain-text panel
    # The built site keeps the placeholders: only what the preview shows is filled.
    built = (project / "site" / "issues" / SLUG / "email.html").read_text()
    assert "{{ city }}" in built


def _get(port: int, path: str) -> str:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("GET", path)
    body = connection.getresponse().read().decode("utf-8")
    connection.close()
    return body
