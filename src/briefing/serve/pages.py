"""The service's pages, rendered in the publication's theme (service/page.html.j2)."""

from __future__ import annotations

from dataclasses import dataclass

from briefing.config import Config
from briefing.render.theme import Theme
from briefing.render.web import icon_suffix
from briefing.site import ATOM, FAVICON, INDEX, JSON_FEED, RSS

PAGE = "service/page.html.j2"
HEADINGS = {
    "unsubscribe": "Unsubscribe",
    "unsubscribed": "You are unsubscribed",
    "resubscribe": "Subscribe again",
    "resubscribed": "Welcome back",
    "subscribe": "Subscribe",
    "check-email": "Check your email",
    "confirm": "Confirm your subscription",
    "confirmed": "You are subscribed",
}


@dataclass(frozen=True)
class PageUrls:
    """What web/base.html.j2 links to: the service's own stylesheet (relative, so it
    works behind a proxy under any prefix) and the published site's pages and feeds."""

    home: str
    stylesheet: str
    rss: str
    atom: str
    json_feed: str


class Pages:
    def __init__(self, config: Config, theme: Theme) -> None:
        self.config, self.theme = config, theme
        base = config.publication.base_url
        self._absolute = {
            "home": INDEX.absolute(base),
            "rss": RSS.absolute(base),
            "atom": ATOM.absolute(base),
            "json_feed": JSON_FEED.absolute(base),
        }
        icon = config.site.favicon  # the published site's icon, by its absolute URL
        self._favicon = FAVICON.absolute(base, ext=icon_suffix(icon)) if icon else ""

    def urls(self, to_root: str) -> PageUrls:
        return PageUrls(stylesheet=to_root + "style.css", **self._absolute)

    def render(self, page: str, to_root: str, **context: object) -> str:
        """One page; to_root is the relative way from its URL to the service's root."""
        urls = self.urls(to_root)
        values: dict[str, object] = {
            "pub": self.config.publication,
            "urls": urls,
            "absolute_urls": urls,
            "root": to_root,
            "page": page,
            "heading": HEADINGS.get(page, "Error"),
            "masked": "",
            "action": "",
            "message": "",
            "signup_action": "",
            "signup_values": {},
            "signup_error": "",
            "signup_fields": self.config.service.fields,
            "favicon": self._favicon,
        }
        return self.theme.render(PAGE, **(values | context))

    def stylesheet(self) -> str:
        return self.theme.read("web/style.css")
