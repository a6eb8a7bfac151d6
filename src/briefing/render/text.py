"""The plain-text twin, rendered from the model through the theme's email.txt.j2."""

from __future__ import annotations

from dataclasses import dataclass

from briefing.merge import placeholder
from briefing.model import Publication
from briefing.render.context import IssueView
from briefing.render.plaintext import TextRenderer
from briefing.render.theme import Theme

TEMPLATE = "email.txt.j2"
WIDTH = 72


@dataclass(frozen=True)
class TextArticle:
    headline: str
    meta: str
    dek: str
    key_points_title: str
    key_points: list[str]
    body: str
    source_url: str


def render_text(publication: Publication, view: IssueView, theme: Theme) -> str:
    config = publication.config
    text = TextRenderer(WIDTH, view.url)
    note = text.render(view.note_tokens)  # first, so its links are numbered first
    articles = []
    for article, tokens in zip(view.issue.articles, view.article_tokens, strict=True):
        meta = " · ".join(x for x in (article.source, article.dateline, article.edition) if x)
        articles.append(
            TextArticle(
                headline=text.wrap(article.headline),
                meta=text.wrap(meta + (f" · By {article.byline}" if article.byline else "")),
                dek=text.wrap(text.inline(article.dek)),
                key_points_title=article.key_points_title or "Key points",
                key_points=[
                    text.wrap(f"{text.inline(p.label)}: {text.inline(p.text)}", "- ", "  ")
                    for p in article.key_points
                ],
                body=text.render(tokens),
                source_url=article.source_url,
            )
        )
    result = theme.render(
        TEMPLATE,
        pub=config.publication,
        issue=view.issue,
        view=view,
        note=note,
        articles=articles,
        links=list(enumerate(text.links, 1)),
        unsubscribe_url=placeholder("unsubscribe_url"),
        reason=text.wrap(config.email.reason.format(title=config.publication.title)),
        postal_address=text.wrap(config.email.postal_address),
        rule="-" * WIDTH,
    )
    return result.replace("\r\n", "\n")
