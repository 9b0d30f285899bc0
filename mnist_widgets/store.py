"""The local model store: ``cache://NAME``, our counterpart of TF.js's ``indexeddb://NAME``.

Layout under the store root (``MNIST_WIDGETS_CACHE``, else the platform's user cache directory)::

    NAME/
        CURRENT                  # names the complete version in use (replaced atomically)
        last-used.json           # best-effort access time (the versions themselves never change)
        v-<time>-<random>/       # one immutable version: model.json, weight files, metadata.json
    .tmp/<pid>-<random>/         # versions being written; renamed into NAME/ once verified
    .locks/NAME.lock             # filelock: avoids duplicate downloads; correctness never needs it

A version is written in ``.tmp`` (same filesystem), re-read and hash-checked, fsynced, renamed into
``NAME/`` and only then published by atomically replacing ``CURRENT``. A reader therefore sees the
old complete version or the new complete one, even if a writer is killed at any instant. Leftovers
of killed writers (temporary directories, unpublished versions) are removed later.

Examples
--------
>>> store = ModelStore()  # doctest: +SKIP
>>> store.write("mnist", artifacts, source_url="http://127.0.0.1:8000/model.json")  # doctest: +SKIP
>>> [entry.name for entry in store.list_models()]  # doctest: +SKIP
['mnist']
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ._fs import fsync_dir, write_synced
from .errors import CacheError, ModelFormatError
from .tfjs.artifacts import ModelArtifacts, check_weight_files, parse_model_json, weight_paths

__all__ = ["CacheEntry", "ModelStore", "VerifyResult", "list_models", "parse_name", "remove_model"]

ENV_CACHE = "MNIST_WIDGETS_CACHE"
MODEL_JSON = "model.json"
METADATA = "metadata.json"
_CURRENT = "CURRENT"
_LAST_USED = "last-used.json"
_TMP = ".tmp"
_LOCKS = ".locks"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
#: An unpublished version or temporary directory older than this is a leftover, even if its
#: writer's pid looks alive (pids are reused, and another machine may share the directory).
_STALE_SECONDS = 3600.0


def parse_name(name: str) -> str:
    """Validate a store entry name (``NAME`` or ``cache://NAME``) and return the bare name.

    Raises
    ------
    CacheError
        For an empty name, a path (slashes, backslashes, ``..``) or characters outside
        ``A-Z a-z 0-9 . _ -``.
    """
    if not isinstance(name, str):
        msg = f"model store names are strings, got {type(name).__name__} {name!r}"
        raise CacheError(msg)
    bare = name[len("cache://") :] if name.startswith("cache://") else name
    if not _NAME.fullmatch(bare) or ".." in bare:
        msg = (
            f"invalid model store name {name!r}: expected 1-128 characters from A-Z a-z 0-9 . _ -, "
            "starting with a letter or digit, with no '..', slashes or backslashes "
            "(e.g. 'mnist' or 'cache://mnist')"
        )
        raise CacheError(msg)
    return bare


def default_root() -> Path:
    """``$MNIST_WIDGETS_CACHE``, else ``<user cache dir>/mnist-widgets/models``."""
    env = os.environ.get(ENV_CACHE)
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("mnist-widgets")) / "models"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class CacheEntry:
    """Metadata of one stored model (what ``info`` and ``list_models`` return)."""

    name: str
    path: Path
    source_url: str | None
    etag: str | None
    last_modified: str | None
    saved_at: str
    last_used: str | None
    files: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def url(self) -> str:
        """``cache://NAME``."""
        return f"cache://{self.name}"

    @property
    def size_bytes(self) -> int:
        """Total bytes of model.json and the weight files."""
        return sum(int(f["size"]) for f in self.files.values())

    def __str__(self) -> str:
        return self.url


@dataclass(frozen=True)
class VerifyResult:
    """Outcome of checking one entry's files against its recorded hashes."""

    name: str
    ok: bool
    problem: str | None = None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


class ModelStore:
    """A directory of verified model entries.

    Parameters
    ----------
    root : path, optional
        Store directory. Default: ``$MNIST_WIDGETS_CACHE``, else the user cache directory
        (``platformdirs.user_cache_dir("mnist-widgets")/models``). Created on first write.
    """

    def __init__(self, root: str | os.PathLike | None = None) -> None:
        self.root = Path(root).expanduser() if root is not None else default_root()

    def __repr__(self) -> str:
        return f"ModelStore({str(self.root)!r})"

    # -- paths -------------------------------------------------------------------------------

    def _entry_dir(self, name: str) -> Path:
        return self.root / parse_name(name)

    def _current_version(self, name: str) -> Path | None:
        entry_dir = self._entry_dir(name)
        try:
            version = (entry_dir / _CURRENT).read_text().strip()
        except FileNotFoundError:
            return None
        except NotADirectoryError:
            return None
        except OSError as exc:
            msg = f"cannot read model store entry {name!r} in {str(entry_dir)!r}: {exc}"
            raise CacheError(msg) from exc
        if not version.startswith("v-") or "/" in version:
            return None
        return entry_dir / version

    def exists(self, name: str) -> bool:
        """Whether ``name`` has a published version (not checking its hashes)."""
        version = self._current_version(name)
        return version is not None and (version / METADATA).is_file()

    def lock(self, name: str, timeout: float = 60.0):
        """A cross-process lock for ``name`` (``filelock.FileLock``), to avoid duplicate downloads.

        Only an optimisation: entries stay consistent without it. Raises ``OSError`` if the lock
        file cannot be created (e.g. a read-only store).
        """
        import filelock

        locks = self.root / _LOCKS
        locks.mkdir(parents=True, exist_ok=True)
        return filelock.FileLock(str(locks / f"{parse_name(name)}.lock"), timeout=timeout)

    # -- writing -----------------------------------------------------------------------------

    def write(
        self,
        name: str,
        artifacts: ModelArtifacts,
        *,
        source_url: str | None = None,
        etag: str | None = None,
        last_modified: str | None = None,
        file_headers: dict[str, dict[str, str | None]] | None = None,
    ) -> CacheEntry:
        """Store ``artifacts`` as entry ``name``, all or nothing; return the new entry.

        Parameters
        ----------
        name : str
            Entry name (``NAME`` or ``cache://NAME``).
        artifacts : ModelArtifacts
            The model; checked against its manifest before anything is written.
        source_url, etag, last_modified : str, optional
            Where it came from and the server's validators for ``model.json``.
        file_headers : dict, optional
            Per-file validators, ``{path: {"etag": ..., "last_modified": ...}}``, used to
            revalidate each file with a conditional request later.

        Raises
        ------
        CacheError
            The store cannot be written (read-only, disk full, ...); the message names the cause.
            Any previous version of the entry is left untouched.
        """
        bare = parse_name(name)
        source = f"cache://{bare}"
        rels = weight_paths(artifacts.model_json, source=source)
        clash = {MODEL_JSON, METADATA}.intersection(rels)
        if clash:
            msg = f"cannot store {bare!r}: a weight file may not be called {sorted(clash)[0]!r}"
            raise CacheError(msg)
        check_weight_files(artifacts.model_json, artifacts.weight_files, source=source)
        contents = {MODEL_JSON: artifacts.model_json_bytes()}
        contents.update({rel: artifacts.weight_files[rel] for rel in rels})
        headers = dict(file_headers or {})
        headers.setdefault(MODEL_JSON, {"etag": etag, "last_modified": last_modified})
        files = {
            rel: {
                "sha256": _sha256(data),
                "size": len(data),
                "etag": (headers.get(rel) or {}).get("etag"),
                "last_modified": (headers.get(rel) or {}).get("last_modified"),
            }
            for rel, data in contents.items()
        }
        metadata = {
            "format": 1,
            "name": bare,
            "source_url": source_url,
            "etag": etag,
            "last_modified": last_modified,
            "saved_at": _now(),
            "files": files,
        }
        try:
            self.cleanup()
            version = self._write_version(bare, contents, metadata)
        except OSError as exc:
            msg = (
                f"cannot write model {bare!r} to the model store at {str(self.root)!r}: "
                f"{exc.strerror or exc} ({type(exc).__name__}); set {ENV_CACHE} to a writable "
                "directory with free space"
            )
            raise CacheError(msg) from exc
        self._touch(bare)
        # From memory: a concurrent writer may already have replaced (and removed) our version.
        return self._make_entry(bare, version, metadata)

    def _write_version(self, name: str, contents: dict[str, bytes], metadata: dict) -> Path:
        tmp_root = self.root / _TMP
        tmp_root.mkdir(parents=True, exist_ok=True)
        tmp = tmp_root / f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
        tmp.mkdir()
        try:
            for rel, data in contents.items():
                write_synced(tmp / rel, data)
            write_synced(tmp / METADATA, json.dumps(metadata, indent=2).encode())
            # Re-read what reached the disk before publishing it.
            problem = _check_files(tmp, metadata["files"])
            if problem:
                msg = f"verification of the freshly written copy failed: {problem}"
                raise OSError(msg)
            fsync_dir(tmp)
            entry_dir = self.root / name
            entry_dir.mkdir(exist_ok=True)
            version = entry_dir / f"v-{time.time_ns()}-{uuid.uuid4().hex[:8]}"
            os.rename(tmp, version)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        fsync_dir(entry_dir)
        previous = self._current_version(name)
        pointer = entry_dir / f".{_CURRENT}.{uuid.uuid4().hex[:8]}"
        try:
            write_synced(pointer, version.name.encode())
            os.replace(pointer, entry_dir / _CURRENT)  # the publishing step: atomic
        except BaseException:
            with contextlib.suppress(OSError):
                pointer.unlink()
            shutil.rmtree(version, ignore_errors=True)
            raise
        fsync_dir(entry_dir)
        if previous is not None and previous != version:
            # Readers of the old version retry with the new pointer if it vanishes under them.
            shutil.rmtree(previous, ignore_errors=True)
        return version

    def _touch(self, name: str) -> None:
        """Record the access time; best effort (a read-only store still serves reads)."""
        entry_dir = self.root / name
        tmp = entry_dir / f".{_LAST_USED}.{uuid.uuid4().hex[:8]}"
        try:
            tmp.write_text(json.dumps({"last_used": _now()}))
            os.replace(tmp, entry_dir / _LAST_USED)
        except OSError:
            with contextlib.suppress(OSError):
                tmp.unlink()

    # -- reading -----------------------------------------------------------------------------

    def _entry_from(self, name: str, version: Path) -> CacheEntry:
        try:
            meta = json.loads((version / METADATA).read_text())
        except FileNotFoundError:
            raise  # the version was replaced under us: callers retry with the new pointer
        except (OSError, ValueError) as exc:
            msg = f"model store entry {name!r} has an unreadable {METADATA}: {exc}"
            raise CacheError(msg) from exc
        return self._make_entry(name, version, meta)

    def _make_entry(self, name: str, version: Path, meta: dict[str, Any]) -> CacheEntry:
        last_used = None
        with contextlib.suppress(OSError, ValueError):
            last_used = json.loads((self.root / name / _LAST_USED).read_text())["last_used"]
        return CacheEntry(
            name=name,
            path=version,
            source_url=meta.get("source_url"),
            etag=meta.get("etag"),
            last_modified=meta.get("last_modified"),
            saved_at=meta.get("saved_at", ""),
            last_used=last_used,
            files=meta.get("files", {}),
        )

    def _missing(self, name: str) -> CacheError:
        return CacheError(
            f"no model named {name!r} in the model store at {str(self.root)!r}; populate it by "
            "loading the model once with the network allowed (fetch_model(url, cache=...)) or "
            "with `mnist-widgets cache fetch URL --name NAME`"
        )

    def info(self, name: str) -> CacheEntry:
        """Metadata of entry ``name`` (hashes not checked; see :meth:`verify`).

        Raises
        ------
        CacheError
            No such entry.
        """
        bare = parse_name(name)
        for _ in range(3):  # the version may be replaced between reading CURRENT and metadata
            version = self._current_version(bare)
            if version is None:
                raise self._missing(bare)
            with contextlib.suppress(CacheError, FileNotFoundError):
                return self._entry_from(bare, version)
        version = self._current_version(bare)
        if version is None:
            raise self._missing(bare)
        try:
            return self._entry_from(bare, version)
        except FileNotFoundError as exc:
            msg = f"model store entry {bare!r} is incomplete ({exc.filename} is missing)"
            raise CacheError(msg) from exc

    def load(self, name: str) -> tuple[ModelArtifacts, CacheEntry]:
        """Read and verify entry ``name``: every file's size and SHA-256 must match its metadata.

        Raises
        ------
        CacheError
            Missing entry, or a corrupt one (naming the file); callers treat both as a miss.
        """
        bare = parse_name(name)
        attempts = 5  # each retry follows a newer pointer; writers publish within moments
        for attempt in range(attempts):
            version = self._current_version(bare)
            if version is None:
                raise self._missing(bare)
            try:
                result = self._load_version(bare, version)
            except FileNotFoundError:
                if attempt == attempts - 1 or self._current_version(bare) == version:
                    msg = (
                        f"model store entry {bare!r} is incomplete: files of {version.name} are "
                        f"missing; remove it with `mnist-widgets cache rm {bare}` and load again"
                    )
                    raise CacheError(msg) from None
                continue  # a writer replaced the version under us: read the new one
            self._touch(bare)
            return result
        raise self._missing(bare)  # pragma: no cover - loop always returns or raises

    def read(self, name: str) -> ModelArtifacts:
        """The verified artifacts of entry ``name`` (see :meth:`load`)."""
        return self.load(name)[0]

    def _load_version(self, name: str, version: Path) -> tuple[ModelArtifacts, CacheEntry]:
        entry = self._entry_from(name, version)
        contents: dict[str, bytes] = {}
        for rel, recorded in entry.files.items():
            data = (version / rel).read_bytes()
            problem = _check_one(rel, data, recorded)
            if problem:
                msg = (
                    f"model store entry {name!r} is corrupt: {problem}; it will be re-downloaded "
                    f"on the next load with the network allowed (or run `mnist-widgets cache rm "
                    f"{name}`)"
                )
                raise CacheError(msg)
            contents[rel] = data
        source = f"cache://{name}"
        try:
            model_json = parse_model_json(contents.pop(MODEL_JSON), source=source)
            check_weight_files(model_json, contents, source=source)
        except (KeyError, ModelFormatError) as exc:
            msg = f"model store entry {name!r} is not a usable model: {exc}"
            raise CacheError(msg) from exc
        return ModelArtifacts(model_json, contents), entry

    # -- management --------------------------------------------------------------------------

    def names(self) -> list[str]:
        """Names of the published entries, sorted."""
        try:
            children = sorted(self.root.iterdir())
        except (FileNotFoundError, NotADirectoryError):
            return []
        return [p.name for p in children if _NAME.fullmatch(p.name) and self.exists(p.name)]

    def list_models(self) -> list[CacheEntry]:
        """Every entry's metadata, sorted by name (like TF.js ``tf.io.listModels``)."""
        entries = []
        for name in self.names():
            with contextlib.suppress(CacheError):  # removed or replaced while listing
                entries.append(self.info(name))
        return entries

    def verify(self, name: str | None = None) -> list[VerifyResult]:
        """Check one entry (or all) against the recorded sizes and hashes; never raises for
        corruption, it reports it."""
        names = [parse_name(name)] if name is not None else self.names()
        results = []
        for each in names:
            version = self._current_version(each)
            if version is None:
                results.append(VerifyResult(each, False, str(self._missing(each))))
                continue
            try:
                self._load_version(each, version)
            except FileNotFoundError as exc:
                results.append(VerifyResult(each, False, f"missing file {exc.filename}"))
            except CacheError as exc:
                results.append(VerifyResult(each, False, str(exc)))
            else:
                results.append(VerifyResult(each, True))
        return results

    def remove_model(self, name: str) -> CacheEntry:
        """Delete entry ``name``; return its metadata (like TF.js ``tf.io.removeModel``).

        Raises
        ------
        CacheError
            No such entry, or it cannot be deleted.
        """
        entry = self.info(name)
        self._discard(self.root / entry.name)
        return entry

    def clear(self) -> int:
        """Delete every entry and leftover; return how many entries were removed."""
        names = self.names()
        for name in names:
            self._discard(self.root / name)
        for leftover in (_TMP, _LOCKS):
            shutil.rmtree(self.root / leftover, ignore_errors=True)
        return len(names)

    def _discard(self, entry_dir: Path) -> None:
        # Rename first so readers see the entry vanish at once rather than file by file.
        trash = self.root / _TMP / f"{os.getpid()}-rm-{uuid.uuid4().hex[:8]}"
        try:
            trash.parent.mkdir(parents=True, exist_ok=True)
            os.rename(entry_dir, trash)
        except FileNotFoundError:
            return
        except OSError as exc:
            msg = f"cannot remove {str(entry_dir)!r} from the model store: {exc}"
            raise CacheError(msg) from exc
        shutil.rmtree(trash, ignore_errors=True)

    def cleanup(self) -> list[Path]:
        """Remove leftovers of killed writers; return what was removed.

        A temporary directory is a leftover once its writer's process is gone (or it is older than
        an hour); an unpublished version once it is older than an hour (a live writer publishes
        within moments of renaming it into place).
        """
        removed = []
        now = time.time()
        for tmp in _children(self.root / _TMP):
            pid = tmp.name.split("-", 1)[0]
            dead = pid.isdigit() and int(pid) != os.getpid() and not _pid_alive(int(pid))
            if dead or _age(tmp, now) > _STALE_SECONDS:
                shutil.rmtree(tmp, ignore_errors=True)
                removed.append(tmp)
        for name in self.names_on_disk():
            current = self._current_version(name)
            for child in _children(self.root / name):
                unpublished = child.name.startswith("v-") and child != current
                if unpublished and _age(child, now) > _STALE_SECONDS:
                    shutil.rmtree(child, ignore_errors=True)
                    removed.append(child)
        return removed

    def names_on_disk(self) -> list[str]:
        """Entry directories, published or not."""
        return [p.name for p in _children(self.root) if _NAME.fullmatch(p.name) and p.is_dir()]


def _children(path: Path) -> Iterator[Path]:
    try:
        yield from sorted(path.iterdir())
    except (FileNotFoundError, NotADirectoryError):
        return


def _age(path: Path, now: float) -> float:
    try:
        return now - path.stat().st_mtime
    except OSError:
        return 0.0


def _check_one(rel: str, data: bytes, recorded: dict[str, Any]) -> str | None:
    if len(data) != int(recorded["size"]):
        return f"{rel} has {len(data):,} bytes, expected {int(recorded['size']):,}"
    digest = _sha256(data)
    if digest != recorded["sha256"]:
        return f"{rel} has SHA-256 {digest[:16]}..., expected {recorded['sha256'][:16]}..."
    return None


def _check_files(directory: Path, files: dict[str, dict[str, Any]]) -> str | None:
    for rel, recorded in files.items():
        problem = _check_one(rel, (directory / rel).read_bytes(), recorded)
        if problem:
            return problem
    return None


def list_models() -> list[CacheEntry]:
    """Entries of the default store (see :meth:`ModelStore.list_models`)."""
    return ModelStore().list_models()


def remove_model(name: str) -> CacheEntry:
    """Remove an entry from the default store (see :meth:`ModelStore.remove_model`)."""
    return ModelStore().remove_model(name)
