"""The issue a send delivers: rendered from its sources, checked against the built site,
and turned into a message template ready to be personalised."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from briefing.config import Config
from briefing.errors import SendError, relative
from briefing.model import Issue, Publication
from briefing.render.context import IssueView
from briefing.render.email import render_email
from briefing.render.review import review_html
from briefing.render.text import render_text
from briefing.render.theme import Theme
from briefing.send.dkim_signing import make_signer
from briefing.send.message import MessageTemplate, Sender
from briefing.site import EMAIL_HTML, EMAIL_TEXT


@dataclass(frozen=True)
class PreparedIssue:
    issue: Issue
    html: str
    text: str


def prepare_issue(publication: Publication, slug: str, site: Path) -> PreparedIssue:
    """Render the issue from its sources and insist it matches what `build` published:
    the editor reviewed the built email, and the web version the email links to must exist."""
    config = publication.config
    issue = publication.issue(slug)
    if issue is None:
        known = ", ".join(i.slug for i in publication.issues[:5])
        raise SendError(f"no issue with the slug '{slug}'; recent issues: {known}")
    if issue.draft:
        raise SendError(
            f"{relative(issue.folder / 'issue.md', config.root)}: '{slug}' is a draft"
            " (draft: true); remove that line, build and review it, then send"
        )
    view = IssueView(issue, config.publication.base_url)
    theme = Theme.load(publication.config)
    html, text = render_email(publication, view, theme), render_text(publication, view, theme)
    for output, fresh in ((EMAIL_HTML, html), (EMAIL_TEXT, text)):
        path = site / output.path(slug=slug)
        shown = relative(path, config.root)
        if not path.is_file():
            raise SendError(
                f"{shown} does not exist: run `briefing build` and review the issue"
                " before sending it"
            )
        if output is EMAIL_HTML:  # the site holds the review copy (render/review.py)
            fresh = review_html(fresh, config.publication.base_url)
        if path.read_text(encoding="utf-8") != fresh:
            raise SendError(
                f"{relative(issue.folder, config.root)} changed since {shown} was"
                " built: run `briefing build` and review it again, then send"
            )
    return PreparedIssue(issue, html, text)


def make_template(
    config: Config, prepared: PreparedIssue, secret: bytes, test: bool = False
) -> MessageTemplate:
    email = config.email
    sender = Sender(
        email.sender,
        email.reply_to,
        email.list_id,
        email.unsubscribe_url,
        email.unsubscribe_mailto,
        config.domain,
        config.bounces.address,
    )
    return MessageTemplate(
        prepared.issue.slug,
        prepared.issue.title,
        prepared.html,
        prepared.text,
        sender,
        secret,
        test=test,
        sign=make_signer(config),
    )
