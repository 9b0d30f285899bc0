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
its own patterns inside one, and never through a symbolic link (nor does it read or write through
one: an entry replaced by a link is a miss, and a write to it is refused with a CacheError).
Leftovers of killed writers are removed by :meth:`ModelStore.cleanup`, which a write runs at most
every ten minutes.

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
import errno
import json
import os
import re
import stat
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, TypeVar

from ._env import ENV_CACHE, cache_dir
from ._fs import fsync_dir, read_regular, replace_file, sha256_hex, write_synced
from ._ownership import (
    CURRENT,
    LAST_USED,
    LOCKS,
    NAME,
    TMP,
    VERSION,
    age,
    children,
    discard,
    entry_dirs,
    real_dir,
    remove_leftovers,
    remove_locks,
    rmtree,
)
from ._validators import Validators
from .errors import CacheError, ConfigError, MnistWidgetsError, ModelFormatError
from .tfjs.artifacts import MODEL_JSON, ModelArtifacts

if TYPE_CHECKING:
    from filelock import BaseFileLock

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

METADATA = "metadata.json"
#: Files made from a version's model (hash-checked like the rest), kept beside it so they are
#: made once per version: the ONNX graph the onnxruntime engine runs.
DERIVED = ("model.onnx",)
MARKER = ".mnist-widgets-store"
#: The metadata format this version writes and reads; any other is an entry we cannot trust.
FORMAT = 1
CACHE_SCHEME = "cache://"
_CLEANED = ".last-cleanup"  # its mtime is the time of the last clean-up
_SHA256 = re.compile(r"[0-9a-f]{64}")
_CLEANUP_EVERY = 600.0
_MAX_METADATA_BYTES = 16 * 1024 * 1024  # a few KB in practice
_MAX_POINTER_BYTES = 256  # CURRENT: one version's name
#: ``validate(artifacts, *, source=...)``: raises if the artifacts are not a usable model.
Validate = Callable[..., object]
_T = TypeVar("_T")


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
    bare = name.removeprefix(CACHE_SCHEME)
    if not NAME.fullmatch(bare) or ".." in bare:
        msg = (
            f"invalid model store name {name!r}: expected 1-128 characters from A-Z a-z 0-9 . _ -, "
            "starting with a letter or digit, with no '..', slashes or backslashes "
            "(e.g. 'mnist' or 'cache://mnist')"
        )
        raise CacheError(msg)
    return bare


def cache_url(name: str) -> str:
    """``cache://NAME``: the one spelling of an entry's URL (``name`` already checked)."""
    return f"{CACHE_SCHEME}{name}"


def default_root() -> Path:
    """``$MNIST_WIDGETS_CACHE``, else ``<user cache dir>/mnist-widgets/models``."""
    env = cache_dir()
    if env:
        return _expand(env, f"{ENV_CACHE}={env!r}")
    import platformdirs  # deferred: only the default root needs it

    return Path(platformdirs.user_cache_dir("mnist-widgets")) / "models"


def _expand(path: str | os.PathLike[str], what: str) -> Path:
    """``path`` with ``~`` expanded; an unknown ``~user`` is a ConfigError, not a RuntimeError."""
    try:
        return Path(path).expanduser()
    except RuntimeError as exc:  # pathlib: "Could not determine home directory"
        msg = (
            f"{what}: cannot expand {str(path).split(os.sep)[0]!r} ({exc}); use an absolute "
            "path or an existing user's ~name"
        )
        raise ConfigError(msg) from exc


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


# -- metadata: a typed record, checked when read ------------------------------------------------


