"""The local model store: ``cache://NAME``, our counterpart of TF.js's ``indexeddb://NAME``.

Layout under the store root (``MNIST_WIDGETS_CACHE``, else the platform's user cache directory)::

    .mnist-widgets-store         # the marker: this directory is a store, and ours
    NAME/
        CURRENT                  # names the complete version in use (replaced atomically)
        last-used.json           # best-effort access time (the versions themselves never change)
        v-<time>-<random>/       # one immutable version: model.json, weight files, metadata.json
    .tmp/<pid>-<random>/         # versions being written; renamed into NAME/ once verified
    .locks/NAME.lock             # filelock: avoids duplicate downloads; correctness never needs it

A version is written in ``.tmp`` (same filesystem), re-read and hash-checked, fsynced, renamed into
``NAME/`` and only then published by atomically replacing ``CURRENT``. A reader therefore sees the
old complete version or the new complete one, even if a writer is killed at any instant.

The store deletes only what it can prove it made: nothing at all in a directory without the
marker (and it refuses to turn a non-empty directory that is not a store into one), only names of
its own patterns inside one, and never through a symbolic link. Leftovers of killed writers are
removed by :meth:`ModelStore.cleanup`, which a write runs at most every ten minutes.

Examples
--------
>>> import tempfile
>>> from mnist_widgets.tfjs.artifacts import ModelArtifacts
>>> weights = [{"name": "b", "shape": [2], "dtype": "float32"}]
>>> model_json = {"modelTopology": {},
...               "weightsManifest": [{"paths": ["w.bin"], "weights": weights}]}
>>> artifacts = ModelArtifacts(model_json, {"w.bin": bytes(8)})
>>> store = ModelStore(tempfile.mkdtemp())
>>> store.write("tiny", artifacts, source_url="http://127.0.0.1:8000/model.json").url
'cache://tiny'
>>> [entry.name for entry in store.list_models()], store.read("tiny").weight_files["w.bin"]
(['tiny'], b'\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00')
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import time
import uuid
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from types import MappingProxyType, ModuleType
from typing import Any

from ._fs import fsync_dir, replace_file, sha256_hex, write_synced
from .errors import CacheError, MnistWidgetsError, ModelFormatError
from .tfjs.artifacts import MODEL_JSON, ModelArtifacts
from .tfjs.graph import check_artifacts

__all__ = [
    "BrokenEntry",
    "CacheEntry",
    "EntryMetadata",
    "FileRecord",
    "ModelStore",
    "VerifyResult",
    "list_models",
    "parse_name",
    "remove_model",
]

ENV_CACHE = "MNIST_WIDGETS_CACHE"
METADATA = "metadata.json"
MARKER = ".mnist-widgets-store"
#: The metadata format this version writes and reads; any other is an entry we cannot trust.
FORMAT = 1
_CURRENT = "CURRENT"
_LAST_USED = "last-used.json"
_TMP = ".tmp"
_LOCKS = ".locks"
_CLEANED = ".last-cleanup"  # its mtime is the time of the last clean-up
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_VERSION = re.compile(r"v-[0-9]{1,20}-[0-9a-f]{8}")
_TMP_DIR = re.compile(r"[0-9]{1,10}-(rm-)?[0-9a-f]{8,12}")
_POINTER = re.compile(r"\.(CURRENT|last-used\.json)\.[0-9a-f]{8}")
_SHA256 = re.compile(r"[0-9a-f]{64}")
#: An unpublished version or temporary directory older than this is a leftover, even if its
#: writer's pid looks alive (pids are reused, and another machine may share the directory).
_STALE_SECONDS = 3600.0
_CLEANUP_EVERY = 600.0


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
    import platformdirs  # deferred: only the default root needs it

    return Path(platformdirs.user_cache_dir("mnist-widgets")) / "models"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


# -- metadata: a typed record, checked when read ------------------------------------------------


@dataclass(frozen=True)
class FileRecord:
    """One stored file: its SHA-256, size and the server's validators."""

    sha256: str
    size: int
    etag: str | None = None
    last_modified: str | None = None

    def __getitem__(self, key: str) -> Any:
        """``record["size"]``: for code written when records were dicts."""
        if key not in ("sha256", "size", "etag", "last_modified"):
            raise KeyError(key)
        return getattr(self, key)


