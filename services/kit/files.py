"""Files written whole: a reader (another process starting alongside, a crash half-way) sees the
old content or the new, never part of either."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_beside(path: Path, content: bytes, mode: int) -> Path:
    """`content` in a new file next to `path` (same file system), flushed to disk; the caller links
    or renames it into place, so nobody ever reads half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)  # mode 0600
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(content)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(name, mode)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    return Path(name)


def replace_atomically(path: Path, content: bytes, mode: int = 0o644) -> None:
    """`path` now holds `content` (flushed to disk first, then renamed over it)."""
    os.replace(write_beside(path, content, mode), path)
