"""The subscriber service over real HTTP: `briefing serve` as a subprocess on loopback."""

from __future__ import annotations

import base64
import dataclasses
import email
import email.policy
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest

from briefing.audience.store import ACTIVE, PENDING, UNSUBSCRIBED, Store
from briefing.send.message import unsubscribe_token
from briefing.serve.tokens import CONFIRM, RESUBSCRIBE, make_token

from service_process import LIST_ID, SECRET, Service, set_service
from smtp_server import SmtpServer

SERVICE = """
url = "https://list.example.com/"
trusted_proxies = ["127.0.0.1"]
fields = ["city"]
requests_per_client = 5
signups_per_address = 2
"""


@pytest.fixture
def root(example: Path) -> Path:
    set_service(example, SERVICE)
    return example


@pytest.fixture
def service(root: Path) -> Iterator[Service]:
    running = Service(root)
    yield running
    running.stop()


def _store(root: Path) -> Store:
    return Store(root / ".briefing/audience.db")


def _status(root: Path, address: str) -> str | None:
    with _store(root) as store:
        member = store.get(address)
        return member.status if member else None


def _token(address: str) -> str:
    return unsubscribe_token(SECRET.encode(), LIST_ID, address)


def _eml(root: Path) -> list[EmailMessage]:
    folder = root / "outbox/confirmations"
    files = sorted(folder.glob("*.eml")) if folder.is_dir() else []
    return [
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default)  # type: ignore[misc]
        for p in files
    ]


def _sign_up(service: Service, address: str, client: str = "198.51.100.7", **extra: str) -> int:
    form = {"email": address, "name": "New Reader", "website": "", **extra}
    reply = service.request("POST", "/subscribe", form, {"X-Forwarded-For": client})
    return reply.status


def test_one_click_post_unsubscribes_at_once_and_repeats_are_harmless(
    root: Path, service: Service
) -> None:
    token = _token("ada@example.com")
    for _ in range(2):
        reply = service.request("POST", f"/u/{token}", {"List-Unsubscribe": "One-Click"})
        assert reply.status == 200 and reply.headers["Location"] is None  # RFC 8058: no redirect
        assert reply.body == "Unsubscribed from The Briefing.\n"  # a mail client shows none
    assert _status(root, "ada@example.com") == UNSUBSCRIBED
    with _store(root) as store:
        events = [(e.status, e.source) for e in store.history("ada@example.com")]
    assert events == [(ACTIVE, "import"), (UNSUBSCRIBED, "one-click")]


@pytest.mark.parametrize(
    "kind",
    ["forged", "other-secret", "truncated", "expired-confirm", "confirm-as-unsubscribe", "junk"],
)
def test_bad_tokens_get_400_and_change_nothing(root: Path, service: Service, kind: str) -> None:
    good = _token("ada@example.com")
    mac = good.partition(".")[2]
    tokens = {
        "forged": _token("grace@example.com").split(".")[0] + "." + mac,
        "other-secret": unsubscribe_token(b"another-secret-0123456789", LIST_ID, "ada@example.com"),
        "truncated": good[:-3],
        "expired-confirm": make_token(
            SECRET.encode(), CONFIRM, LIST_ID, "ada@example.com", time.time() - 86400 * 9, 3600
        ),
        "confirm-as-unsubscribe": make_token(
            SECRET.encode(), CONFIRM, LIST_ID, "ada@example.com", time.time(), 3600
        ),
        "junk": "%00%27%3BDROP%20TABLE%20subscribers",
    }
    reply = service.request("POST", f"/u/{tokens[kind]}", {"List-Unsubscribe": "One-Click"})
    assert reply.status == 400, reply.body
    assert "not complete or not ours" in reply.body
    assert "Traceback" not in reply.body and "sqlite" not in reply.body.lower()
    assert _status(root, "ada@example.com") == ACTIVE
    assert _status(root, "grace@example.com") == ACTIVE


