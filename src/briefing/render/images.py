"""Local images, measured with Pillow: the size each output shows them at, and email copies.

Every local image gets `width` and `height` (web pages keep their layout while images
load; Outlook for Windows shows an image at its attribute size, or at its pixel size
when it has none). The email's column is CONTENT_WIDTH pixels wide: an image shows at
most that wide, and one more than twice as wide gets an email copy, resized to twice
the column (sharp on high-density screens) and recompressed, while the web page keeps
the original. A file too large to send anyone is refused with one line.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from pathlib import Path

from briefing.errors import Problem, RenderError
from briefing.project_files import MAX_ASSET_BYTES, Refused, read_bytes

log = logging.getLogger("briefing")

CONTENT_WIDTH = 544  # the email column: 600 px less 28 px of padding each side
DENSITY = 2  # email copies are this many times the width they are shown at
WARN_BYTES = 1024 * 1024  # pages load the original whole: say so past 1 MB
REFUSE_BYTES = MAX_ASSET_BYTES
REFUSE_PIXELS = 50_000_000  # Pillow itself warns at 89 Mpx (decompression bombs)
JPEG_QUALITY = 82


@dataclass(frozen=True)
class Measured:
    """An image file's pixel size and bytes on disk."""

    width: int
    height: int
    bytes: int
    format: str  # Pillow's name: PNG, JPEG, GIF, WEBP

    def shown(self, box: int) -> tuple[int, int]:
        """The size it is shown at in a column box pixels wide (never enlarged)."""
        if self.width <= box:
            return self.width, self.height
        return box, max(1, round(self.height * box / self.width))

    def needs_copy(self, box: int) -> bool:
        """Whether an email copy is worth writing: more pixels than a sharp display needs.
        Animated GIFs stay as they are (a resize would keep one frame)."""
        return self.width > DENSITY * box and self.format in ("PNG", "JPEG", "WEBP")


@dataclass(frozen=True)
class Shown:
    """How one output shows an image: its URL and the size to write on the <img>."""

    src: str
    width: int
    height: int


def measure(data: bytes, label: str) -> Measured:
    """The size of an image file's bytes, read from its header (the pixels are not decoded)."""
    # Pillow loads with the first image (~20 ms): most issues have none.
    from PIL import Image, UnidentifiedImageError

    size = len(data)
    if size > REFUSE_BYTES:
        raise RenderError(
            Problem(
                label,
                f"image is {size / 1024 / 1024:.1f} MB, over the"
                f" {REFUSE_BYTES // 1024 // 1024} MB limit; save it smaller"
                " (2,000 px wide is plenty for the web)",
            )
        )
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            kind = image.format or ""
    except (UnidentifiedImageError, OSError) as exc:
        raise RenderError(Problem(label, f"not an image Pillow can read: {exc}")) from None
    if width * height > REFUSE_PIXELS:
        raise RenderError(
            Problem(
                label,
                f"image is {width}×{height} px ({width * height / 1e6:.0f} megapixels),"
                f" over the {REFUSE_PIXELS // 1_000_000} megapixel limit; save it smaller",
            )
        )
    if size > WARN_BYTES:
        log.warning(
            "%s: image is %.1f MB; web pages load it whole, so save it smaller"
            " (emails get a copy sized for them)",
            label,
            size / 1024 / 1024,
        )
    return Measured(width, height, size, kind)


def email_copy(data: bytes, measured: Measured, box: int = CONTENT_WIDTH) -> bytes:
    """The image resized to DENSITY × box pixels wide and recompressed, same format."""
    from PIL import Image

    width = DENSITY * box
    height = max(1, round(measured.height * width / measured.width))
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        resized = image.resize((width, height), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    if measured.format == "JPEG":
        resized.convert("RGB").save(out, "JPEG", quality=JPEG_QUALITY, optimize=True)
    elif measured.format == "WEBP":
        resized.save(out, "WEBP", quality=JPEG_QUALITY)
    else:
        resized.save(out, "PNG", optimize=True)
    return out.getvalue()


class IssueImages:
    """The local images (and other assets) of one issue, read once and measured on first use.

    Files are read through the guarded path (briefing.project_files), not by name
    again after the loader's check: a file swapped for a link to a secret or for a
    FIFO between load and render is refused, never published.
    """

    def __init__(self, folder: Path, names: tuple[str, ...], label_root: Path) -> None:
        self.folder, self.names, self.label_root = folder, set(names), label_root
        self._data: dict[str, bytes] = {}
        self._measured: dict[str, Measured] = {}
        self._copies: dict[str, bytes | None] = {}

    def name(self, src: str) -> str | None:
        """The asset a src names, or None for a remote or unknown image."""
        name = src.removeprefix("./")
        return name if name in self.names else None

    def label(self, name: str) -> str:
        path = self.folder / name
        try:
            return str(path.relative_to(self.label_root))
        except ValueError:
            return str(path)

    def data(self, name: str) -> bytes:
        """The asset's bytes; RenderError naming it when it may not be read."""
        if name not in self._data:
            # The tree is issues/: a link may lead to another issue's file, nowhere else.
            tree = self.folder.parent
            try:
                self._data[name] = read_bytes(self.folder / name, tree, MAX_ASSET_BYTES)
            except Refused as exc:
                raise RenderError(Problem(self.label(name), str(exc))) from None
        return self._data[name]

    def measured(self, name: str) -> Measured:
        if name not in self._measured:
            self._measured[name] = measure(self.data(name), self.label(name))
        return self._measured[name]

    def copy(self, name: str, box: int = CONTENT_WIDTH) -> bytes | None:
        """The email copy of an asset, or None when it needs none or the copy would not
        be smaller than the original (a flat-colour PNG can grow when resampled)."""
        if name not in self._copies:
            measured = self.measured(name)
            data = email_copy(self.data(name), measured, box) if measured.needs_copy(box) else None
            self._copies[name] = data if data and len(data) < measured.bytes else None
        return self._copies[name]

    def copies(self, box: int = CONTENT_WIDTH) -> dict[str, bytes]:
        """The assets that get an email copy, with the copy's bytes."""
        found = {n: self.copy(n, box) for n in sorted(self.names)}
        return {n: data for n, data in found.items() if data is not None}
