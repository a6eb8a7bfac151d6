"""Outputs (path → bytes) and the writer: atomic, write-if-changed, stale files removed."""

from __future__ import annotations

import contextlib
import os
import threading
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from briefing.errors import BriefingError, Problem

MANIFEST = ".briefing-manifest"


class Outputs:
    """Everything a build produces, keyed by site-relative path; two claims on a path fail."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self._origin: dict[str, str] = {}

    def add(self, path: str, data: bytes | str, origin: str) -> None:
        clean = PurePosixPath(path)
        if clean.is_absolute() or ".." in clean.parts or str(clean) != path:
            raise BriefingError(Problem(origin, f"output path '{path}' leaves the site folder"))
        if path in self.files:
            raise BriefingError(
                Problem(
                    origin,
                    f"would write {path}, which {self._origin[path]} already writes;"
                    " rename one of them",
                )
            )
        self.files[path] = data.encode("utf-8") if isinstance(data, str) else data
        self._origin[path] = origin

    def update(self, other: Outputs) -> None:
        for path, data in other.files.items():
            self.add(path, data, other._origin[path])


@dataclass(frozen=True)
class WriteReport:
    written: int
    unchanged: int
    removed: int


def write_site(
    outputs: Outputs, out_dir: Path, clean: bool = False, kept: set[str] | None = None
) -> WriteReport:
    """Write outputs under out_dir.

    Each file is written to a temporary file in its folder and renamed over the
    old one, so a reader never sees half a file. Files whose bytes are unchanged
    are not touched. Files a previous build wrote (the manifest) that this build
    does not produce are removed; with clean, every other file is removed too.
    kept: files this build did not render because they are known to be up to date.
    """
    kept = kept or set()
    out_dir.mkdir(parents=True, exist_ok=True)
    written = unchanged = 0
    for path, data in sorted(outputs.files.items()):
        target = out_dir / path
        if target.is_file() and _same(target, data):
            unchanged += 1
            continue
        atomic_write(target, data)
        written += 1

    manifest = out_dir / MANIFEST
    previous = set(manifest.read_text("utf-8").split("\n")) if manifest.is_file() else set()
    if clean:
        previous |= {str(p.relative_to(out_dir)) for p in out_dir.rglob("*") if not p.is_dir()}
    current = set(outputs.files) | kept
    stale = sorted(previous - current - {MANIFEST, ""})
    for path in stale:
        with contextlib.suppress(FileNotFoundError):
            (out_dir / path).unlink()
    if stale:
        _remove_empty_dirs(out_dir)
    listing = "\n".join(sorted(current)) + "\n"
    if not (manifest.is_file() and _same(manifest, listing.encode())):
        atomic_write(manifest, listing.encode())
    return WriteReport(written, unchanged + len(kept), len(stale))


def _same(path: Path, data: bytes) -> bool:
    return path.stat().st_size == len(data) and path.read_bytes() == data


def atomic_write(target: Path, data: bytes, durable: bool = False, sync_dir: bool = True) -> None:
    """Write via a temporary file and rename; with durable, fsync the file first and the
    folder after (unless sync_dir is False: the caller then calls sync_folder itself).

    The temporary name is fixed per process and thread (mkstemp's random names cost
    twice the time over thousands of files); O_EXCL still refuses a clash.
    """
    tmp = target.parent / f".{target.name}.{os.getpid()}.{threading.get_ident()}.tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileNotFoundError:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:  # left by a killed process that had our pid
        tmp.unlink()
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    if durable and sync_dir:
        sync_folder(target.parent)


def sync_folder(folder: Path) -> None:
    """fsync a folder, so the renames made in it survive a power cut."""
    dir_fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _remove_empty_dirs(root: Path) -> None:
    for folder in sorted((p for p in root.rglob("*") if p.is_dir()), reverse=True):
        with contextlib.suppress(OSError):
            folder.rmdir()  # fails, as wanted, when the folder is not empty
