"""The subscriber service as a WSGI application (Werkzeug).

    POST /u/<token>            one-click unsubscribe (RFC 8058 3.2): 200, no redirect
    GET  /u/<token>            a page naming the list and the masked address, with a button
    GET|POST /resubscribe/<t>  after unsubscribing: a page, then the change
    GET|POST /subscribe        the sign-up form; a post mails a confirmation link
    GET|POST /confirm/<token>  a page with a button, then the subscriber is active
    GET  /healthz, /style.css

A GET never changes anything: link scanners and mail gateways fetch every link.
No endpoint lists subscribers, and no answer to a sign-up says whether the
address was already known. Errors are plain pages: no traceback, no SQL.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from briefing.audience.access import expire_sign_ups
from briefing.audience.address import address_problem, fields_problem, mask, suppression_key
from briefing.audience.store import ACTIVE, SUPPRESSING, UNSUBSCRIBED, Consent, Store
from briefing.config import Config
from briefing.send.message import verify_unsubscribe_token
from briefing.serve.commits import GroupCommit
from briefing.serve.limits import RateLimit
from briefing.serve.pages import Pages
from briefing.serve.tokens import CONFIRM, RESUBSCRIBE, is_expired, make_token, read_token

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

    from briefing.serve.mail import Mailer

log = logging.getLogger("briefing")

ROUTES = Map(
    [
        Rule("/healthz", endpoint="healthz", methods=["GET"]),
        Rule("/style.css", endpoint="stylesheet", methods=["GET"]),
        Rule("/u/<token>", endpoint="unsubscribe", methods=["GET", "POST"]),
        Rule("/resubscribe/<token>", endpoint="resubscribe", methods=["GET", "POST"]),
        Rule("/subscribe", endpoint="subscribe", methods=["GET", "POST"]),
        Rule("/confirm/<token>", endpoint="confirm", methods=["GET", "POST"]),
    ],
    strict_slashes=False,
)
HEADERS = {
    # Tokens are in URLs: never send them on as a Referer; never cache a personal page.
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
}
# img-src adds the published site's origin, for its favicon.
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' {site}; form-action 'self';"
    " frame-ancestors 'none'; base-uri 'none'"
)
PLAIN_500 = "<!doctype html><title>Error</title><p>Something went wrong. Try again later.</p>"
MAX_FIELD = 200


@dataclass(frozen=True)
class Secrets:
    key: bytes  # BRIEFING_UNSUBSCRIBE_SECRET
    list_id: str


class SubscriberService:
    """The WSGI callable. Thread-safe: one store connection per worker thread."""

    def __init__(
        self,
        config: Config,
        pages: Pages,
        secret: bytes,
        mailer: Mailer | None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config, self.pages, self.mailer, self.clock = config, pages, mailer, clock
        self.secrets = Secrets(secret, config.email.list_id)
        service = config.service
        self.trusted = frozenset(service.trusted_proxies)
        self.per_client = RateLimit(service.requests_per_client, 60, clock)
        self.per_address = RateLimit(service.signups_per_address, 3600, clock)
        self._local = threading.local()
        self.commits = GroupCommit(config.root / config.audience.store, self._now)
        self.one_click_reply = f"Unsubscribed from {config.publication.title}.\n"
        site = urlsplit(config.publication.base_url)
        csp = CSP.format(site=f"{site.scheme}://{site.netloc}")
        self.headers = {**HEADERS, "Content-Security-Policy": csp}
        # Where links in emails point: [service] url, else where `serve` listens.
        self.public_url = service.url or f"http://{service.bind}/"
        self._stores: list[Store] = []
        self._lock = threading.Lock()

    # Plumbing

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    def store(self) -> Store:
        store: Store | None = getattr(self._local, "store", None)
        if store is None:
            store = Store(self.config.root / self.config.audience.store, self._now, durable=True)
            self._local.store = store
            with self._lock:
                self._stores.append(store)
        return store

    def close(self) -> None:
        self.commits.close()
        with self._lock:
            for store in self._stores:
                store.close()
            self._stores.clear()

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        request.max_content_length = 16 * 1024
        request.max_form_memory_size = 16 * 1024
        response = self.respond(request)
        response.headers.update(self.headers)
        return response(environ, start_response)

    def respond(self, request: Request) -> Response:
        try:
            endpoint, args = ROUTES.bind_to_environ(request.environ).match()
            handler: Callable[..., Response] = getattr(self, "on_" + str(endpoint))
            return handler(request, **args)
        except HTTPException as exc:
            code = exc.code or 500
            return self.error(request, code, exc.name, _PLAIN.get(code, exc.name))
        except Exception:
            log.exception("service error on %s %s", request.method, request.path)
            return Response(PLAIN_500, 500, content_type="text/html; charset=utf-8")

    def page(self, request: Request, page: str, status: int = 200, **context: Any) -> Response:
        to_root = "../" * request.path.strip("/").count("/")
        html = self.pages.render(page, to_root, **context)
        return Response(html, status, content_type="text/html; charset=utf-8")

    def error(self, request: Request, status: int, heading: str, message: str) -> Response:
        return self.page(request, "error", status, heading=heading, message=message)

    def client(self, request: Request) -> str:
        """The client's address; X-Forwarded-For only from a trusted proxy (the rightmost
        entry a trusted proxy did not add is the one nobody could forge)."""
        peer = request.remote_addr or ""
        if peer not in self.trusted:
            return peer
        chain = [a.strip() for a in request.headers.get("X-Forwarded-For", "").split(",")]
        for hop in reversed([a for a in chain if a]):
            if hop not in self.trusted:
                return hop
        return peer

    def _token(self, purpose: str, address: str, hours: int) -> str:
        secrets = self.secrets
        return make_token(
            secrets.key, purpose, secrets.list_id, address, self.clock(), hours * 3600
        )

    def _link(self, path: str) -> str:
        # Never from the Host header: a forged one would put its host in our email.
        return self.public_url + path

    # Endpoints

    def on_healthz(self, request: Request) -> Response:
        self.store().query("SELECT 1 FROM meta LIMIT 1")  # the store answers
        return Response("ok\n", content_type="text/plain; charset=utf-8")

    def on_stylesheet(self, request: Request) -> Response:
        response = Response(self.pages.stylesheet(), content_type="text/css; charset=utf-8")
        response.headers["Cache-Control"] = "public, max-age=3600"
        return response

    def on_unsubscribe(self, request: Request, token: str) -> Response:
        address = verify_unsubscribe_token(self.secrets.key, self.secrets.list_id, token)
        if address is None or address_problem(address):
            return self.error(request, 400, "Link not valid", _BAD_UNSUBSCRIBE)
        store = self.store()
        if request.method == "POST":
            # RFC 8058: the mail client posts "List-Unsubscribe=One-Click"; our page adds via.
            source = "page" if request.form.get("via") == "page" else "one-click"
            detail = f"POST from {self.client(request)}"
            self.commits.change(address, UNSUBSCRIBED, source, detail)
            if source == "one-click":  # a mail client: it shows no page, so send none
                return Response(self.one_click_reply, content_type="text/plain; charset=utf-8")
        else:
            member = store.get(address)
            if member is None or member.status not in SUPPRESSING:
                return self.page(request, "unsubscribe", masked=mask(address), action=token)
        return self._unsubscribed(request, address, store)

    def _unsubscribed(self, request: Request, address: str, store: Store) -> Response:
        member = store.get(address)
        again = ""
        if member is not None and member.status == UNSUBSCRIBED:
            token = self._token(RESUBSCRIBE, address, self.config.service.resubscribe_hours)
            again = "../resubscribe/" + token
        return self.page(request, "unsubscribed", masked=mask(address), action=again)

    def on_resubscribe(self, request: Request, token: str) -> Response:
        secrets, now = self.secrets, self.clock()
        claim = read_token(secrets.key, RESUBSCRIBE, secrets.list_id, token, now)
        if claim is None:
            expired = is_expired(secrets.key, RESUBSCRIBE, secrets.list_id, token, now)
            return self.error(request, 400, "Link not valid", _EXPIRED if expired else _BAD_LINK)
        masked = mask(claim.address)
        if request.method == "GET":
            return self.page(request, "resubscribe", masked=masked, action=token)
        store = self.store()
        with store.write():
            member = store.get(claim.address)
            if member is None or member.status not in (UNSUBSCRIBED, ACTIVE):
                return self.error(request, 400, "Cannot subscribe again", _CANNOT)
            detail = f"resubscribed from {self.client(request)} after unsubscribing"
            store.apply(
                claim.address, ACTIVE, "resubscribe", detail, Consent("resubscribe", detail)
            )
        return self.page(request, "resubscribed", masked=masked)

    def on_subscribe(self, request: Request) -> Response:
        if request.method == "GET":
            return self.page(request, "subscribe")
        if not self.per_client.allow(self.client(request)):
            return self.error(request, 429, "Too many requests", _SLOW_DOWN)
        values, problem = _form(request, self.config.service.fields)
        if problem:
            return self.page(
                request,
                "subscribe",
                400,
                signup_values=values,
                signup_error=problem,
            )
        if request.form.get("website"):  # the honeypot: a person never fills it
            log.info("sign-up dropped: honeypot filled by %s", self.client(request))
            return self.page(request, "check-email")
        self._sign_up(request, values)
        # The same answer whatever happened: it must not reveal who is subscribed.
        return self.page(request, "check-email")

    def _sign_up(self, request: Request, values: dict[str, str]) -> None:
        address = values.pop("email")
        name = values.pop("name", "")
        store = self.store()
        client = self.client(request)
        expire_sign_ups(store, self.config)  # the service runs for weeks: on each sign-up
        if not store.sign_up(address, name, values, f"sign-up form from {client}"):
            return
        if not self.per_address.allow(suppression_key(address)):
            log.info("confirmation not sent: rate limit for one address (client %s)", client)
            return
        token = self._token(CONFIRM, address, self.config.service.confirm_hours)
        if self.mailer is not None and not self.mailer.send(
            address, name, self._link("confirm/" + token), self.clock()
        ):
            log.warning("the confirmation email was not accepted by the transport")

    def on_confirm(self, request: Request, token: str) -> Response:
        secrets, now = self.secrets, self.clock()
        claim = read_token(secrets.key, CONFIRM, secrets.list_id, token, now)
        if claim is None:
            expired = is_expired(secrets.key, CONFIRM, secrets.list_id, token, now)
            return self.error(request, 400, "Link not valid", _EXPIRED if expired else _BAD_LINK)
        masked = mask(claim.address)
        if request.method == "GET":
            return self.page(request, "confirm", masked=masked, action=token)
        issued = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(claim.issued))
        detail = f"confirmed from {self.client(request)} with the link emailed at {issued}Z"
        if not self.store().confirm(claim.address, _iso(claim.issued), detail):
            return self.error(request, 400, "Cannot confirm", _CANNOT)
        return self.page(request, "confirmed", masked=masked)


def _form(request: Request, allowed: tuple[str, ...]) -> tuple[dict[str, str], str | None]:
    """The sign-up form's values (email, name, allowed fields) and what is wrong with them."""
    values = {k: request.form.get(k, "").strip() for k in ("email", "name", *allowed)}
    if any(len(v) > MAX_FIELD for v in values.values()) or fields_problem(values):
        return values, "Please keep each field to one short line."
    if not values["email"] or address_problem(values["email"]):
        return values, "Please enter a valid email address, like name@example.com."
    return {k: v for k, v in values.items() if v or k == "email"}, None


def _iso(seconds: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000000+00:00", time.gmtime(seconds))


_BAD_UNSUBSCRIBE = (
    "This unsubscribe link is not complete or not ours. Open the link from the email"
    " again (copy all of it), or reply to the email and ask to be removed."
)
_BAD_LINK = "This link is not complete or not ours. Open it from the email again."
_EXPIRED = "This link has expired. Please sign up again to get a new one."
_CANNOT = "This address cannot be subscribed with this link. Please sign up again."
_SLOW_DOWN = "Too many sign-ups from your network. Please wait a minute and try again."
_PLAIN = {404: "There is nothing here.", 405: "That is not how this page is used."}
