"""Segments in a send: the audience narrowed to an issue's `audience:` and `--where`.

Narrowing happens before the plan, so the ledger still holds one row per
subscriber and issue: two sends of one issue to overlapping segments never mail
anyone twice (the second skips whoever the first reached).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator
from typing import TYPE_CHECKING

from briefing.config import Config
from briefing.errors import SendError
from briefing.model import Publication
from briefing.segment import Segment, parse_where
from briefing.send.audience import AudienceSource, Passes, Subscriber

if TYPE_CHECKING:
    from briefing.send.service import AudienceOpener, SendRequest


class SegmentAudience:
    """An AudienceSource showing only the subscribers every segment matches."""

    def __init__(self, inner: AudienceSource, segments: list[Segment]) -> None:
        self.inner, self.segments = inner, segments

    def subscribers(self) -> Collection[Subscriber]:
        return Narrowed(self.inner.subscribers(), self.matches)

    def matches(self, subscriber: Subscriber) -> bool:
        return all(segment.matches(subscriber.fields) for segment in self.segments)

    def suppressed(self) -> Collection[str]:
        return self.inner.suppressed()

    def suppress(self, entries: Iterable[tuple[str, str]]) -> list[str]:
        return self.inner.suppress(entries)

    def still_wanted(self, subscriber: Subscriber) -> bool:
        return self.inner.still_wanted(subscriber)


class Narrowed(Passes):
    """The subscribers of a collection that match, found again on each pass (a list of
    them would hold every match at once; see SubscriberRows)."""

    def __init__(self, inner: Collection[Subscriber], keep: Callable[[Subscriber], bool]) -> None:
        self.inner, self.keep = inner, keep
        self._count: int | None = None

    def __iter__(self) -> Iterator[Subscriber]:
        return (s for s in self.inner if self.keep(s))

    def __len__(self) -> int:
        if self._count is None:
            self._count = sum(1 for _ in self)
        return self._count


def segments_of(publication: Publication, request: SendRequest) -> list[Segment]:
    """The issue's audience and the request's --where rules (all must match)."""
    found = []
    issue = publication.issue(request.slug) if request.slug else None
    if issue is not None and issue.audience is not None:
        found.append(issue.audience)
    if request.where:
        try:
            found.append(parse_where(request.where))
        except ValueError as exc:
            raise SendError(f"--where: {exc}") from None
    return found


def segmented(opener: AudienceOpener, publication: Callable[[], Publication]) -> AudienceOpener:
    """opener, narrowed to the segments of each request (the publication loads on use)."""

    def open_audience(config: Config, request: SendRequest) -> AudienceSource:
        inner = opener(config, request)
        if not request.slug and not request.where:
            return inner  # suppress and the like: the whole audience
        segments = segments_of(publication(), request)
        return SegmentAudience(inner, segments) if segments else inner

    return open_audience