def test_expired_and_wrong_purpose_links_are_refused(service: Service) -> None:
    old = make_token(SECRET.encode(), CONFIRM, LIST_ID, "x@example.com", time.time() - 9e5, 60)
    reply = service.request("POST", f"/confirm/{old}")
    assert reply.status == 400 and "expired" in reply.body
    resubscribe = make_token(
        SECRET.encode(), RESUBSCRIBE, LIST_ID, "x@example.com", time.time(), 60
    )
    assert service.request("POST", f"/confirm/{resubscribe}").status == 400
    assert service.request("GET", f"/confirm/{resubscribe[:-2]}").status == 400


def test_get_never_changes_state(root: Path, service: Service) -> None:
    page = service.request("GET", f"/u/{_token('ada@example.com')}")
    assert page.status == 200
    assert 'method="post"' in page.body and "a***a@example.com" in page.body
    assert "The Briefing" in page.body and '<html lang="en">' in page.body
    _sign_up(service, "new@example.org")
    confirm = make_token(SECRET.encode(), CONFIRM, LIST_ID, "new@example.org", time.time(), 3600)
    assert service.request("GET", f"/confirm/{confirm}").status == 200
    with _store(root) as store:
        store.change("grace@example.com", UNSUBSCRIBED, "page")
    again = make_token(SECRET.encode(), RESUBSCRIBE, LIST_ID, "grace@example.com", time.time(), 60)
    assert service.request("GET", f"/resubscribe/{again}").status == 200
    assert _status(root, "ada@example.com") == ACTIVE
    assert _status(root, "new@example.org") == PENDING
    assert _status(root, "grace@example.com") == UNSUBSCRIBED


def test_sign_up_confirmation_email_confirm_round_trip(root: Path, service: Service) -> None:
    assert _sign_up(service, "New.Reader@Example.org", city="Lyon") == 200
    assert _status(root, "New.Reader@example.org") == PENDING
    [message] = _eml(root)
    assert message["To"] == "New Reader <New.Reader@Example.org>"
    assert message["From"] == "The Briefing <news@briefing.example.com>"
    assert message["Auto-Submitted"] == "auto-generated"
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    link = re.search(r"https://list\.example\.com/(confirm/\S+)", text)
    assert link is not None and link.group(0) in html
    path = "/" + link.group(1)
    page = service.request("GET", path)
    assert page.status == 200 and "Confirm my subscription" in page.body
    assert _status(root, "New.Reader@example.org") == PENDING
    done = service.request("POST", path)
    assert done.status == 200 and "You are subscribed" in done.body
    with _store(root) as store:
        member = store.get("New.Reader@example.org")
    assert member is not None and member.status == ACTIVE
    assert member.fields == {"city": "Lyon"} and member.name == "New Reader"
    assert member.consent_source == "form"
    consent = member.consent_detail or ""
    assert consent.startswith("sign-up form from 198.51.100.7 at ")
    assert "; confirmed from 127.0.0.1 with the link emailed at" in consent
    assert service.request("POST", path).status == 200  # a second click is harmless


def test_the_answer_never_reveals_who_is_subscribed(root: Path, service: Service) -> None:
    known = service.request("POST", "/subscribe", {"email": "ada@example.com"})
    unknown = service.request("POST", "/subscribe", {"email": "nobody@example.net"})
    assert known.status == unknown.status == 200
    assert known.body == unknown.body
    assert [m["To"] for m in _eml(root)] == ["nobody@example.net"]  # nothing to the member


def test_honeypot_posts_are_dropped_quietly(root: Path, service: Service) -> None:
    form = {"email": "bot-target@example.net", "website": "http://spam.example"}
    reply = service.request("POST", "/subscribe", form)
    assert reply.status == 200 and "Check your email" in reply.body
    assert _status(root, "bot-target@example.net") is None and _eml(root) == []


def test_rate_limits_per_client_and_per_address(root: Path, service: Service) -> None:
    # Per address: two confirmation emails an hour, whichever clients ask.
    for client in ("203.0.113.1", "203.0.113.2", "203.0.113.3"):
        assert _sign_up(service, "victim@example.net", client) == 200
    assert len(_eml(root)) == 1  # the outbox keeps one file per recipient
    # Per client: five form posts a minute, then 429.
    statuses = [_sign_up(service, f"r{i}@example.net", "203.0.113.9") for i in range(6)]
    assert statuses == [200] * 5 + [429]
    assert _sign_up(service, "other@example.net", "203.0.113.10") == 200


