"""Durable file writes shared by the model writer (``sources``), the model store and ``data``;
capped reads of regular files only (:func:`open_regular`, :func:`read_regular`); the one SHA-256
helper."""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

if TYPE_CHECKING:  # pragma: no cover
    from .errors import MnistWidgetsError


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
    import tempfile  # deferred: writing only; it imports shutil, random, bz2, lzma (start-up)

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


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISDIR, "a directory"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def open_regular(
    path: Path, *, what: str, error: type[MnistWidgetsError], max_bytes: int | None = None
) -> BinaryIO:
    """Open ``path`` for reading only if it is a regular file (symlinks followed) of at most
    ``max_bytes``; else raise ``error`` naming ``what``. Never blocks: a FIFO, ``/dev/zero`` or a
    socket (directly or through a link) is refused from ``stat`` before it is opened, and the open
    itself is non-blocking and checked again (the file may be swapped in between).

    ``FileNotFoundError`` and other ``OSError``s pass through for the caller to word.
    """
    before = os.stat(path)
    if not stat.S_ISREG(before.st_mode):
        raise error(f"{what} {str(path)!r} is {_kind(before.st_mode)}, not a regular file")
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise error(f"{what} {str(path)!r} is {_kind(info.st_mode)}, not a regular file")
        if max_bytes is not None and info.st_size > max_bytes:
            msg = (
                f"{what} {str(path)!r} has {info.st_size:,} bytes, more than the {max_bytes:,} "
                "it may have; it is not the file it should be"
            )
            raise error(msg)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_regular(
    path: Path,
    *,
    what: str,
    error: type[MnistWidgetsError],
    max_bytes: int,
    exact: int | None = None,
) -> bytes:
    """The bytes of regular file ``path``: at most ``max_bytes``, or exactly ``exact``.

    Sizes are compared from ``fstat`` before anything is read (a sparse 3 GB file costs nothing),
    and the read itself stops one byte past the cap (a file growing meanwhile). Refuses what
    :func:`open_regular` refuses.
    """
    cap = max_bytes if exact is None else min(exact, max_bytes)
    with open_regular(path, what=what, error=error, max_bytes=cap) as fh:
        if exact is not None and os.fstat(fh.fileno()).st_size != exact:
            size = os.fstat(fh.fileno()).st_size
            raise error(f"{what} {str(path)!r} has {size:,} bytes, expected exactly {exact:,}")
        data = fh.read(cap + 1)
    if len(data) > cap or (exact is not None and len(data) != exact):
        raise error(f"{what} {str(path)!r} changed size while it was read")
    return data
