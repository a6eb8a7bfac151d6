"""How a send goes, remembered by the ledger: a rerun that would go another way is refused.

The first run of an issue records its route: the transport, the relay (or outbox
folder), the audience source (the store, or a subscribers file and its digest) and
the digest of the issue as sent. A later run of that issue that differs in any of
them is refused, naming what differs and the command that resumes as before, unless
the editor asks for the change (`--change-route`). So a deferred SMTP message is never
written into the outbox and marked sent by a rerun that forgot `--transport smtp`.
"""

from __future__ import annotations

import hashlib
import json
import shlex
from dataclasses import asdict, dataclass, replace
from pathlib import Path


@dataclass(frozen=True)
class Route:
    transport: str  # 'outbox' or 'smtp'
    where: str  # the channel for people: outbox/<slug>/ or smtp://host:port (security)
    host: str = ""
    port: int = 0
    security: str = ""
    subscribers: str = ""  # a one-off subscribers file (absolute); '' for the audience store
    audience_digest: str = ""  # sha256 of that file
    issue_digest: str = ""  # sha256 of the subject, HTML and text as sent

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Route:
        values = json.loads(text)
        return cls(**{k: v for k, v in values.items() if k in cls.__dataclass_fields__})

    def with_audience(self, file: Path | None) -> Route:
        """The route to a one-off subscribers file (None: the audience store)."""
        if file is None:
            return self
        return replace(self, subscribers=str(file), audience_digest=file_digest(file))

    @property
    def audience(self) -> str:
        return f"the subscribers file {self.subscribers}" if self.subscribers else "the store"


def digest(*parts: str | bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode("utf-8") if isinstance(part, str) else part)
        h.update(b"\0")
    return h.hexdigest()


def file_digest(path: Path) -> str:
    try:
        return digest(path.read_bytes())
    except OSError:
        return ""


def differences(then: Route, now: Route) -> list[str]:
    """What a run would change, for people ('' when nothing)."""
    found = []
    if (then.transport, then.where) != (now.transport, now.where):
        found.append(f"it went via {then.where}, this run would go via {now.where}")
    if then.subscribers != now.subscribers:
        found.append(f"it went to {then.audience}, this run would go to {now.audience}")
    elif then.audience_digest != now.audience_digest:
        found.append(f"{now.audience} changed since the first run")
    if then.issue_digest != now.issue_digest:
        found.append("the issue changed since the first run (its email differs)")
    return found


def command(slug: str, route: Route, extra: list[str], project: str | None = None) -> str:
    """The full `briefing send` command for a route, every flag spelled out."""
    words = ["briefing"]
    if project:
        words += ["--project", project]
    words += ["send", slug, "--transport", route.transport]
    if route.transport == "smtp":
        words += ["--smtp-host", route.host, "--smtp-port", str(route.port)]
        words += ["--smtp-security", route.security]
    if route.subscribers:
        words += ["--subscribers", route.subscribers]
    return shlex.join([*words, *extra])