def test_forwarded_for_is_believed_only_from_a_trusted_proxy(example: Path) -> None:
    set_service(example, "requests_per_client = 2")
    service = Service(example)
    try:
        statuses = [
            _sign_up(service, f"r{i}@example.net", client=f"203.0.113.{i}") for i in range(3)
        ]
    finally:
        service.stop()
    assert statuses == [200, 200, 429]  # a forged X-Forwarded-For does not evade the limit


def test_unsubscribe_page_offers_to_subscribe_again(root: Path, service: Service) -> None:
    token = _token("grace@example.com")
    done = service.request("POST", f"/u/{token}", {"List-Unsubscribe": "One-Click", "via": "page"})
    action = re.search(r'action="\.\./(resubscribe/[^"]+)"', done.body)
    assert action is not None, done.body
    with _store(root) as store:
        assert store.history("grace@example.com")[-1].source == "page"
    back = service.request("POST", "/" + action.group(1))
    assert back.status == 200 and "Welcome back" in back.body
    assert _status(root, "grace@example.com") == ACTIVE
    # After that, the unsubscribe link's page offers to unsubscribe again.
    assert "Unsubscribe</button>" in service.request("GET", f"/u/{token}").body


def test_errors_are_plain_pages(service: Service) -> None:
    missing = service.request("GET", "/admin/subscribers")
    assert missing.status == 404 and "<html" in missing.body
    wrong = service.request("PUT", "/subscribe", body=b"x")
    assert wrong.status == 405
    bad = service.request("POST", "/subscribe", {"email": "not an address"})
    assert bad.status == 400 and "valid email address" in bad.body and 'name="email"' in bad.body
    huge = service.request("POST", "/subscribe", {"email": "a@example.com", "name": "x" * 40000})
    assert huge.status == 413
    for reply in (missing, wrong, bad, huge):
        assert "Traceback" not in reply.body and "werkzeug" not in reply.body.lower()
        assert reply.headers["Content-Security-Policy"].startswith("default-src 'none'")
        assert reply.headers["Referrer-Policy"] == "no-referrer"


def test_health_and_stylesheet(service: Service) -> None:
    health = service.request("GET", "/healthz")
    assert health.status == 200 and health.body == "ok\n"
    css = service.request("GET", "/style.css")
    assert css.status == 200 and ".signup" in css.body
    page = service.request("GET", "/subscribe")
    assert 'href="style.css"' in page.body and 'name="website"' in page.body
    assert 'name="city"' in page.body


def test_the_wsgi_module_serves_the_same_app(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from werkzeug.test import Client

    monkeypatch.setenv("BRIEFING_PROJECT", str(root))
    monkeypatch.setenv("BRIEFING_UNSUBSCRIBE_SECRET", SECRET)
    import importlib

    import briefing.serve.wsgi as wsgi

    importlib.reload(wsgi)
    reply = Client(wsgi.application).post(
        f"/u/{_token('linus@example.com')}", data={"List-Unsubscribe": "One-Click"}
    )
    assert reply.status_code == 200
    assert _status(root, "linus@example.com") == UNSUBSCRIBED


def test_serve_without_a_secret_is_one_clear_line(root: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "BRIEFING_UNSUBSCRIBE_SECRET"}
    done = subprocess.run(
        [sys.executable, "-m", "briefing", "--project", str(root), "serve"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "error: set BRIEFING_UNSUBSCRIBE_SECRET to a random string of 16+ characters; it signs"
        " unsubscribe links, so keep it the same for every send"
    ]


def _serve(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "briefing", "--project", str(root), "serve", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "BRIEFING_UNSUBSCRIBE_SECRET": SECRET},
        timeout=60,
        check=False,
    )


def test_a_port_in_use_is_one_clear_line_naming_where_it_came_from(
    root: Path, service: Service
) -> None:
    taken = f"127.0.0.1:{service.port}"
    done = _serve(root, "--bind", taken)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"error: --bind: cannot listen on {taken}: the address is in use;"
        " stop what listens there or choose another port"
    ]
    set_service(root, SERVICE + f'bind = "{taken}"\n')
    done = _serve(root)
    assert done.returncode == 1
    assert done.stderr.startswith(f"error: briefing.toml: service.bind: cannot listen on {taken}")
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("bind", ["abc", "127.0.0.1:", "127.0.0.1:99999", "[::1]:x", ":8025"])
def test_a_malformed_bind_is_refused_before_listening(root: Path, bind: str) -> None:
    # 99999 used to be taken modulo 65536: the service listened on port 34463.
    done = _serve(root, "--bind", bind)
    assert done.returncode == 2 and not done.stdout
    assert f"Invalid value for '--bind': '{bind}': use HOST:PORT" in done.stderr


