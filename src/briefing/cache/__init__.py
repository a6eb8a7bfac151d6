"""The build cache: what a rebuild may skip because none of its inputs changed.

Inputs are recognised by file signatures (name, size, modification and change
times, inode), so a rebuild reads no unchanged source. The change time (ctime)
moves with every write and cannot be set back the way `touch -d` sets back the
modification time; a file changed in the last two seconds, when a second edit
could still share its timestamps, is recognised by a hash of its content as well
(git's "racily clean" rule). Three layers:

- the environment: briefing.toml, the theme, briefing's own code and the output
  folder. Any change there drops the whole cache;
- each issue folder: its signature maps to the Issue loaded from it, so loading
  an unchanged issue costs a dictionary lookup (reuse() is the loader's callback).
  The folder's own stamp (times, inode), kept once out of the racy window, says no
  file came or went: its files are then stat()ed by name, the folder not listed;
- each set of outputs (one issue's files; the shared index, tag pages, feeds and
  stylesheet): a digest of everything they are rendered from, with the size of
  every file written. If the digest matches and the files are still there, the
  outputs are not rendered again. The last build's site key (the issues its site
  showed) lets a build that changes nothing skip even working out those digests.

Two files, both JSON (data, never code: a crafted file can at worst be refused):
`.briefing/build-cache.json` holds the metadata a rebuild reads every time (the
signatures, each issue's fields but its note and articles, the output digests), one
issue and one output set a line, so a save keeps the lines that did not change;
`.briefing/build-issues.json` holds the note and articles of each issue, most of
the bytes, appended when an issue is loaded and read back only for an issue a
build renders. Each stored piece is checked against its hash; one that does not
match (a damaged or foreign store) is loaded from its folder again. A cache that
cannot be read is ignored (a full build, with a debug line), never an error.

The modules: `signatures` (what a folder's files look like now, and whether that is
what was stored), `stored_issues` (issues read back from the cache a part at a time,
and the store of their bodies), `build_cache` (BuildCache: the metadata, read and
saved). The settings below are read at call time through this package, so a test
can move the racy window or the store's slack in one place.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

CACHE_FILE = Path(".briefing") / "build-cache.json"
STORE_FILE = Path(".briefing") / "build-issues.json"
RACY_NS = 2_000_000_000  # a file changed this recently is hashed too
_COMPACT_SLACK = 1 << 20  # bytes of garbage always allowed: a small store is not rewritten


def _content_hash(path: Path) -> str:
    return hashlib.blake2b(path.read_bytes(), digest_size=16).hexdigest()


# After the settings: the modules read them from here.
from briefing.cache.build_cache import BuildCache, OutputSet  # noqa: E402
from briefing.cache.signatures import (  # noqa: E402
    digest,
    digest_lines,
    file_signature,
    signature,
)

__all__ = [
    "CACHE_FILE",
    "RACY_NS",
    "STORE_FILE",
    "BuildCache",
    "OutputSet",
    "digest",
    "digest_lines",
    "file_signature",
    "signature",
]