def _safe_rel(rel: Any) -> bool:
    if not isinstance(rel, str) or not rel or "\\" in rel or "\x00" in rel:
        return False
    return not rel.startswith("/") and all(p not in ("", ".", "..") for p in rel.split("/"))


def _optional_str(value: Any) -> bool:
    return value is None or isinstance(value, str)


@dataclass(frozen=True)
class EntryMetadata:
    """``metadata.json`` of one version: what was stored, from where, when."""

    name: str
    source_url: str | None
    saved_at: str
    files: Mapping[str, FileRecord]
    format: int = FORMAT

    @property
    def etag(self) -> str | None:
        return self.files[MODEL_JSON].etag

    @property
    def last_modified(self) -> str | None:
        return self.files[MODEL_JSON].last_modified

    def to_json(self) -> bytes:
        files = {rel: vars(record) for rel, record in self.files.items()}
        data = {
            "format": self.format,
            "name": self.name,
            "source_url": self.source_url,
            "etag": self.etag,
            "last_modified": self.last_modified,
            "saved_at": self.saved_at,
            "files": files,
        }
        return json.dumps(data, indent=2).encode()

    @classmethod
    def describe(
        cls,
        name: str,
        contents: Mapping[str, bytes],
        source_url: str | None,
        headers: Mapping[str, Mapping[str, str | None]],
    ) -> EntryMetadata:
        """The metadata of a version about to hold ``contents``, saved now."""
        records = {
            rel: FileRecord(
                sha256_hex(data),
                len(data),
                (headers.get(rel) or {}).get("etag"),
                (headers.get(rel) or {}).get("last_modified"),
            )
            for rel, data in contents.items()
        }
        return cls(name, source_url, _now(), MappingProxyType(records))

    @classmethod
    def parse(cls, raw: bytes, *, name: str) -> EntryMetadata:
        """Read ``metadata.json``; any unexpected shape is a :class:`CacheError` naming it."""
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError) as exc:
            raise _bad_metadata(name, f"it is not valid JSON ({exc})") from exc
        if not isinstance(data, dict):
            raise _bad_metadata(name, f"expected an object, got {type(data).__name__}")
        if data.get("format") != FORMAT or isinstance(data.get("format"), bool):
            got = data.get("format")
            raise _bad_metadata(
                name, f"format {got!r} is not {FORMAT} (written by another version?)"
            )
        for key in ("source_url", "saved_at"):
            if not _optional_str(data.get(key)):
                raise _bad_metadata(name, f"{key!r} must be a string, got {data.get(key)!r:.60}")
        files = data.get("files")
        if not isinstance(files, dict) or MODEL_JSON not in files:
            raise _bad_metadata(name, f"'files' must be an object naming {MODEL_JSON}")
        records = {rel: _file_record(name, rel, info) for rel, info in files.items()}
        return cls(
            name, data.get("source_url"), data.get("saved_at") or "", MappingProxyType(records)
        )


def _file_record(name: str, rel: Any, info: Any) -> FileRecord:
    if not _safe_rel(rel):
        raise _bad_metadata(name, f"file name {rel!r:.60} is not a plain relative path")
    if not isinstance(info, dict):
        raise _bad_metadata(name, f"the record of {rel!r} must be an object")
    size, digest = info.get("size"), info.get("sha256")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise _bad_metadata(
            name, f"the size of {rel!r} must be a non-negative integer, got {size!r:.40}"
        )
    if not isinstance(digest, str) or not _SHA256.fullmatch(digest):
        raise _bad_metadata(name, f"the sha256 of {rel!r} must be 64 hex digits")
    etag, modified = info.get("etag"), info.get("last_modified")
    if not (_optional_str(etag) and _optional_str(modified)):
        raise _bad_metadata(name, f"the validators of {rel!r} must be strings")
    return FileRecord(digest, size, etag, modified)


def _bad_metadata(name: str, problem: str) -> CacheError:
    return CacheError(
        f"model store entry {name!r} is corrupt: its {METADATA} is unusable ({problem}); it is "
        f"re-downloaded on the next load with the network allowed, or run "
        f"`mnist-widgets cache rm {name}`"
    )