@pytest.mark.parametrize("command", [["serve"], ["audience"], ["audience", "import"]])
def test_help_has_an_example(command: list[str]) -> None:
    from click.testing import CliRunner

    from briefing.cli import cli

    result = CliRunner().invoke(cli, [*command, "--help"])
    assert result.exit_code == 0 and "Example:" in result.output


def test_confirmation_goes_over_smtp_and_is_dkim_signed(root: Path) -> None:
    dkim = pytest.importorskip("dkim")
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    key = root / "dkim.pem"
    subprocess.run(["openssl", "genrsa", "-out", str(key), "2048"], check=True, capture_output=True)
    der = subprocess.run(
        ["openssl", "rsa", "-in", str(key), "-pubout", "-outform", "DER"],
        check=True,
        capture_output=True,
    ).stdout
    record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(der)

    def dns(name: bytes, timeout: int = 5) -> bytes | None:
        return record if name.rstrip(b".") == b"brief._domainkey.briefing.example.com" else None

    from briefing.config import load_config
    from briefing.render.theme import Theme
    from briefing.send.credentials import Credentials
    from briefing.serve.mail import Mailer

    with SmtpServer() as server:
        toml = root / "briefing.toml"
        toml.write_text(
            toml.read_text().replace(
                "[service]",
                '[dkim]\nprivate_key = "dkim.pem"\n'
                'selector = "brief"\n\n[smtp]\nhost = "127.0.0.1"\nsecurity = "none"\n'
                f"port = {server.port}\n\n[service]",
            )
        )
        config = load_config(root)
        config = dataclasses.replace(
            config, send=dataclasses.replace(config.send, transport="smtp")
        )
        mailer = Mailer(config, Theme.load(config), Credentials())
        assert mailer.send("reader@example.org", "Reader", "https://x.example/confirm/t", 0)
        [received] = server.recorder.messages
    assert received.rcpt_tos == ["reader@example.org"]
    assert received.mail_from == "news@briefing.example.com"
    assert received.data.startswith(b"DKIM-Signature:")
    assert dkim.verify(received.data, dnsfunc=dns)
    assert b"\r\n" in received.data and b"https://x.example/confirm/t" in received.data


def test_a_forged_host_header_never_reaches_the_email(root: Path, service: Service) -> None:
    form = {"email": "someone@example.net"}
    reply = service.request("POST", "/subscribe", form, {"Host": "evil.example"})
    assert reply.status == 200
    [message] = _eml(root)
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "evil.example" not in text and "https://list.example.com/confirm/" in text


def test_one_click_as_rfc_8058_shows_it_multipart_form_data(root: Path, service: Service) -> None:
    # RFC 8058 section 8.1's example request.
    body = (
        b"--FormBoundary\r\n"
        b'Content-Disposition: form-data; name="List-Unsubscribe"\r\n\r\n'
        b"One-Click\r\n--FormBoundary--\r\n"
    )
    headers = {"Content-Type": "multipart/form-data; boundary=FormBoundary"}
    reply = service.request("POST", f"/u/{_token('margaret@example.com')}", None, headers, body)
    assert reply.status == 200
    with _store(root) as store:
        assert [e.source for e in store.history("margaret@example.com")][-1] == "one-click"
    assert _status(root, "margaret@example.com") == UNSUBSCRIBED
