"""The refusals of a list send, as errors the CLI can turn into full commands.

- the gate (send/gate.py) found something that must not go out, or warnings nobody
  confirmed;
- the run would go another way than the first run of the issue (send/route.py);
- the issue was sent before, yet the ledger knows nothing of it: the ledger was lost
  (a throwaway CI runner, a fresh checkout), and sending again would mail everyone twice.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from briefing.config import CONFIG_NAME, Config
from briefing.errors import Problem, SendError, relative
from briefing.inbox.setup import mail_back
from briefing.send.gate import GateReport, describe
from briefing.send.route import Route

if TYPE_CHECKING:
    from briefing.send.service import SendRequest


class GateRefused(SendError):
    def __init__(self, report: GateReport, lines: list[str]) -> None:
        self.report = report
        super().__init__([Problem("", line) for line in lines])


def refuse(report: GateReport, request: SendRequest) -> None:
    """Raise unless the gate lets the send start: no refusal, and every warning either
    accepted in briefing.toml or confirmed (request.yes)."""
    if report.blockers:
        lines = describe(GateReport(report.blockers))
        lines.append(f"{len(report.blockers)} finding(s) above refuse the send; nothing was sent")
        raise GateRefused(report, lines)
    if report.warnings and not request.yes:
        lines = describe(report)
        lines.append(
            f"{len(report.warnings)} warning(s) above: confirm on a terminal, pass --yes, or"
            f" accept them in {CONFIG_NAME} ([check] allow = [...]); nothing was sent"
        )
        raise GateRefused(report, lines)


class RouteChanged(SendError):
    """A rerun that would go another way; the CLI adds the command that resumes."""

    def __init__(self, slug: str, then: Route, now: Route, found: list[str]) -> None:
        self.slug, self.then, self.now, self.found = slug, then, now, found
        super().__init__(
            f"'{slug}' was first sent another way: {'; '.join(found)}. Resume it as it"
            " started, or ask for the change (change_route / --change-route); nothing was sent"
        )


class SentBefore(SendError):
    def __init__(self, slug: str, evidence: list[str]) -> None:
        self.slug, self.evidence = slug, evidence
        super().__init__(
            f"'{slug}' was sent before ({'; '.join(evidence)}) but the ledger has no record"
            " of it: restore the ledger from where the first send ran (see the README,"
            " 'Where the ledger lives'), or pass --ledger-lost to send to everyone again;"
            " nothing was sent"
        )


def sent_before(config: Config, request: SendRequest) -> None:
    """Refuse a first run (no ledger rows) of an issue that shows signs of a send."""
    if request.ledger_lost:
        return
    evidence = []
    outbox = config.root / config.send.outbox / request.slug
    if outbox.is_dir() and (count := sum(1 for _ in outbox.glob("*.eml"))):
        evidence.append(f"{relative(outbox, config.root)}/ holds {count} message(s)")
    back = mail_back(config, request.slug)
    if back:
        shown = ", ".join(f"{n} {kind}" for kind, n in sorted(back.items()))
        evidence.append(f"the audience store recorded mail of it coming back: {shown}")
    if evidence:
        raise SentBefore(request.slug, evidence)