@dataclass(frozen=True)
class CacheEntry:
    """One stored model (what ``info`` and ``list_models`` return)."""

    name: str
    path: Path
    metadata: EntryMetadata
    last_used: str | None = None

    source_url = property(lambda self: self.metadata.source_url, doc="The URL it came from.")
    etag = property(lambda self: self.metadata.etag, doc="model.json's ETag.")
    last_modified = property(lambda self: self.metadata.last_modified)
    saved_at = property(lambda self: self.metadata.saved_at, doc="When it was stored (UTC).")
    files = property(lambda self: self.metadata.files, doc="File name -> FileRecord.")

    @property
    def url(self) -> str:
        """``cache://NAME``."""
        return f"cache://{self.name}"

    @property
    def size_bytes(self) -> int:
        """Total bytes of model.json and the weight files."""
        return sum(f.size for f in self.files.values())

    def __str__(self) -> str:
        return self.url


@dataclass(frozen=True)
class BrokenEntry:
    """An entry that exists but cannot be used (``problem`` says why); listed, never loaded."""

    name: str
    path: Path
    problem: str

    @property
    def url(self) -> str:
        return f"cache://{self.name}"


@dataclass(frozen=True)
class VerifyResult:
    """Outcome of checking one entry's files against its recorded hashes (and ``validate``)."""

    name: str
    ok: bool
    problem: str | None = None


# -- helpers for owning what we delete ----------------------------------------------------------


def _real_dir(path: Path) -> bool:
    """A directory that is not a symbolic link (never followed for deleting or reading)."""
    return not path.is_symlink() and path.is_dir()


def _rmtree(path: Path) -> None:
    """Delete a directory we made; a symlink in its place is left alone (shutil.rmtree does not
    follow the links inside)."""
    if _real_dir(path):
        shutil.rmtree(path, ignore_errors=True)


def _children(path: Path) -> Iterator[Path]:
    if not _real_dir(path):
        return
    with contextlib.suppress(OSError):
        yield from sorted(path.iterdir())


def _age(path: Path, now: float) -> float:
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
    except (PermissionError, OSError):
        return True
    return True


def _entry_child_is_ours(child: Path) -> bool:
    if child.name in (_CURRENT, _LAST_USED) or _POINTER.fullmatch(child.name):
        return not child.is_symlink()
    return bool(_VERSION.fullmatch(child.name)) and _real_dir(child)


def _contents(name: str, artifacts: ModelArtifacts) -> dict[str, bytes]:
    rels = list(artifacts.weight_files)
    clash = {MODEL_JSON, METADATA}.intersection(rels)
    if clash:
        msg = f"cannot store {name!r}: a weight file may not be called {sorted(clash)[0]!r}"
        raise CacheError(msg)
    return {MODEL_JSON: artifacts.model_json_bytes(), **artifacts.weight_files}


def _check_one(rel: str, data: bytes, recorded: FileRecord) -> str | None:
    if len(data) != recorded.size:
        return f"{rel} has {len(data):,} bytes, expected {recorded.size:,}"
    digest = sha256_hex(data)
    if digest != recorded.sha256:
        return f"{rel} has SHA-256 {digest[:16]}..., expected {recorded.sha256[:16]}..."
    return None


def _read_file(version: Path, rel: str) -> bytes:
    path = version / rel
    if path.is_symlink():
        raise OSError(f"{rel} is a symbolic link; the store never follows one")
    return path.read_bytes()


