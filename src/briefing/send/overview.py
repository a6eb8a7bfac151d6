"""`briefing status` without a slug: every issue, built or not, sent or not, in one table.

Read from a copy of the ledger (status changes nothing on disk), the built site and
what `briefing inbox` recorded of mail coming back.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path

from briefing.config import Config
from briefing.errors import SendError
from briefing.inbox.setup import mail_back
from briefing.model import Publication
from briefing.send.ledger import Ledger
from briefing.send.route import Route
from briefing.send.states import DeliveryState
from briefing.site import EMAIL_HTML


@dataclass(frozen=True)
class IssueStatus:
    slug: str
    built: bool
    counts: dict[DeliveryState, int] = field(default_factory=dict)
    when: str | None = None  # the last change of a delivery row (UTC)
    where: str | None = None  # the route the ledger remembers
    back: dict[str, int] = field(default_factory=dict)  # bounced, complained… (inbox)

    def count(self, state: DeliveryState) -> int:
        return self.counts.get(state, 0)


def overview(
    config: Config, publication: Publication, ledger: Ledger, site: Path
) -> list[IssueStatus]:
    """Every issue of the publication, newest first, then any the ledger alone knows."""
    known = ledger.issues()
    slugs = [i.slug for i in publication.issues]
    slugs += sorted(set(known) - set(slugs))
    found = []
    for slug in slugs:
        recorded = ledger.route(slug)
        found.append(
            IssueStatus(
                slug,
                (site / EMAIL_HTML.path(slug=slug)).is_file(),
                known.get(slug, {}),
                ledger.last_update(slug) if slug in known else None,
                Route.from_json(recorded).where if recorded else None,
                mail_back(config, slug) if slug in known else {},
            )
        )
    return found


def known_issue(publication: Publication, ledger: Ledger, slug: str) -> None:
    """Refuse a slug that names no issue, with the nearest one (a typo is not 'never sent')."""
    slugs = [i.slug for i in publication.issues] + list(ledger.issues())
    if slug in slugs:
        return
    near = difflib.get_close_matches(slug, slugs, n=1, cutoff=0.5)
    hint = f"; did you mean '{near[0]}'?" if near else "; `briefing status` lists them all"
    raise SendError(f"no such issue '{slug}'{hint}")
