"""`check`'s rules for what must never reach a subscriber (issue 10), on the model and the
configuration: text left from a scaffold, two articles with one number, a placeholder
postal address or From. check.py runs them with its other rules; the pre-send gate
(send/gate.py) refuses a send on any of them (config.GATE_RULES).

Each rule yields (file, line, rule, message); check.py makes them Findings.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from email.utils import parseaddr
from pathlib import Path

from briefing.config import CONFIG_NAME, Config
from briefing.errors import relative
from briefing.model import Issue, Markdown
from briefing.placeholders import (
    placeholder_domain,
    skeleton_phrase,
    skeleton_values,
    starter_postal_address,
)

Found = tuple[str, int, str, str]  # file, line, rule, message
_NUMBER = re.compile(r"^(\d+)-")


def issue_rules(issue: Issue, root: Path) -> Iterator[Found]:
    yield from scaffold_left(issue, root)
    yield from article_numbers(issue, root)


def scaffold_left(issue: Issue, root: Path) -> Iterator[Found]:
    """A skeleton value still in the front matter, or scaffold/filler text in a body."""
    skeleton = skeleton_values()
    index = issue.folder / "issue.md"
    sources: list[tuple[Path, Markdown, dict[str, str]]] = [
        (index, issue.note, {"title": issue.title, "preheader": issue.preheader})
    ]
    for article in issue.articles:
        values = {"headline": article.headline, "dek": article.dek}
        for n, point in enumerate(article.key_points):
            values[f"key_points {n + 1} label"] = point.label
            values[f"key_points {n + 1} text"] = point.text
        sources.append((article.path, article.body, values))
    for path, body, values in sources:
        label = relative(path, root)
        for name, value in values.items():
            if value in skeleton:
                yield (
                    label,
                    _key_line(path, name.split()[0]),
                    "scaffold",
                    f"{name}: '{value}' is the skeleton's text from `briefing new`;"
                    " write your own, or delete the file if it is a leftover",
                )
        for offset, line in enumerate(body.text.split("\n")):
            if phrase := skeleton_phrase(line):
                yield (
                    label,
                    body.first_line + offset,
                    "scaffold",
                    f"'{phrase}' is placeholder text; replace it, or delete the file"
                    " if it is a leftover",
                )


def article_numbers(issue: Issue, root: Path) -> Iterator[Found]:
    """Articles are ordered by their number: two with one number have no order (and one
    is usually a skeleton left beside the real story)."""
    seen: dict[int, Path] = {}
    for article in issue.articles:
        match = _NUMBER.match(article.path.name)
        if not match:
            continue
        number = int(match.group(1))
        if number in seen:
            yield (
                relative(article.path, root),
                1,
                "article-number",
                f"{seen[number].name} has the number {match.group(1)} too; renumber one"
                " or delete a leftover",
            )
        else:
            seen[number] = article.path


def sender_rules(config: Config) -> Iterator[Found]:
    """The footer's postal address and the From address as `briefing init` left them."""
    email = config.email
    starter = starter_postal_address()
    if not email.postal_address.strip() or (starter and email.postal_address == starter):
        yield (
            CONFIG_NAME,
            _key_line(config.root / CONFIG_NAME, "postal_address"),
            "placeholder-address",
            "email.postal_address is a placeholder; the law in most places asks for"
            " your real postal address in every email",
        )
    domain = parseaddr(email.sender)[1].rpartition("@")[2]
    if placeholder_domain(domain):
        yield (
            CONFIG_NAME,
            _key_line(config.root / CONFIG_NAME, "from"),
            "placeholder-from",
            f"email.from is at {domain}, an example domain that receives no mail;"
            " use your own address",
        )


def _key_line(path: Path, key: str) -> int:
    try:
        lines = path.read_text("utf-8").split("\n")
    except OSError:
        return 1
    for number, line in enumerate(lines, start=1):
        if re.match(rf"\s*-?\s*{re.escape(key)}\s*[:=]", line):
            return number
    return 1
