"""Segments against an audience store of a few thousand subscribers: an issue's
`audience:`, `send --where`, the dry-run count, `check` on an empty segment, and two
sends of one issue to overlapping segments never mailing anyone twice."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from click.testing import CliRunner

from briefing.audience.access import open_store
from briefing.audience.tags import retag
from briefing.audience.transfer import import_rows
from briefing.build import build
from briefing.cli import cli
from briefing.config import load_config
from briefing.segment import FieldRule, Segment, parse_where, tag_set
from briefing.send.ledger import open_ledger
from briefing.send.service import SendRequest, SendService
from briefing.send.states import DeliveryState

SECRET = "segment-tests-unsubscribe-secret"
SLUG = "trump-xi-call"
COUNT = 3000
COUNTRIES = ("DE", "FR", "US", "JP", "BR")
TAGS = ("trade", "markets", "paused", "china")


def _fields(n: int) -> dict[str, str]:
    tags = [t for i, t in enumerate(TAGS) if n % (i + 2) == 0]
    return {"country": COUNTRIES[n % len(COUNTRIES)], "tags": ", ".join(tags)}


@pytest.fixture
def project(example: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("BRIEFING_UNSUBSCRIBE_SECRET", SECRET)
    monkeypatch.setenv("CI", "1")
    (example / "subscribers.csv").write_text("email,name\n")  # the store is the list
    rows = [(f"reader{n:04d}@example.com", f"Reader {n}", _fields(n)) for n in range(COUNT)]
    with open_store(load_config(example)) as store:
        import_rows(store, rows, "test", reactivate=False)
    build(example, jobs=1)
    return example


def _expected(*segments: Segment) -> set[str]:
    return {
        f"reader{n:04d}@example.com"
        for n in range(COUNT)
        if all(s.matches(_fields(n)) for s in segments)
    }


def _request(**options: object) -> SendRequest:
    fields = {f.name for f in dataclasses.fields(SendRequest)}
    confirmed = {"yes": True} if "yes" in fields else {}  # the gate's warnings accepted
    return SendRequest(SLUG, transport="outbox", **confirmed, **options)  # type: ignore[arg-type]


def test_segment_rules() -> None:
    segment = Segment(
        ("trade", "china"), ("markets",), ("paused",), (FieldRule("country", ("de", "FR")),)
    )
    assert segment.matches({"tags": "Trade markets", "country": "DE"})
    assert not segment.matches({"tags": "trade, markets, paused", "country": "DE"})
    assert not segment.matches({"tags": "china", "country": "DE"})  # not all of markets
    assert not segment.matches({"tags": "trade markets", "country": "US"})
    assert parse_where(["tags_any=trade,china", "country=DE"]) == Segment(
        tags_any=("trade", "china"), fields=(FieldRule("country", ("DE",)),)
    )
    with pytest.raises(ValueError, match="is not NAME=VALUE"):
        parse_where(["country"])
    assert tag_set(" a, b;c  d ") == {"a", "b", "c", "d"}


def test_overlapping_sends_of_one_issue_never_double(project: Path) -> None:
    service = SendService.open(project)
    trade = parse_where(["tags_any=trade"])
    germany = parse_where(["country=DE,FR"])
    planned = service.plan(_request(where=("tags_any=trade",)))
    plan = planned[0] if isinstance(planned, tuple) else planned  # (summary, gate report)
    assert plan.listed == len(_expected(trade))  # the --dry-run count

    first = service.run(_request(where=("tags_any=trade",)))
    assert first.tally.sent == len(_expected(trade))
    second = service.run(_request(where=("country=DE,FR",)))
    both = _expected(trade) & _expected(germany)
    assert second.plan.already_sent == len(both)
    assert second.tally.sent == len(_expected(germany) - _expected(trade))
    with open_ledger(service.config) as ledger:
        states = ledger.states(SLUG)
    sent = {k for k, v in states.items() if v == DeliveryState.SENT}
    assert (
        len(sent)
        == first.tally.sent + second.tally.sent
        == len(_expected(trade) | _expected(germany))
    )
    assert len(list((project / "outbox" / SLUG).glob("*.eml"))) == len(sent)


def test_an_issues_audience_and_the_cli_count(project: Path) -> None:
    index = next((project / "issues").glob(f"*-{SLUG}/issue.md"))
    audience = (
        "audience:\n  tags_any: [china]\n  tags_none: [paused]\n  fields:\n    country: [DE, US]\n"
    )
    index.write_text(index.read_text().replace("---\n", "---\n" + audience, 1))
    build(project, jobs=1)
    segment = Segment(("china",), (), ("paused",), (FieldRule("country", ("DE", "US")),))
    expected = _expected(segment)
    assert 0 < len(expected) < COUNT // 5
    dry = CliRunner().invoke(cli, ["--project", str(project), "send", SLUG, "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert f"subscribers listed: {len(expected)}" in dry.output
    assert "Segment: tags any of china; tags none of paused; country in DE, US" in dry.output
    narrowed = CliRunner().invoke(
        cli, ["--project", str(project), "send", SLUG, "--dry-run", "--where", "tags_all=trade"]
    )
    assert f"subscribers listed: {len(expected & _expected(parse_where(['tags_all=trade'])))}" in (
        narrowed.output
    )
    bad = CliRunner().invoke(cli, ["--project", str(project), "send", SLUG, "--where", "x"])
    assert bad.exit_code == 1 and "--where: 'x' is not NAME=VALUE" in bad.output
    summary = SendService.open(project).run(_request())
    assert summary.tally.sent == len(expected)


def test_check_flags_a_segment_that_matches_nobody(project: Path) -> None:
    index = next((project / "issues").glob(f"*-{SLUG}/issue.md"))
    index.write_text(
        index.read_text().replace("---\n", "---\naudience:\n  tags_all: [nobody]\n", 1)
    )
    result = CliRunner().invoke(cli, ["--project", str(project), "check", SLUG])
    assert "segment: the audience (tags all of nobody) matches none of the" in result.output
    with open_store(load_config(project)) as store:
        assert retag(store, ["reader0001@example.com", "ghost@example.com"], ["nobody"], []) == [
            "ghost@example.com"
        ]
        assert store.get("reader0001@example.com").fields["tags"] == "nobody"  # type: ignore[union-attr]
    result = CliRunner().invoke(cli, ["--project", str(project), "check", SLUG])
    assert "segment:" not in result.output


def test_tags_come_from_an_imported_column_and_audience_tag(project: Path) -> None:
    csv = project / "more.csv"
    csv.write_text("email,name,tags,country\nnew1@example.com,New One,Trade; china,JP\n")
    run = CliRunner().invoke(cli, ["--project", str(project), "audience", "import", str(csv)])
    assert run.exit_code == 0, run.output
    tagged = CliRunner().invoke(
        cli,
        ["--project", str(project), "audience", "tag", "new1@example.com", "--add", "Paused"],
    )
    assert tagged.exit_code == 0 and "Tagged 1 subscriber(s)." in tagged.output
    with open_store(load_config(project)) as store:
        member = store.get("new1@example.com")
    assert member is not None and tag_set(member.fields["tags"]) == {"trade", "china", "paused"}
    where = ["--where", "country=jp", "--where", "tags_all=china,trade"]
    dry = CliRunner().invoke(cli, ["--project", str(project), "send", SLUG, "--dry-run", *where])
    assert "subscribers listed: 1" in dry.output, dry.output
