"""Atomic file writes: a reader sees the old file or the whole new one, never a partial file.

Every write goes to a temp file in the target's directory, is flushed and ``fsync``-ed, then ``os.replace``-d over
the target (an atomic rename on POSIX: https://pubs.opengroup.org/onlinepubs/9699919799/functions/rename.html).
The temp file gets the mode ``open()`` would give (``mkstemp`` creates files 0o600) and is removed if anything
fails. The one home of this code: records, reports, figures, array artifacts and checkpoints all write through it.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

__all__ = ["atomic_write", "atomic_write_bytes", "atomic_write_text", "default_file_mode", "fsync_dir"]


def default_file_mode() -> int:
    """0o666 minus the process umask: what ``open()`` would give (``mkstemp`` creates files 0o600)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def fsync_dir(directory: Path) -> None:
    """``fsync`` a directory so a rename inside it survives a crash (a no-op where unsupported)."""
    with contextlib.suppress(OSError):  # not supported everywhere (e.g. some network filesystems)
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def atomic_write(path: Path, write: Callable[[IO[Any]], None], *, text: bool = False,
                 before_replace: Callable[[], None] | None = None, sync_dir: bool = False) -> None:
    """Create ``path`` atomically with ``write(file)``: same-directory temp file, fsync, ``os.replace``.

    Args:
        path: The target file (its parent directories are created).
        write: Writes the content to the open temp file (text mode, UTF-8, when ``text``; binary otherwise).
        before_replace: Called after the temp file is complete and synced, just before the rename (fault hooks).
        sync_dir: Also ``fsync`` the directory after the rename (checkpoints: the rename itself is durable).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, default_file_mode())
        with (os.fdopen(fd, "w", encoding="utf-8") if text else os.fdopen(fd, "wb")) as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        if before_replace is not None:
            before_replace()
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    if sync_dir:
        fsync_dir(path.parent)


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically, with the usual file mode."""
    atomic_write(path, lambda fh: fh.write(text), text=True)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically, with the usual file mode."""
    atomic_write(path, lambda fh: fh.write(data))
