"""Durable file writes shared by the model writer (``sources``), the model store and ``data``;
the one SHA-256 helper."""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path


def sha256_hex(data: bytes) -> str:
    """The SHA-256 of ``data`` as 64 hex digits."""
    return hashlib.sha256(data).hexdigest()


def fsync_dir(path: Path) -> None:
    """Flush a directory entry (a rename or a new file) to disk, where the filesystem allows it."""
    with contextlib.suppress(OSError):  # not every filesystem can fsync a directory
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_synced(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` (creating parents) and fsync it before returning."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def replace_file(dest: Path, data: bytes, *, mode: int = 0o644) -> None:
    """Atomically replace ``dest`` with ``data``: a synced temporary sibling, then ``os.replace``.

    The file gets permission bits ``mode`` (``mkstemp`` creates 0600; data files are meant to be
    shared), and the directory entry is fsynced so the rename survives a crash. On any failure the
    temporary file is removed and ``dest`` is left as it was.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    try:
        os.close(fd)
        write_synced(Path(tmp), data)
        os.chmod(tmp, mode)
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(dest.parent)
