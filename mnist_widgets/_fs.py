"""Durable file writes shared by the model writer (``sources``), the model store and ``data``;
capped reads of regular files only (:func:`open_regular`, :func:`read_regular`); the one SHA-256
helper."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import stat
import sys
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


# Flags of a read that never blocks and never writes back. O_NONBLOCK: opening a FIFO for reading
# blocks until a writer comes; with it the open returns and fstat refuses the FIFO. Not in Pyodide:
# JupyterLite's /drive writes a file back to browser storage when it is closed with any flags but a
# plain read (O_NONBLOCK made every read of a model a write of it), and Emscripten has no FIFO that
# blocks.
_READ = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0)
if sys.platform != "emscripten":  # _env.in_browser(); a leaf imports no leaf
    _READ |= getattr(os, "O_NONBLOCK", 0)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)  # not on Windows: checked with lstat there


def _open_fd(
    path: Path, *, what: str, error: type[MnistWidgetsError], max_bytes: int | None, follow: bool
) -> tuple[int, int]:
    """``(fd, size)`` of regular file ``path`` opened for reading (see :func:`open_regular`)."""
    flags = _READ
    if not follow:
        if _NOFOLLOW:
            flags |= _NOFOLLOW
        elif path.is_symlink():
            raise OSError(errno.ELOOP, "is a symbolic link", str(path))
    try:
        fd = os.open(path, flags)
    except (FileNotFoundError, NotADirectoryError, PermissionError):
        raise
    except OSError as exc:  # a socket (ENXIO), a link not followed (ELOOP): say which
        try:
            mode = (os.stat if follow else os.lstat)(path).st_mode
        except OSError:
            raise exc from None
        if stat.S_ISLNK(mode):
            raise OSError(errno.ELOOP, "is a symbolic link", str(path)) from None
        if not stat.S_ISREG(mode):
            raise error(f"{what} {str(path)!r} is {_kind(mode)}, not a regular file") from None
        raise
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
    except BaseException:
        os.close(fd)
        raise
    return fd, info.st_size


def open_regular(
    path: Path, *, what: str, error: type[MnistWidgetsError], max_bytes: int | None = None
) -> BinaryIO:
    """Open ``path`` for reading only if it is a regular file (symlinks followed) of at most
    ``max_bytes``; else raise ``error`` naming ``what``. Never blocks: the open is non-blocking
    (a FIFO with no writer returns at once) and ``fstat`` of what was opened refuses anything
    but a regular file (a FIFO, ``/dev/zero``, a socket, directly or through a link).

    ``FileNotFoundError`` and other ``OSError``s pass through for the caller to word.
    """
    fd, _ = _open_fd(path, what=what, error=error, max_bytes=max_bytes, follow=True)
    try:
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
    follow: bool = True,
) -> bytes:
    """The bytes of regular file ``path``: at most ``max_bytes``, or exactly ``exact``.

    Sizes are compared from ``fstat`` before anything is read (a sparse 3 GB file costs nothing),
    and the read itself stops one byte past the cap (a file growing meanwhile). Refuses what
    :func:`open_regular` refuses; ``follow=False`` also refuses a symbolic link (an ``OSError``
    with ``errno.ELOOP``). One open, one ``fstat`` and the reads: on JupyterLite's ``/drive``
    each file-system call is a round trip to the page's storage.
    """
    cap = max_bytes if exact is None else min(exact, max_bytes)
    fd, size = _open_fd(path, what=what, error=error, max_bytes=cap, follow=follow)
    try:
        if exact is not None and size != exact:
            raise error(f"{what} {str(path)!r} has {size:,} bytes, expected exactly {exact:,}")
        chunks = []
        got = 0
        while got <= cap:  # asks for what fstat said plus one byte: buffers never exceed that
            chunk = os.read(fd, min(cap + 1 - got, max(size - got, 1 << 16) + 1))
            if not chunk:
                break
            chunks.append(chunk)
            got += len(chunk)
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > cap or (exact is not None and len(data) != exact):
        raise error(f"{what} {str(path)!r} changed size while it was read")
    return data
