"""The sign-up form in the built site: on the index, every issue page and subscribe/,
posting to the service; absent without a [service] url, and `check` says so."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from lxml import html

from briefing.build import build
from briefing.cli import cli

from service_process import set_service


def _forms(page: Path) -> list[html.HtmlElement]:
    return html.fromstring(page.read_text()).xpath("//form[@class='signup']")


def test_the_site_has_a_sign_up_form_posting_to_the_service(example: Path) -> None:
    set_service(example, 'url = "https://list.example.com/"\nfields = ["city"]')
    build(example, jobs=1)
    site = example / "site"
    pages = [site / "index.html", site / "subscribe/index.html"]
    pages += sorted(site.glob("issues/*/index.html"))
    assert len(pages) == 5
    for page in pages:
        [form] = _forms(page)
        assert form.get("action") == "https://list.example.com/subscribe"
        assert form.get("method") == "post"
        names = [i.get("name") for i in form.xpath(".//input")]
        assert names == ["email", "name", "city", "website"]  # website: the honeypot
        assert form.xpath(".//input[@name='email']")[0].get("type") == "email"
    check = CliRunner().invoke(cli, ["--project", str(example), "check"])
    assert "note: email.unsubscribe_url does not point at the service" in check.output
    # Rendering reads no clock: a second build writes the same bytes.
    before = {p: p.read_bytes() for p in pages}
    build(example, jobs=1, clean=True)
    assert {p: p.read_bytes() for p in pages} == before


def test_without_a_service_there_is_no_form_and_check_says_so(example: Path) -> None:
    set_service(example, "")
    build(example, jobs=1)
    site = example / "site"
    assert not (site / "subscribe").exists()
    assert all(not _forms(p) for p in [site / "index.html", *site.glob("issues/*/index.html")])
    result = CliRunner().invoke(cli, ["--project", str(example), "check"])
    assert "note: no [service] url: the site has no sign-up form" in result.output
    assert result.exit_code == 0
