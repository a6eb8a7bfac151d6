"""`briefing preview` as a server: any failed rebuild shows in the page and the server goes
on; the socket is bound before the first build; only Host 127.0.0.1/localhost is
answered; bad paths are 404s; the reload listeners are bounded."""

from __future__ import annotations

import http.client
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import briefing.preview as preview_module
from briefing.errors import BriefingError
from briefing.preview import Preview, dashboard, serve


def _quiet(line: str) -> None:
    pass


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Preview]]:
    """One preview of a copy of the example, shared by the tests that only read from it."""
    from conftest import copy_example

    example = copy_example(tmp_path_factory.mktemp("preview"))
    server, preview = serve(example, example / "site", 0, _quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], preview
    preview.stop.set()
    server.shutdown()
    server.server_close()


def _get(port: int, path: str, host: str | None = None) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.putrequest("GET", path, skip_host=True)
    connection.putheader("Host", host if host is not None else f"127.0.0.1:{port}")
    connection.endheaders()
    response = connection.getresponse()
    body = response.read()
    connection.close()
    return response.status, body


def test_a_rebuild_that_raises_shows_in_the_page_and_the_next_one_recovers(
    example: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    preview = Preview(example, example / "site", _quiet)
    preview.rebuild()
    assert preview.state.errors == []
    real_build = preview_module.build

    def broken(*args: object, **kwargs: object) -> object:
        raise RuntimeError("the renderer tripped")

    monkeypatch.setattr(preview_module, "build", broken)
    preview.rebuild()  # must not raise
    assert preview.state.errors == [
        "RuntimeError: the renderer tripped (briefing --debug preview shows the traceback)"
    ]
    page = dashboard(preview, "")
    panel = page[page.index('<section class="errors">') :]
    assert "The last build failed" in panel and "the renderer tripped" in panel
    assert "iframe" in page  # the previous build still shows below
    monkeypatch.setattr(preview_module, "build", real_build)
    preview.rebuild()
    assert preview.state.errors == []
    assert '<section class="errors">' not in dashboard(preview, "")


def test_the_watcher_survives_a_rebuild_that_raises(
    example: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The attack: the first unexpected error killed the rebuild thread for good."""
    import watchfiles

    calls: list[str] = []

    def build_twice(*args: object, **kwargs: object) -> object:
        calls.append("build")
        if len(calls) == 1:
            raise TypeError("Image.__init__() missing 1 required positional argument")
        return real_build(*args, **kwargs)

    def two_changes(*paths: Path, **kwargs: object) -> Iterator[set[tuple[int, str]]]:
        yield {(2, "issue.md")}
        yield {(2, "issue.md")}

    real_build = preview_module.build
    monkeypatch.setattr(preview_module, "build", build_twice)
    monkeypatch.setattr(watchfiles, "watch", two_changes)
    preview = Preview(example, example / "site", _quiet)
    preview.watch()
    assert calls == ["build", "build"]
    assert preview.state.version == 2 and preview.state.errors == []


def test_the_socket_is_bound_before_the_first_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    built: list[Path] = []
    monkeypatch.setattr(preview_module, "build", lambda root, site: built.append(root))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(OSError):
            serve(tmp_path, tmp_path / "site", taken.getsockname()[1], _quiet)
    assert built == []  # a port in use is told before any build runs


def test_a_project_that_does_not_load_is_shown_not_reported_as_a_port(tmp_path: Path) -> None:
    server, preview = serve(tmp_path, tmp_path / "site", 0, _quiet)
    try:
        assert preview.state.errors and "briefing.toml" in preview.state.errors[0]
    finally:
        preview.stop.set()
        server.server_close()


@pytest.mark.parametrize("site", [".", "..", "issues"])
def test_preview_never_serves_the_project_folder(example: Path, site: str) -> None:
    with pytest.raises(BriefingError, match="refusing to build into"):
        serve(example, (example / site).resolve(), 0, _quiet)


@pytest.mark.parametrize(
    "host", ["evil.example", "evil.example:{port}", "127.0.0.1.nip.io:{port}", "localhost:1", ""]
)
def test_only_local_host_names_are_answered(running: tuple[int, Preview], host: str) -> None:
    port, _ = running
    status, _ = _get(port, "/site/index.html", host.format(port=port))
    assert status == 403


@pytest.mark.parametrize("host", ["127.0.0.1:{port}", "localhost:{port}", "LOCALHOST", "127.0.0.1"])
def test_local_host_names_are_answered(running: tuple[int, Preview], host: str) -> None:
    port, _ = running
    status, body = _get(port, "/site/index.html", host.format(port=port))
    assert status == 200 and b"<html" in body


@pytest.mark.parametrize(
    "path",
    [
        "/site/%00",
        "/site/index.html%00.txt",
        "/site/%ff%fe",
        "/site/" + "a" * 5000,
        "/site/..%2f..%2fbriefing.toml",
        "/dark/site/%2e%2e/%2e%2e/briefing.toml",
    ],
)
def test_bad_paths_are_not_found_and_the_server_goes_on(
    running: tuple[int, Preview], path: str
) -> None:
    port, _ = running
    status, _ = _get(port, path)
    assert status in (400, 404)
    assert _get(port, "/site/index.html")[0] == 200


def test_reload_listeners_are_bounded(running: tuple[int, Preview]) -> None:
    port, _ = running
    bound = preview_module.MAX_EVENT_CLIENTS
    open_streams = []
    try:
        for _ in range(bound):
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            connection.request("GET", preview_module.EVENTS)
            response = connection.getresponse()
            assert response.status == 200
            assert response.readline().startswith(b"data: ")  # registered and streaming
            open_streams.append(connection)
        status, _ = _get(port, preview_module.EVENTS)
        assert status == 503
    finally:
        for connection in open_streams:
            connection.close()
