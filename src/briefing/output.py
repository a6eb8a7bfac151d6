"""The site writer: staged, atomic, write-if-changed, stale files removed."""

from __future__ import annotations

import contextlib
import shutil
from dataclasses import dataclass
from pathlib import Path

from briefing.atomic import atomic_write as atomic_write  # re-exported: send/ imports it here
from briefing.atomic import replace
from briefing.atomic import sync_folder as sync_folder  # re-exported: send/ imports it here
from briefing.site import Outputs, collision

MANIFEST = ".briefing-manifest"
STAGING = ".briefing-staging"


@dataclass(frozen=True)
class WriteReport:
    written: int
    unchanged: int
    removed: int


def write_site(
    outputs: Outputs, out_dir: Path, clean: bool = False, kept: set[str] | None = None
) -> WriteReport:
    """Write outputs under out_dir in one go (see Staging)."""
    staging = Staging(out_dir)
    try:
        staging.put(outputs)
        return staging.commit(clean, kept or set())
    except BaseException:
        staging.discard()
        raise


class Staging:
    """Rendered files wait in a hidden folder inside the site until the build succeeded.

    A build hands each issue's files over as soon as they are rendered, so memory
    holds one issue at a time, not the whole site. commit() then moves each file
    into place with a rename (atomic: a reader never sees half a file), leaves
    files whose bytes did not change untouched, and removes files a previous build
    wrote (the manifest) that this build does not; with clean, every other file
    too. A failed build calls discard(): the site is as it was.
    """

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        self.folder = out_dir / STAGING
        shutil.rmtree(self.folder, ignore_errors=True)  # left by a killed build
        self.folder.mkdir(parents=True)
        self.sizes: dict[str, int] = {}
        self._origin: dict[str, str] = {}

    def put(self, outputs: Outputs) -> None:
        for path, data in outputs.files.items():
            if path in self.sizes:
                raise collision(path, outputs.origin(path), self._origin[path])
            target = self.folder / path
            try:
                target.write_bytes(data)
            except FileNotFoundError:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
            self.sizes[path] = len(data)
            self._origin[path] = outputs.origin(path)

    def commit(self, clean: bool, kept: set[str]) -> WriteReport:
        written = unchanged = 0
        for path, size in sorted(self.sizes.items()):
            staged, target = self.folder / path, self.out_dir / path
            if _same_file(target, staged, size):
                unchanged += 1
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            replace(staged, target)
            written += 1
        self.discard()

        manifest = self.out_dir / MANIFEST
        previous = set(manifest.read_text("utf-8").split("\n")) if manifest.is_file() else set()
        if clean:
            previous |= {
                str(p.relative_to(self.out_dir)) for p in self.out_dir.rglob("*") if p.is_file()
            }
        current = set(self.sizes) | kept
        stale = sorted(previous - current - {MANIFEST, ""})
        for path in stale:
            with contextlib.suppress(FileNotFoundError):
                (self.out_dir / path).unlink()
        if stale:
            _remove_empty_dirs(self.out_dir)
        listing = ("\n".join(sorted(current)) + "\n").encode()
        if not (manifest.is_file() and manifest.read_bytes() == listing):
            atomic_write(manifest, listing)
        return WriteReport(written, unchanged + len(kept), len(stale))

    def discard(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def _same_file(target: Path, staged: Path, size: int) -> bool:
    try:
        if target.stat().st_size != size:
            return False
    except FileNotFoundError:
        return False
    return target.read_bytes() == staged.read_bytes()


def _remove_empty_dirs(root: Path) -> None:
    for folder in sorted((p for p in root.rglob("*") if p.is_dir()), reverse=True):
        with contextlib.suppress(OSError):
            folder.rmdir()  # fails, as wanted, when the folder is not empty
