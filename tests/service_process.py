"""`briefing serve` as a real subprocess on loopback, and a small HTTP client for it."""

from __future__ import annotations

import http.client
import os
import subprocess
import sys
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from urllib.parse import urlencode, urlsplit

SECRET = "test-secret-0123456789"
LIST_ID = "The Briefing <briefing.example.com>"


def set_service(root: Path, table: str) -> None:
    """Replace the [service] table of root/briefing.toml with table (its keys)."""
    toml = root / "briefing.toml"
    lines, out, skipping = toml.read_text().splitlines(), [], False
    for line in lines:
        if line.startswith("["):
            skipping = line.strip() == "[service]"
        if not skipping:
            out.append(line)
    toml.write_text("\n".join(out) + "\n\n[service]\n" + table.strip() + "\n")


@dataclass
class Reply:
    status: int
    headers: Message
    body: str


class Service:
    """Started with `briefing --project ROOT serve --bind 127.0.0.1:0`; the port is read
    from the line it prints once listening (waiting on that, not on a sleep)."""

    def __init__(self, root: Path, *args: str) -> None:
        env = {**os.environ, "BRIEFING_UNSUBSCRIBE_SECRET": SECRET}
        bind = ["--bind", "127.0.0.1:0"]
        self.process = subprocess.Popen(
            [sys.executable, "-m", "briefing", "--project", str(root), "serve", *bind, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if " on http://" not in line:
            self.process.kill()
            raise RuntimeError(f"serve did not start: {line}{self.process.stderr.read()}")  # type: ignore[union-attr]
        url = urlsplit(line.split(" on ")[1].split()[0])
        self.host, self.port = url.hostname or "", url.port or 0

    def stop(self) -> str:
        """Stop it (SIGTERM: a clean stop); return what it wrote to stderr."""
        self.process.terminate()
        out, err = self.process.communicate(timeout=10)
        assert self.process.returncode == 0 and "Stopped." in out, (out, err)
        return err

    def request(
        self,
        method: str,
        path: str,
        form: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        body: bytes | None = None,
    ) -> Reply:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=10)
        try:
            sent = dict(headers or {})
            if form is not None:
                body = urlencode(form).encode()
                sent["Content-Type"] = "application/x-www-form-urlencoded"
            connection.request(method, path, body=body, headers=sent)
            response = connection.getresponse()
            return Reply(response.status, response.headers, response.read().decode())
        finally:
            connection.close()

    def url(self, path: str = "/") -> str:
        return f"http://{self.host}:{self.port}{path}"