@dataclass(frozen=True)
class FileRecord:
    """One stored file: its SHA-256, size and the server's validators."""

    sha256: str
    size: int
    validators: Validators = field(default_factory=Validators)

    def to_json(self) -> dict[str, object]:
        return {
            "sha256": self.sha256,
            "size": self.size,
            "etag": self.validators.etag,
            "last_modified": self.validators.last_modified,
        }


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

    def to_json(self) -> bytes:
        data = {
            "format": self.format,
            "name": self.name,
            "source_url": self.source_url,
            "saved_at": self.saved_at,
            "files": {rel: record.to_json() for rel, record in self.files.items()},
        }
        return json.dumps(data, indent=2).encode()

    @classmethod
    def describe(
        cls,
        name: str,
        contents: Mapping[str, bytes],
        source_url: str | None,
        validators: Mapping[str, Validators],
    ) -> EntryMetadata:
        """The metadata of a version about to hold ``contents``, saved now."""
        records = {
            rel: FileRecord(sha256_hex(data), len(data), validators.get(rel, Validators()))
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
    return FileRecord(digest, size, Validators(etag, modified))


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
    #: The :data:`DERIVED` files read with the model (``load``), verified; empty otherwise.
    derived: Mapping[str, bytes] = field(default_factory=dict, repr=False, compare=False)

    @property
    def source_url(self) -> str | None:
        """The URL it came from."""
        return self.metadata.source_url

    @property
    def saved_at(self) -> str:
        """When it was stored (UTC, ISO 8601)."""
        return self.metadata.saved_at

    @property
    def files(self) -> Mapping[str, FileRecord]:
        """File name -> :class:`FileRecord`."""
        return self.metadata.files

    @property
    def etag(self) -> str | None:
        """model.json's ETag (``files["model.json"].validators.etag``)."""
        return self.files[MODEL_JSON].validators.etag

    @property
    def last_modified(self) -> str | None:
        """model.json's Last-Modified."""
        return self.files[MODEL_JSON].validators.last_modified

    @property
    def url(self) -> str:
        """``cache://NAME``."""
        return cache_url(self.name)

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
        return cache_url(self.name)


@dataclass(frozen=True)
class VerifyResult:
    """Outcome of checking one entry's files against its recorded hashes (and ``validate``)."""

    name: str
    ok: bool
    problem: str | None = None


def _contents(
    name: str, artifacts: ModelArtifacts, derived: Mapping[str, bytes]
) -> dict[str, bytes]:
    rels = list(artifacts.weight_files)
    clash = {MODEL_JSON, METADATA, *DERIVED}.intersection(rels)
    if clash:
        msg = f"cannot store {name!r}: a weight file may not be called {sorted(clash)[0]!r}"
        raise CacheError(msg)
    unknown = set(derived) - set(DERIVED)
    if unknown:
        raise ValueError(f"derived files are {DERIVED}, not {sorted(unknown)}")
    return {MODEL_JSON: artifacts.model_json_bytes(), **artifacts.weight_files, **derived}


def _check_one(rel: str, data: bytes, recorded: FileRecord) -> str | None:
    if len(data) != recorded.size:
        return f"{rel} has {len(data):,} bytes, expected {recorded.size:,}"
    digest = sha256_hex(data)
    if digest != recorded.sha256:
        return f"{rel} has SHA-256 {digest[:16]}..., expected {recorded.sha256[:16]}..."
    return None


def _read_file(version: Path, rel: str, size: int | None = None) -> bytes:
    """A file of a version: never through a link, only a regular file, exactly ``size`` bytes
    (metadata.json: at most ``_MAX_METADATA_BYTES``), sizes compared before reading."""
    limit = _MAX_METADATA_BYTES if size is None else size
    try:
        return read_regular(
            version / rel, what="file", error=CacheError, max_bytes=limit, exact=size, follow=False
        )
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise OSError(f"{rel} is a symbolic link; the store never follows one") from None
        raise


def _check_graph(artifacts: ModelArtifacts, *, source: str) -> object:
    """:func:`tfjs.graph.check_artifacts`, imported when an entry is verified."""
    from .tfjs.graph import check_artifacts  # deferred: verify only; a load parses no graph

    return check_artifacts(artifacts, source=source)


class ModelStore:
    """A directory of verified model entries.

    Parameters
    ----------
    root : path, optional
        Store directory. Default: ``$MNIST_WIDGETS_CACHE``, else the user cache directory
        (``platformdirs.user_cache_dir("mnist-widgets")/models``). Created on first write; an
        existing non-empty directory that is not a store is refused.

    Each public method checks once that ``root`` is a store (its marker); the private ones it
    calls trust that.
    """

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        self.root = _expand(root, "the model store root") if root is not None else default_root()

    def __repr__(self) -> str:
        return f"ModelStore({str(self.root)!r})"

    # -- is this ours? -------------------------------------------------------------------------

    def is_store(self) -> bool:
        """Whether ``root`` holds the store marker."""
        try:  # one lstat: a regular file, not a link to one
            return stat.S_ISREG(os.lstat(self.root / MARKER).st_mode)
        except (OSError, ValueError):
            return False

    def _adopt(self) -> None:
        """Make ``root`` a store (creating it) unless it is a non-empty directory that is not."""
        if "\x00" in str(self.root):  # every os call would raise a bare ValueError
            msg = (
                f"cannot use {str(self.root)!r} as the model store: the path contains a NUL "
                f"byte; set {ENV_CACHE} (or --cache-dir) to a valid directory"
            )
            raise CacheError(msg)
        if self.is_store():
            return
        self.root.mkdir(parents=True, exist_ok=True)
        # Another process may be making this a store right now: its marker (or the marker's
        # temporary file) is then the only thing here.
        others = [c for c in children(self.root) if MARKER not in c.name]
        if (others or not real_dir(self.root)) and not self.is_store():
            msg = (
                f"refusing to use {str(self.root)!r} as the model store: it is not empty and "
                f"is not a mnist-widgets store (no {MARKER}); set {ENV_CACHE} (or --cache-dir) "
                "to a new or empty directory"
            )
            raise CacheError(msg)
        if not self.is_store():
            replace_file(self.root / MARKER, _marker())

    def _require_store(self, doing: str) -> None:
        if not self.is_store():
            msg = (
                f"not {doing} in {str(self.root)!r}: it is not a mnist-widgets model store (no "
                f"{MARKER}), so nothing in it is the store's to delete"
            )
            raise CacheError(msg)

    # -- paths (root is a store: checked by the public caller) ---------------------------------

    def _current_version(self, name: str) -> Path | None:
        entry_dir = self.root / name
        if not real_dir(entry_dir):
            return None
        try:
            raw = read_regular(
                entry_dir / CURRENT,
                what="the pointer",
                error=CacheError,
                max_bytes=_MAX_POINTER_BYTES,
                follow=False,
            )
            version = raw.decode().strip()
        except (FileNotFoundError, NotADirectoryError):
            return None
        except (OSError, CacheError, UnicodeDecodeError) as exc:
            if isinstance(exc, OSError) and exc.errno == errno.ELOOP:
                return None  # a link is not ours to follow
            msg = f"cannot read model store entry {name!r} in {str(entry_dir)!r}: {exc}"
            raise CacheError(msg) from exc
        # A version that vanished is left to the reader: it retries with the newer pointer.
        if not VERSION.fullmatch(version) or (entry_dir / version).is_symlink():
            return None
        return entry_dir / version

    def _published(self, name: str) -> bool:
        version = self._current_version(name)
        return version is not None and (version / METADATA).is_file()

    def exists(self, name: str) -> bool:
        """Whether ``name`` has a published version (not checking its files)."""
        bare = parse_name(name)
        return self.is_store() and self._published(bare)

    def lock(self, name: str, timeout: float = 60.0) -> BaseFileLock:
        """A cross-process lock for ``name`` (``filelock.FileLock``), to avoid duplicate downloads.

        Only an optimisation: entries stay consistent without it. Raises ``OSError`` if the lock
        file cannot be created (e.g. a read-only store), CacheError if root is not a store, and
        ``NotImplementedError`` where there are no OS file locks (Pyodide): filelock's fallback
        there is a plain lock file, which outlives a kernel stopped mid-download (a closed tab)
        and would make every later load wait for it.
        """
        from ._filelock import filelock  # deferred: writers only; a load takes no lock (start-up)

        if filelock.FileLock.__name__ == "SoftFileLock":  # filelock's choice without fcntl/msvcrt
            raise NotImplementedError("no OS file locks on this platform")
        bare = parse_name(name)
        self._adopt()
        locks = self.root / LOCKS
        locks.mkdir(exist_ok=True)
        return filelock.FileLock(str(locks / f"{bare}.lock"), timeout=timeout)

    # -- writing -------------------------------------------------------------------------------

    def write(
        self,
        name: str,
        artifacts: ModelArtifacts,
        *,
        source_url: str | None = None,
        validators: Mapping[str, Validators] | None = None,
        derived: Mapping[str, bytes] | None = None,
    ) -> CacheEntry:
        """Store ``artifacts`` as entry ``name``, all or nothing; return the new entry.

        Parameters
        ----------
        name : str
            Entry name (``NAME`` or ``cache://NAME``).
        artifacts : ModelArtifacts
            The model (validated when it was constructed).
        source_url : str, optional
            Where it came from.
        validators : mapping, optional
            File path (``"model.json"``, each weight file) -> the server's
            :class:`~mnist_widgets._validators.Validators`, used to revalidate each file with a
            conditional request later.
        derived : dict, optional
            :data:`DERIVED` files made from this model (``{"model.onnx": ...}``), stored and
            verified with it; ``load`` returns them as ``entry.derived``.

        Raises
        ------
        CacheError
            The store cannot be written (read-only, disk full, not a store, ...); the message
            names the cause. Any previous version of the entry is left untouched.
        """
        bare = parse_name(name)
        contents = _contents(bare, artifacts, derived or {})
        metadata = EntryMetadata.describe(bare, contents, source_url, validators or {})
        try:
            self._adopt()
            self._refuse_links(bare)
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
        return CacheEntry(bare, version, metadata, _now(), MappingProxyType(derived or {}))

    def _refuse_links(self, name: str) -> None:
        """Never write through a symbolic link: the store does not read through one either.

        An entry moved to another disk and replaced by a link would otherwise be a silent miss on
        every load, each writing one more full copy through the link that nothing cleans up.
        """
        for path in (self.root / name, self.root / TMP):
            if path.is_symlink():
                msg = (
                    f"not writing model {name!r}: {str(path)!r} is a symbolic link (to "
                    f"{os.readlink(path)!r}), and the store neither reads, writes nor deletes "
                    "through links; move the folder back (or remove the link), or point "
                    f"{ENV_CACHE} at a store on the other disk"
                )
                raise CacheError(msg)

    def _stage(self, contents: Mapping[str, bytes], metadata: EntryMetadata) -> Path:
        """Write a version into ``.tmp``, read it back and check it; return its directory."""
        tmp_root = self.root / TMP
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
            rmtree(tmp)
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
            rmtree(staged)
            raise
        fsync_dir(entry_dir)
        previous = self._current_version(name)
        pointer = entry_dir / f".{CURRENT}.{uuid.uuid4().hex[:8]}"
        try:
            write_synced(pointer, version.name.encode())
            os.replace(pointer, entry_dir / CURRENT)
        except BaseException:
            with contextlib.suppress(OSError):
                pointer.unlink()
            rmtree(version)
            raise
        fsync_dir(entry_dir)
        if previous is not None and previous != version:
            rmtree(previous)  # readers of it retry with the new pointer if it vanishes under them
        return version

    def _touch(self, name: str) -> str | None:
        """Record the access time and return it; best effort (a read-only store still serves
        reads): None if it could not be written."""
        entry_dir = self.root / name
        tmp = entry_dir / f".{LAST_USED}.{uuid.uuid4().hex[:8]}"
        now = _now()
        try:
            tmp.write_text(json.dumps({"last_used": now}))
            os.replace(tmp, entry_dir / LAST_USED)
        except OSError:
            with contextlib.suppress(OSError):
                tmp.unlink()
            return None
        return now

    # -- reading -------------------------------------------------------------------------------

    def _metadata(self, name: str, version: Path) -> EntryMetadata:
        try:
            raw = _read_file(version, METADATA)
        except FileNotFoundError:
            raise  # the version was replaced under us: callers retry with the new pointer
        except (OSError, CacheError) as exc:
            raise _bad_metadata(name, str(exc)) from exc
        meta = EntryMetadata.parse(raw, name=name)
        if meta.name != name:
            raise _bad_metadata(name, f"it names entry {meta.name!r}")
        return meta

    def _last_used(self, name: str) -> str | None:
        with contextlib.suppress(OSError, ValueError, TypeError, KeyError):
            value = json.loads((self.root / name / LAST_USED).read_text())["last_used"]
            return value if isinstance(value, str) else None
        return None

    def _missing(self, name: str) -> CacheError:
        return CacheError(
            f"no model named {name!r} in the model store at {str(self.root)!r}; populate it by "
            "loading the model once with the network allowed (fetch_model(url, cache=...)) or "
            "with `mnist-widgets cache fetch URL --name NAME`"
        )

    def _retrying(self, name: str, read: Callable[[Path], _T]) -> _T:
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
        if not self.is_store():
            raise self._missing(bare)
        return self._info(bare)

    def _info(self, name: str) -> CacheEntry:
        def read(version: Path) -> CacheEntry:
            return CacheEntry(name, version, self._metadata(name, version), self._last_used(name))

        return self._retrying(name, read)

    def load(self, name: str) -> tuple[ModelArtifacts, CacheEntry]:
        """Read and verify entry ``name``: metadata shape, every file's size and SHA-256.

        Raises
        ------
        CacheError
            Missing entry, or a corrupt one (naming the file); callers treat both as a miss.
        """
        bare = parse_name(name)
        if not self.is_store():
            raise self._missing(bare)
        artifacts, entry = self._load(bare)
        used = self._touch(bare) or self._last_used(bare)  # read only if it could not be written
        return artifacts, replace(entry, last_used=used)

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
                data = _read_file(version, rel, record.size)
            except FileNotFoundError:
                raise
            except (OSError, CacheError) as exc:
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
        derived = {rel: contents.pop(rel) for rel in DERIVED if rel in contents}
        try:
            raw = contents.pop(MODEL_JSON)
            artifacts = ModelArtifacts.from_json_bytes(raw, contents, source=cache_url(name))
        except (KeyError, ModelFormatError) as exc:
            raise CacheError(f"model store entry {name!r} is not a usable model: {exc}") from exc
        entry = CacheEntry(name, version, meta, None, derived)  # last_used: see load
        return artifacts, entry

    # -- management ----------------------------------------------------------------------------

    def names(self) -> list[str]:
        """Names of the published entries (broken ones included), sorted."""
        return self._names() if self.is_store() else []

    def _names(self) -> list[str]:
        return [name for name in entry_dirs(self.root) if self._published(name)]

    def entries(self) -> list[CacheEntry | BrokenEntry]:
        """Every entry, sorted by name; one whose metadata is unusable is a :class:`BrokenEntry`."""
        found: list[CacheEntry | BrokenEntry] = []
        for name in self.names():
            try:
                found.append(self._info(name))
            except CacheError as exc:
                if self._published(name):  # not removed while listing: broken
                    found.append(BrokenEntry(name, self.root / name, str(exc)))
        return found

    def list_models(self) -> list[CacheEntry]:
        """Every usable entry's metadata, sorted by name (like TF.js ``tf.io.listModels``)."""
        return [e for e in self.entries() if isinstance(e, CacheEntry)]

    def verify(
        self, name: str | None = None, *, validate: Validate | None = _check_graph
    ) -> list[VerifyResult]:
        """Check one entry (or all): metadata, sizes and hashes, then ``validate(artifacts,
        source=...)`` (default: it decodes into a model graph, :func:`tfjs.graph.check_artifacts`;
        ``None`` skips it). Reports, never raises, for corruption."""
        store = self.is_store()
        names = [parse_name(name)] if name is not None else self._names() if store else []
        return [self._verify_one(each, validate, store) for each in names]

    def _verify_one(self, name: str, validate: Validate | None, store: bool) -> VerifyResult:
        try:
            if not store:
                raise self._missing(name)
            artifacts, _ = self._load(name)
            if validate is not None:
                validate(artifacts, source=cache_url(name))
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
            entry: CacheEntry | BrokenEntry = self._info(bare)
        except CacheError as exc:
            if not self._published(bare):
                raise
            entry = BrokenEntry(bare, self.root / bare, str(exc))
        self._discard(bare)
        return entry

    def clear(self) -> int:
        """Delete every entry and leftover; return how many entries were removed."""
        self._require_store("clearing")
        names = self._names()
        for name in names:
            self._discard(name)
        self._cleanup(everything=True)
        remove_locks(self.root)
        return len(names)

    def _discard(self, name: str) -> None:
        try:
            discard(self.root, name)
        except OSError as exc:
            msg = f"cannot remove {str(self.root / name)!r} from the model store: {exc}"
            raise CacheError(msg) from exc

    def _maybe_cleanup(self) -> None:
        """Clean up when the last clean-up is ten minutes old: not on every write."""
        stamp = self.root / _CLEANED
        if age(stamp, time.time()) < _CLEANUP_EVERY and stamp.exists():
            return
        self._cleanup()
        with contextlib.suppress(OSError):
            stamp.touch()

    def cleanup(self, *, everything: bool = False) -> list[Path]:
        """Remove leftovers of killed writers; return what was removed.

        A temporary directory is a leftover once its writer's process is gone (or it is older
        than an hour); an unpublished version once it is older than an hour (a live writer
        publishes within moments of renaming it into place). ``everything`` removes all
        temporary directories of the store's own pattern. Outside a store, nothing is touched.
        """
        return self._cleanup(everything=everything) if self.is_store() else []

    def _cleanup(self, *, everything: bool = False) -> list[Path]:
        current = {name: self._current_version(name) for name in entry_dirs(self.root)}
        return remove_leftovers(self.root, current, everything)

    def names_on_disk(self) -> list[str]:
        """Entry directories, published or not."""
        return entry_dirs(self.root)


def _marker() -> bytes:
    return json.dumps({"store": "mnist-widgets", "layout": 1}).encode() + b"\n"


def list_models() -> list[CacheEntry]:
    """Entries of the default store (see :meth:`ModelStore.list_models`)."""
    return ModelStore().list_models()


def remove_model(name: str) -> CacheEntry | BrokenEntry:
    """Remove an entry from the default store (see :meth:`ModelStore.remove_model`)."""
    return ModelStore().remove_model(name)
