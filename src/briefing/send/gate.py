"""The pre-send gate: `check`'s rules on exactly what a send is about to deliver.

Before the first message of a list send, every rule of `check` runs on the issue,
plus the rules only a send can judge: the unsubscribe link in the very HTML and text
that go out, and each merge field against the audience it goes to (a column nobody
has; no fallback where some subscriber has no value). Findings of the rules in
config.GATE_RULES refuse the send; the others are warnings the editor confirms (or
accepts in briefing.toml's [check] allow). Test copies run the gate too, and only warn.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

from briefing.check import UNSUBSCRIBE, Finding, allowed, check
from briefing.config import GATE_RULES
from briefing.errors import relative
from briefing.merge import PLACEHOLDER, email_fallback
from briefing.model import Publication
from briefing.render.email import TEMPLATE as EMAIL_TEMPLATE
from briefing.render.theme import Theme
from briefing.send.audience import Subscriber
from briefing.send.prepare import PreparedIssue

# Filled by the send for every recipient whatever the audience holds.
ALWAYS = {"unsubscribe_url", "email"}


@dataclass(frozen=True)
class GateReport:
    blockers: list[Finding] = field(default_factory=list)
    warnings: list[Finding] = field(default_factory=list)
    accepted: list[Finding] = field(default_factory=list)  # by [check] allow


def run_gate(
    publication: Publication,
    prepared: PreparedIssue,
    subscribers: Collection[Subscriber] | None,
    audience: str,
) -> GateReport:
    """Findings for the issue as prepared; subscribers None: no audience to judge (test
    copies to addresses only). audience: how to name the list in messages."""
    config = publication.config
    findings = set(check(publication, [prepared.issue.slug]))
    theme = Theme.load(config)
    findings |= set(_unsubscribe(prepared, theme, findings))
    if subscribers:
        findings |= set(_merge_fields(prepared, subscribers, audience, theme, config.root))
    report = GateReport()
    for finding in sorted(findings):
        if finding.rule in GATE_RULES:
            report.blockers.append(finding)
        elif allowed(finding, config.check.allow):
            report.accepted.append(finding)
        else:
            report.warnings.append(finding)
    return report


def _unsubscribe(prepared: PreparedIssue, theme: Theme, known: set[Finding]) -> list[Finding]:
    """The unsubscribe link, looked for in the parts that go out (check looks at what it
    rendered itself: the same, as prepare insists, but this is what is sent)."""
    if any(f.rule == "unsubscribe" for f in known):
        return []
    found = []
    if f'href="{UNSUBSCRIBE}"' not in prepared.html:
        label = theme.label(theme.path(EMAIL_TEMPLATE))
        found.append(Finding(label, 1, "unsubscribe", "the email has no unsubscribe link"))
    if UNSUBSCRIBE not in prepared.text:
        label = theme.label(theme.path("email.txt.j2"))
        found.append(Finding(label, 1, "unsubscribe", "the text part has no unsubscribe link"))
    return found


def _merge_fields(
    prepared: PreparedIssue,
    subscribers: Collection[Subscriber],
    audience: str,
    theme: Theme,
    root: Path,
) -> list[Finding]:
    used: dict[str, str] = {}  # field → its email fallback ("" when none)
    for part in (prepared.issue.title, prepared.html, prepared.text):
        for match in PLACEHOLDER.finditer(part):
            name, fallback = match.group(1), email_fallback(match.group(2))
            if name not in ALWAYS:
                used[name] = used.get(name) or fallback
    # The pass below finds the columns anyone has and who lacks a value: a field that
    # is always a column (name) and has a fallback needs neither, so no pass.
    if all(name == "name" and fallback for name, fallback in used.items()):
        return []
    # One pass over the audience for every field (it may be a file read again per pass):
    # the columns anyone has, and per field how many lack it and the first who does.
    columns = {"name"}
    lacking: Counter[str] = Counter()
    first: dict[str, str] = {}
    total = 0
    for subscriber in subscribers:
        total += 1
        columns.update(subscriber.fields)
        for name in used:
            if not _value(subscriber, name):
                lacking[name] += 1
                first.setdefault(name, subscriber.email)
    found = []
    for name, fallback in sorted(used.items()):
        label, line = _locate(name, prepared, theme, root)
        if name not in columns:
            found.append(
                Finding(
                    label,
                    line,
                    "merge-column",
                    f"{{{{ {name} }}}}: {audience} has no '{name}' column; every reader"
                    " would get the fallback (a misspelt field?)",
                )
            )
            continue
        if lacking[name] and not fallback:
            found.append(
                Finding(
                    label,
                    line,
                    "merge-missing",
                    f"{{{{ {name} }}}} has no fallback and {lacking[name]} of"
                    f" {total} subscribers have no {name} (e.g. {first[name]});"
                    f" write {{{{ {name} | fallback text }}}}",
                )
            )
    return found


def _value(subscriber: Subscriber, name: str) -> str:
    return subscriber.name if name == "name" else subscriber.fields.get(name, "")


def _locate(name: str, prepared: PreparedIssue, theme: Theme, root: Path) -> tuple[str, int]:
    """Where the editor wrote the field: the issue's files first, then the email templates."""
    pattern = re.compile(r"\{\{\s*" + re.escape(name) + r"\b")
    issue = prepared.issue
    paths = [issue.folder / "issue.md", *(a.path for a in issue.articles)]
    labels = {p: relative(p, root) for p in paths}
    for name_ in (EMAIL_TEMPLATE, "email.txt.j2"):
        path = theme.path(name_)
        paths.append(path)
        labels[path] = theme.label(path)
    for path in paths:
        try:
            lines = path.read_text(encoding="utf-8").split("\n")
        except OSError:
            continue
        for number, line in enumerate(lines, start=1):
            if pattern.search(line):
                return labels[path], number
    return labels[paths[0]], 1


def describe(report: GateReport) -> list[str]:
    """The findings as check prints them, blockers first."""
    lines = [f"{f} [refused]" for f in report.blockers]
    lines += [f"{f} [warning]" for f in report.warnings]
    return lines
