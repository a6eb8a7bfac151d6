"""A real IMAP server for the inbox tests: Dovecot on loopback with a throwaway
configuration, implicit TLS (IMAPS) with a certificate from trustme.

Skips (with the reason) when Debian's dovecot-imapd is not installed; `.ci/run`
installs it. Run as root, mail is owned by Dovecot's own `dovecot` user, as
Dovecot refuses to access mail as root.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import trustme

from smtp_server import free_port

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
USER, PASSWORD = "inbox", "imap-test-password"

CONFIG = """\
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
info_log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = required
ssl_cert = <{root}/cert.pem
ssl_key = <{root}/key.pem
disable_plaintext_auth = yes
auth_mechanisms = plain
default_internal_user = {internal}
default_internal_group = {group}
default_login_user = {internal}
first_valid_uid = 0
mail_location = maildir:{root}/home/%u/Maildir
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    port = {starttls_port}
  }}
  inet_listener imaps {{
    port = {port}
    ssl = yes
  }}
}}
service auth {{
  user = {auth_user}
}}
service auth-worker {{
  user = {auth_user}
}}
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
}}
"""


@dataclass(frozen=True)
class Dovecot:
    port: int  # IMAPS (implicit TLS)
    starttls_port: int  # IMAP with STARTTLS required before login
    ca_file: Path
    maildir: Path  # the user's Maildir, as Dovecot keeps it
    user: str = USER
    password: str = PASSWORD


def _wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"dovecot exited: {log.read_text() if log.exists() else ''}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)  # polling a port that is not open yet: nothing to wait on
    raise RuntimeError("dovecot did not open its port within 20 s")


@contextmanager
def dovecot() -> Iterator[Dovecot]:
    if not os.path.exists(DOVECOT):
        pytest.skip("Dovecot is not installed (Debian: apt-get install dovecot-imapd)")
    root = Path(tempfile.mkdtemp(prefix="briefing-dovecot-"))
    try:
        with _started(root) as server:
            yield server
    finally:
        shutil.rmtree(root, ignore_errors=True)


@contextmanager
def _started(root: Path) -> Iterator[Dovecot]:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cert.private_key_pem.write_to_path(str(root / "key.pem"))
    cert.cert_chain_pems[0].write_to_path(str(root / "cert.pem"))
    ca.cert_pem.write_to_path(str(root / "ca.pem"))
    me = pwd.getpwuid(os.getuid())
    if os.geteuid() == 0:
        owner = pwd.getpwnam("dovecot")
        internal, group, uid, gid = "dovecot", "dovecot", owner.pw_uid, owner.pw_gid
    else:
        internal, group, uid, gid = me.pw_name, str(me.pw_gid), me.pw_uid, me.pw_gid
    maildir = root / "home" / USER / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True, exist_ok=True)
    (root / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}::::::\n")
    port, starttls_port = free_port(), free_port()
    config = root / "dovecot.conf"
    config.write_text(
        CONFIG.format(
            root=root,
            internal=internal,
            group=group,
            uid=uid,
            gid=gid,
            port=port,
            starttls_port=starttls_port,
            auth_user=internal,
        )
    )
    if os.geteuid() == 0:
        os.chmod(root, 0o711)
        for path in [root / "home", *(root / "home").rglob("*")]:
            os.chown(path, uid, gid)
        os.chown(root / "passwd", uid, gid)
    log = root / "dovecot.log"
    process = subprocess.Popen([DOVECOT, "-F", "-c", str(config)], stderr=subprocess.PIPE)
    try:
        _wait_for_port(port, process, log)
        yield Dovecot(port, starttls_port, root / "ca.pem", maildir)
    finally:
        process.terminate()
        process.wait(timeout=10)