class ModelStore:
    """A directory of verified model entries.

    Parameters
    ----------
    root : path, optional
        Store directory. Default: ``$MNIST_WIDGETS_CACHE``, else the user cache directory
        (``platformdirs.user_cache_dir("mnist-widgets")/models``). Created on first write; an
        existing non-empty directory that is not a store is refused.
    """

    def __init__(self, root: str | os.PathLike | None = None) -> None:
        self.root = Path(root).expanduser() if root is not None else default_root()

    def __repr__(self) -> str:
        return f"ModelStore({str(self.root)!r})"

    # -- is this ours? -------------------------------------------------------------------------

    def is_store(self) -> bool:
        """Whether ``root`` holds the store marker (or is a store of an earlier version)."""
        marker = self.root / MARKER
        return (marker.is_file() and not marker.is_symlink()) or self._legacy()

    def _legacy(self) -> bool:
        """A store written before the marker existed: nothing but entries and our folders."""
        children = list(_children(self.root))
        if not children:
            return False
        for child in children:
            if child.name == _CLEANED:
                continue
            ours = child.name in (_TMP, _LOCKS) or (
                _NAME.fullmatch(child.name) and (child / _CURRENT).is_file()
            )
            if not (ours and _real_dir(child)):
                return False
        return True

    def _adopt(self) -> None:
        """Make ``root`` a store (creating it) unless it is a non-empty directory that is not."""
        if not self.is_store():
            self.root.mkdir(parents=True, exist_ok=True)
            # Another process may be making this a store right now: its marker (or the marker's
            # temporary file) is then the only thing here.
            others = [c for c in _children(self.root) if MARKER not in c.name]
            if (others or not _real_dir(self.root)) and not self.is_store():
                msg = (
                    f"refusing to use {str(self.root)!r} as the model store: it is not empty and "
                    f"is not a mnist-widgets store (no {MARKER}); set {ENV_CACHE} (or --cache-dir) "
                    "to a new or empty directory"
                )
                raise CacheError(msg)
        if not (self.root / MARKER).is_file():  # a legacy store, or one just made
            replace_file(self.root / MARKER, _marker())

    def _require_store(self, doing: str) -> None:
        if not self.is_store():
            msg = (
                f"not {doing} in {str(self.root)!r}: it is not a mnist-widgets model store (no "
                f"{MARKER}), so nothing in it is the store's to delete"
            )
            raise CacheError(msg)

    # -- paths ---------------------------------------------------------------------------------

    def _entry_dir(self, name: str) -> Path:
        return self.root / parse_name(name)

    def _current_version(self, name: str) -> Path | None:
        entry_dir = self._entry_dir(name)
        pointer = entry_dir / _CURRENT
        if not self.is_store() or not _real_dir(entry_dir) or pointer.is_symlink():
            return None
        try:
            version = pointer.read_text().strip()
        except (FileNotFoundError, NotADirectoryError):
            return None
        except (OSError, UnicodeDecodeError) as exc:
            msg = f"cannot read model store entry {name!r} in {str(entry_dir)!r}: {exc}"
            raise CacheError(msg) from exc
        # A version that vanished is left to the reader: it retries with the newer pointer.
        if not _VERSION.fullmatch(version) or (entry_dir / version).is_symlink():
            return None
        return entry_dir / version

    def exists(self, name: str) -> bool:
        """Whether ``name`` has a published version (not checking its files)."""
        version = self._current_version(name)
        return version is not None and (version / METADATA).is_file()

    def lock(self, name: str, timeout: float = 60.0):
        """A cross-process lock for ``name`` (``filelock.FileLock``), to avoid duplicate downloads.

        Only an optimisation: entries stay consistent without it. Raises ``OSError`` if the lock
        file cannot be created (e.g. a read-only store), CacheError if root is not a store.
        """
        filelock = import_filelock()  # deferred: only downloads take the lock
        self._adopt()
        locks = self.root / _LOCKS
        locks.mkdir(exist_ok=True)
        return filelock.FileLock(str(locks / f"{parse_name(name)}.lock"), timeout=timeout)

    # -- writing -------------------------------------------------------------------------------

    def write(
        self,
        name: str,
        artifacts: ModelArtifacts,
        *,
        source_url: str | None = None,
        etag: str | None = None,
        last_modified: str | None = None,
        file_headers: Mapping[str, Mapping[str, str | None]] | None = None,
    ) -> CacheEntry:
        """Store ``artifacts`` as entry ``name``, all or nothing; return the new entry.

        Parameters
        ----------
        name : str
            Entry name (``NAME`` or ``cache://NAME``).
        artifacts : ModelArtifacts
            The model (validated when it was constructed).
        source_url, etag, last_modified : str, optional
            Where it came from and the server's validators for ``model.json``.
        file_headers : dict, optional
            Per-file validators, ``{path: {"etag": ..., "last_modified": ...}}``, used to
            revalidate each file with a conditional request later.

        Raises
        ------
        CacheError
            The store cannot be written (read-only, disk full, not a store, ...); the message
            names the cause. Any previous version of the entry is left untouched.
        """
        bare = parse_name(name)
        contents = _contents(bare, artifacts)
        headers = {MODEL_JSON: {"etag": etag, "last_modified": last_modified}}
        metadata = EntryMetadata.describe(
            bare, contents, source_url, {**headers, **(file_headers or {})}
        )
        try:
            self._adopt()
            self._maybe_cleanup()
            version = self._publish(bare, self._stage(contents, metadata))
        except OSError as exc:
            msg = (
                f"cannot write model {bare!r} to the model store at {str(self.root)!r}: "
                f"{exc.strerror or exc} ({type(exc).__name__}); set {ENV_CACHE} to a writable "
                "directory with free space"
            )
            raise CacheError(msg) from exc
        self._touch(bare)
        # From memory: a concurrent writer may already have replaced (and removed) our version.
        return CacheEntry(bare, version, metadata, _now())

    def _stage(self, contents: Mapping[str, bytes], metadata: EntryMetadata) -> Path:
        """Write a version into ``.tmp``, read it back and check it; return its directory."""
        tmp_root = self.root / _TMP
        tmp_root.mkdir(exist_ok=True)
        tmp = tmp_root / f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
        tmp.mkdir()
        try:
            for rel, data in contents.items():
                write_synced(tmp / rel, data)
            write_synced(tmp / METADATA, metadata.to_json())
            for rel, record in metadata.files.items():  # what reached the disk, before publishing
                problem = _check_one(rel, (tmp / rel).read_bytes(), record)
                if problem:
                    raise OSError(f"verification of the freshly written copy failed: {problem}")
            fsync_dir(tmp)
        except BaseException:
            _rmtree(tmp)
            raise
        return tmp

    def _publish(self, name: str, staged: Path) -> Path:
        """Rename ``staged`` into the entry, then point ``CURRENT`` at it (the atomic step)."""
        entry_dir = self.root / name
        entry_dir.mkdir(exist_ok=True)
        version = entry_dir / f"v-{time.time_ns()}-{uuid.uuid4().hex[:8]}"
        try:
            os.rename(staged, version)
        except BaseException:
            _rmtree(staged)
            raise
        fsync_dir(entry_dir)
        previous = self._current_version(name)
        pointer = entry_dir / f".{_CURRENT}.{uuid.uuid4().hex[:8]}"
        try:
            write_synced(pointer, version.name.encode())
            os.replace(pointer, entry_dir / _CURRENT)
        except BaseException:
            with contextlib.suppress(OSError):
                pointer.unlink()
            _rmtree(version)
            raise
        fsync_dir(entry_dir)
        if previous is not None and previous != version:
            _rmtree(previous)  # readers of it retry with the new pointer if it vanishes under them
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

    # -- reading -------------------------------------------------------------------------------

    def _metadata(self, name: str, version: Path) -> EntryMetadata:
        try:
            raw = _read_file(version, METADATA)
        except FileNotFoundError:
            raise  # the version was replaced under us: callers retry with the new pointer
        except OSError as exc:
            raise _bad_metadata(name, str(exc)) from exc
        meta = EntryMetadata.parse(raw, name=name)
        if meta.name != name:
            raise _bad_metadata(name, f"it names entry {meta.name!r}")
        return meta

    def _last_used(self, name: str) -> str | None:
        with contextlib.suppress(OSError, ValueError, TypeError, KeyError):
            value = json.loads((self.root / name / _LAST_USED).read_text())["last_used"]
            return value if isinstance(value, str) else None
        return None

    def _missing(self, name: str) -> CacheError:
        return CacheError(
            f"no model named {name!r} in the model store at {str(self.root)!r}; populate it by "
            "loading the model once with the network allowed (fetch_model(url, cache=...)) or "
            "with `mnist-widgets cache fetch URL --name NAME`"
        )

    def _retrying(self, name: str, read: Callable[[Path], Any]) -> Any:
        """``read(version)`` of the current version, again if a writer replaced it meanwhile."""
        attempts = 5  # each retry follows a newer pointer; writers publish within moments
        for attempt in range(attempts):
            version = self._current_version(name)
            if version is None:
                raise self._missing(name)
            try:
                return read(version)
            except FileNotFoundError as exc:
                if attempt == attempts - 1 or self._current_version(name) == version:
                    msg = (
                        f"model store entry {name!r} is incomplete: {exc.filename or 'a file'} of "
                        f"{version.name} is missing; it is re-downloaded on the next load with the "
                        f"network allowed, or remove it with `mnist-widgets cache rm {name}`"
                    )
                    raise CacheError(msg) from None
        raise self._missing(name)  # pragma: no cover - the loop returns or raises

    def info(self, name: str) -> CacheEntry:
        """Metadata of entry ``name`` (files not checked; see :meth:`verify`).

        Raises
        ------
        CacheError
            No such entry, or its metadata is unusable.
        """
        bare = parse_name(name)

        def read(version: Path) -> CacheEntry:
            return CacheEntry(bare, version, self._metadata(bare, version), self._last_used(bare))

        return self._retrying(bare, read)

    def load(self, name: str) -> tuple[ModelArtifacts, CacheEntry]:
        """Read and verify entry ``name``: metadata shape, every file's size and SHA-256.

        Raises
        ------
        CacheError
            Missing entry, or a corrupt one (naming the file); callers treat both as a miss.
        """
        bare = parse_name(name)
        result = self._load(bare)
        self._touch(bare)
        return result

    def read(self, name: str) -> ModelArtifacts:
        """The verified artifacts of entry ``name`` (see :meth:`load`)."""
        return self.load(name)[0]

    def _load(self, name: str) -> tuple[ModelArtifacts, CacheEntry]:
        return self._retrying(name, lambda version: self._load_version(name, version))

    def _load_version(self, name: str, version: Path) -> tuple[ModelArtifacts, CacheEntry]:
        meta = self._metadata(name, version)
        contents: dict[str, bytes] = {}
        for rel, record in meta.files.items():
            try:
                data = _read_file(version, rel)
            except FileNotFoundError:
                raise
            except OSError as exc:
                raise CacheError(f"model store entry {name!r} is corrupt: {exc}") from exc
            problem = _check_one(rel, data, record)
            if problem:
                msg = (
                    f"model store entry {name!r} is corrupt: {problem}; it is re-downloaded "
                    f"on the next load with the network allowed (or run `mnist-widgets cache rm "
                    f"{name}`)"
                )
                raise CacheError(msg)
            contents[rel] = data
        source = f"cache://{name}"
        try:
            raw = contents.pop(MODEL_JSON)
            artifacts = ModelArtifacts.from_json_bytes(raw, contents, source=source)
        except (KeyError, ModelFormatError) as exc:
            raise CacheError(f"model store entry {name!r} is not a usable model: {exc}") from exc
        return artifacts, CacheEntry(name, version, meta, self._last_used(name))

    # -- management ----------------------------------------------------------------------------

    def names(self) -> list[str]:
        """Names of the published entries (broken ones included), sorted."""
        if not self.is_store():
            return []
        return [
            p.name for p in _children(self.root) if _NAME.fullmatch(p.name) and self.exists(p.name)
        ]

    def entries(self) -> list[CacheEntry | BrokenEntry]:
        """Every entry, sorted by name; one whose metadata is unusable is a :class:`BrokenEntry`."""
        found: list[CacheEntry | BrokenEntry] = []
        for name in self.names():
            try:
                found.append(self.info(name))
            except CacheError as exc:
                if self.exists(name):  # not removed while listing: broken
                    found.append(BrokenEntry(name, self.root / name, str(exc)))
        return found

    def list_models(self) -> list[CacheEntry]:
        """Every usable entry's metadata, sorted by name (like TF.js ``tf.io.listModels``)."""
        return [e for e in self.entries() if isinstance(e, CacheEntry)]

    def verify(
        self, name: str | None = None, *, validate: Callable[..., Any] | None = check_artifacts
    ) -> list[VerifyResult]:
        """Check one entry (or all): metadata, sizes and hashes, then ``validate(artifacts,
        source=...)`` (default: it decodes into a model graph, :func:`tfjs.graph.check_artifacts`;
        ``None`` skips it). Reports, never raises, for corruption."""
        names = [parse_name(name)] if name is not None else self.names()
        return [self._verify_one(each, validate) for each in names]

    def _verify_one(self, name: str, validate: Callable[..., Any] | None) -> VerifyResult:
        try:
            artifacts, _ = self._load(name)
            if validate is not None:
                validate(artifacts, source=f"cache://{name}")
        except (MnistWidgetsError, ValueError, TypeError, KeyError) as exc:
            return VerifyResult(name, False, str(exc))
        return VerifyResult(name, True)

    def remove_model(self, name: str) -> CacheEntry | BrokenEntry:
        """Delete entry ``name``; return what it was (like TF.js ``tf.io.removeModel``).

        Raises
        ------
        CacheError
            No such entry, not a store, or it cannot be deleted.
        """
        bare = parse_name(name)
        self._require_store("removing models")
        try:
            entry: CacheEntry | BrokenEntry = self.info(bare)
        except CacheError as exc:
            if not self.exists(bare):
                raise
            entry = BrokenEntry(bare, self.root / bare, str(exc))
        self._discard(bare)
        return entry

    def clear(self) -> int:
        """Delete every entry and leftover; return how many entries were removed."""
        self._require_store("clearing")
        names = self.names()
        for name in names:
            self._discard(name)
        self.cleanup(everything=True)
        for lock in _children(self.root / _LOCKS):
            if lock.suffix == ".lock" and _NAME.fullmatch(lock.stem) and not lock.is_symlink():
                with contextlib.suppress(OSError):
                    lock.unlink()
        return len(names)

    def _discard(self, name: str) -> None:
        """Remove what the store made in entry ``name``; anything else in it stays."""
        entry_dir = self.root / name
        children = list(_children(entry_dir))
        if children and all(_entry_child_is_ours(c) for c in children):
            # Rename first so readers see the entry vanish at once rather than file by file.
            trash = self.root / _TMP / f"{os.getpid()}-rm-{uuid.uuid4().hex[:8]}"
            try:
                trash.parent.mkdir(exist_ok=True)
                os.rename(entry_dir, trash)
            except FileNotFoundError:
                return
            except OSError as exc:
                msg = f"cannot remove {str(entry_dir)!r} from the model store: {exc}"
                raise CacheError(msg) from exc
            _rmtree(trash)
            return
        for child in sorted(children, key=lambda c: c.name != _CURRENT):  # CURRENT first
            if _entry_child_is_ours(child):
                if child.is_dir():
                    _rmtree(child)
                else:
                    with contextlib.suppress(OSError):
                        child.unlink()

    def _maybe_cleanup(self) -> None:
        """Clean up when the last clean-up is ten minutes old: not on every write."""
        stamp = self.root / _CLEANED
        if _age(stamp, time.time()) < _CLEANUP_EVERY and stamp.exists():
            return
        self.cleanup()
        with contextlib.suppress(OSError):
            stamp.touch()

    def cleanup(self, *, everything: bool = False) -> list[Path]:
        """Remove leftovers of killed writers; return what was removed.

        A temporary directory is a leftover once its writer's process is gone (or it is older
        than an hour); an unpublished version once it is older than an hour (a live writer
        publishes within moments of renaming it into place). ``everything`` removes all
        temporary directories of the store's own pattern. Outside a store, nothing is touched.
        """
        if not self.is_store():
            return []
        removed = []
        now = time.time()
        for tmp in _children(self.root / _TMP):
            pid = tmp.name.split("-", 1)[0]
            if not (_TMP_DIR.fullmatch(tmp.name) and _real_dir(tmp)):
                continue
            dead = int(pid) != os.getpid() and not _pid_alive(int(pid))
            if everything or dead or _age(tmp, now) > _STALE_SECONDS:
                _rmtree(tmp)
                removed.append(tmp)
        for name in self.names_on_disk():
            current = self._current_version(name)
            for child in _children(self.root / name):
                unpublished = _VERSION.fullmatch(child.name) and child != current
                if unpublished and _real_dir(child) and _age(child, now) > _STALE_SECONDS:
                    _rmtree(child)
                    removed.append(child)
        return removed

    def names_on_disk(self) -> list[str]:
        """Entry directories, published or not."""
        return [p.name for p in _children(self.root) if _NAME.fullmatch(p.name) and _real_dir(p)]


def _marker() -> bytes:
    return json.dumps({"store": "mnist-widgets", "layout": 1}).encode() + b"\n"


def list_models() -> list[CacheEntry]:
    """Entries of the default store (see :meth:`ModelStore.list_models`)."""
    return ModelStore().list_models()


def remove_model(name: str) -> CacheEntry | BrokenEntry:
    """Remove an entry from the default store (see :meth:`ModelStore.remove_model`)."""
    return ModelStore().remove_model(name)


def import_filelock() -> ModuleType:
    """``filelock``, imported without its "only soft file lock is available" warning.

    Without ``fcntl`` (Pyodide, in the browser) filelock falls back to a lock file and warns on
    import: a warning box in every notebook that downloads. One browser tab's kernel is the only
    process that uses its store, so the soft lock is all it needs: nothing to act on, no warning.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="only soft file lock is available")
        import filelock
    return filelock
