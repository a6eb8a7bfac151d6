"""The review copies of each email in the site: what `send` delivers, safe to publish.

`issues/<slug>/email.html` and `email.txt` are the exact parts `send` fills per
recipient, kept in the site for the editor (preview shows them) and for `send`,
which refuses an issue whose sources no longer render to them. In the deployable
site they are unlisted (not in the sitemap, disallowed in robots.txt, linked from no
page) and valid: the one link that only a recipient can have, the unsubscribe
link, is written in the HTML copy as a link to the archive, marked so the delivered
form can be had back exactly. Every other byte is what subscribers get, merge
fields such as {{ name | reader }} included (text, not links).
"""

from __future__ import annotations

import html
import re

from briefing.site import EMAIL_HTML, Outputs

MARK = 'data-review-copy="unsubscribe_url"'
_DELIVERED = re.compile(r'href="\{\{ ?unsubscribe_url ?\}\}"')


def review_html(delivered: str, base_url: str) -> str:
    """The site's copy of an email's HTML part."""
    return _DELIVERED.sub(f'href="{html.escape(base_url)}" {MARK}', delivered)


def delivered_html(review: str, base_url: str) -> str:
    """The HTML part as `send` delivers it, from the site's copy."""
    return review.replace(f'href="{html.escape(base_url)}" {MARK}', 'href="{{ unsubscribe_url }}"')


def site_copies(outputs: Outputs, base_url: str) -> Outputs:
    """One issue's rendered files as the site holds them (the email HTML as a review copy)."""
    copies = Outputs()
    for path, data in outputs.files.items():
        if EMAIL_HTML.matches(path):
            data = review_html(data.decode("utf-8"), base_url).encode("utf-8")
        copies.add(path, data, outputs.origin(path))
    return copies


def delivered_bytes(path: str, data: bytes, base_url: str) -> bytes:
    """A site file read back, with an email's HTML as delivered (for check)."""
    if not EMAIL_HTML.matches(path):
        return data
    return delivered_html(data.decode("utf-8"), base_url).encode("utf-8")
