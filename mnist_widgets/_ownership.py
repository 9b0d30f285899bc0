"""What the model store may touch: its own name patterns, never a symbolic link, and the clean-up
of what killed writers left behind.

The rules ``store.ModelStore`` keeps, as small functions over paths. The store checks that its root
is a store (the marker) once per public call; these helpers trust that and check each path.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

CURRENT = "CURRENT"
LAST_USED = "last-used.json"
TMP = ".tmp"
LOCKS = ".locks"
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
VERSION = re.compile(r"v-[0-9]{1,20}-[0-9a-f]{8}")
_TMP_DIR = re.compile(r"[0-9]{1,10}-(rm-)?[0-9a-f]{8,12}")
_POINTER = re.compile(r"\.(CURRENT|last-used\.json)\.[0-9a-f]{8}")
#: An unpublished version or temporary directory older than this is a leftover, even if its
#: writer's pid looks alive (pids are reused, and another machine may share the directory).
STALE_SECONDS = 3600.0


def real_dir(path: Path) -> bool:
    """A directory that is not a symbolic link (never followed for deleting or reading)."""
    try:  # one lstat (each file-system call is a round trip on JupyterLite's /drive)
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except (OSError, ValueError):
        return False


def rmtree(path: Path) -> None:
    """Delete a directory we made; a symlink in its place is left alone (shutil.rmtree does not
    follow the links inside)."""
    import shutil  # deferred: deleting only; loading from the store needs none (start-up)

    if real_dir(path):
        shutil.rmtree(path, ignore_errors=True)


def children(path: Path) -> Iterator[Path]:
    """The entries of ``path``, sorted; none if it is not a real directory or cannot be listed."""
    if not real_dir(path):
        return
    with contextlib.suppress(OSError):
        yield from sorted(path.iterdir())


def age(path: Path, now: float) -> float:
    """Seconds since ``path`` (not what a link points to) was modified; 0 if it is gone."""
    try:
        return now - path.lstat().st_mtime
    except OSError:
        return 0.0


def _pid_alive(pid: int) -> bool:
    if not hasattr(os, "kill"):  # Emscripten: no processes to ask; only the age rule applies
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError included: someone else's live process
        return True
    return True


def entry_child_is_ours(child: Path) -> bool:
    """Whether a name inside an entry directory is one the store makes."""
    if child.name in (CURRENT, LAST_USED) or _POINTER.fullmatch(child.name):
        return not child.is_symlink()
    return bool(VERSION.fullmatch(child.name)) and real_dir(child)


def entry_dirs(root: Path) -> list[str]:
    """Names of the entry directories under a store's ``root``, published or not."""
    return [p.name for p in children(root) if NAME.fullmatch(p.name) and real_dir(p)]


def discard(root: Path, name: str) -> None:
    """Remove what the store made in entry ``name``; anything else in it stays.

    Raises ``OSError`` if the entry exists but cannot be moved aside.
    """
    entry_dir = root / name
    found = list(children(entry_dir))
    if found and all(entry_child_is_ours(c) for c in found):
        # Rename first so readers see the entry vanish at once rather than file by file.
        trash = root / TMP / f"{os.getpid()}-rm-{uuid.uuid4().hex[:8]}"
        trash.parent.mkdir(exist_ok=True)
        try:
            os.rename(entry_dir, trash)
        except FileNotFoundError:
            return
        rmtree(trash)
        return
    for child in sorted(found, key=lambda c: c.name != CURRENT):  # CURRENT first
        if entry_child_is_ours(child):
            if child.is_dir():
                rmtree(child)
            else:
                with contextlib.suppress(OSError):
                    child.unlink()


def remove_leftovers(root: Path, current: dict[str, Path | None], everything: bool) -> list[Path]:
    """Remove temporary directories of dead writers and old unpublished versions under a store's
    ``root`` (``current``: each entry's published version); return what was removed."""
    removed = []
    now = time.time()
    for tmp in children(root / TMP):
        if not (_TMP_DIR.fullmatch(tmp.name) and real_dir(tmp)):
            continue
        pid = int(tmp.name.split("-", 1)[0])
        dead = pid != os.getpid() and not _pid_alive(pid)
        if everything or dead or age(tmp, now) > STALE_SECONDS:
            rmtree(tmp)
            removed.append(tmp)
    for name, published in current.items():
        for child in children(root / name):
            unpublished = VERSION.fullmatch(child.name) and child != published
            if unpublished and real_dir(child) and age(child, now) > STALE_SECONDS:
                rmtree(child)
                removed.append(child)
    return removed


def remove_locks(root: Path) -> None:
    """Remove the store's lock files (``.locks/NAME.lock``), nothing else there."""
    for lock in children(root / LOCKS):
        if lock.suffix == ".lock" and NAME.fullmatch(lock.stem) and not lock.is_symlink():
            with contextlib.suppress(OSError):
                lock.unlink()
