"""Where model artifacts live: one table from a location's scheme to the code that reads or
writes it (like pooch's ``known_downloaders``).

* a path or ``file://`` URL: a directory holding ``model.json``, or the ``model.json`` file itself
  (writes are atomic directory replacements);
* ``http://`` / ``https://`` (read only): :func:`mnist_widgets.loader.fetch_artifacts`, i.e.
  through the model store, cache-first (``cache=False``: download only, store nothing);
* ``cache://NAME``: the local model store, :class:`mnist_widgets.store.ModelStore`.

The table is :data:`KNOWN_LOCATIONS`; nothing else in the package dispatches on a scheme.

No TensorFlow here: turning artifacts into a Keras model is :mod:`mnist_widgets.keras_io`'s job.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from ._fs import fsync_dir, read_regular, write_synced
from .errors import ConfigError, MnistWidgetsError, ModelFormatError
from .tfjs.artifacts import (
    MAX_MODEL_JSON_BYTES,
    MAX_WEIGHTS_BYTES,
    MODEL_JSON,
    ModelArtifacts,
    expected_weight_bytes,
    normal_path,
    parse_model_json,
    weight_nbytes,
    weight_paths,
)

if TYPE_CHECKING:  # pragma: no cover - the loading layer is imported where a scheme needs it
    from ._http import NetworkOptions
    from .loader import Derive, FetchResult

__all__ = [
    "KNOWN_LOCATIONS",
    "Location",
    "Opened",
    "open_artifacts",
    "read_artifacts",
    "write_artifacts",
]

SUPPORTED = (
    "a directory or model.json path, file://PATH, http(s)://HOST/PATH/model.json, cache://NAME"
)
Source = str | os.PathLike[str]


@dataclass(frozen=True)
class Opened:
    """What :func:`open_artifacts` found: the artifacts, a label for messages, and for
    ``http(s)://`` through the store the :class:`~mnist_widgets.loader.FetchResult`."""

    artifacts: ModelArtifacts
    source: str
    fetch_result: FetchResult | None = None
    #: Files the store keeps beside the model (``store.DERIVED``: its ONNX graph), if any.
    derived: Mapping[str, bytes] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class Location:
    """How one kind of location is read and (if it can be) written."""

    read: Callable[[Source, NetworkOptions | None, bool, Derive | None], Opened]
    write: Callable[[ModelArtifacts, Source], str] | None = None
    network: bool = False  # whether NetworkOptions apply


def _scheme(src: Source) -> str:
    if isinstance(src, os.PathLike):
        return ""
    scheme = urlsplit(src).scheme.lower()
    # "C:\\models" parses with scheme "c": a one-letter scheme is a Windows drive, i.e. a path.
    return "" if len(scheme) <= 1 else scheme


def _location(src: Source) -> Location:
    scheme = _scheme(src)
    try:
        return KNOWN_LOCATIONS[scheme]
    except KeyError:
        msg = f"unsupported location {str(src)!r} (scheme {scheme!r}); use {SUPPORTED}"
        raise ModelFormatError(msg) from None


def open_artifacts(
    src: Source,
    *,
    options: NetworkOptions | None = None,
    cache: bool = True,
    derive: Derive | None = None,
) -> Opened:
    """:func:`read_artifacts`, with where the model came from (``Opened.source``: the path, or
    the ``cache://NAME`` an http model was served from) and the store's ``FetchResult`` (its
    checked graph, and the files ``derive`` made once per version, see ``fetch_artifacts``)."""
    location = _location(src)
    if options is not None and not location.network:
        raise TypeError(f"network options apply to http(s) URLs only, not {str(src)!r}")
    return location.read(src, options, cache, derive)


def read_artifacts(
    src: Source, *, options: NetworkOptions | None = None, cache: bool = True
) -> ModelArtifacts:
    """Read ``model.json`` and its weight files from a path or URL, validated but not decoded.

    Parameters
    ----------
    src
        A model directory, a ``model.json`` path, ``file://``, ``http(s)://`` or ``cache://NAME``.
    options
        Network options for ``http(s)://`` (timeouts, deadline, retries, size limits).
    cache
        ``http(s)://`` only: go through the model store (cache-first, the default), or not
        (``False``: download, store nothing).

    Raises
    ------
    ModelFormatError
        Missing or malformed ``model.json``, a missing weight file, sizes not matching the
        manifest, or an unsupported location.

    Examples
    --------
    >>> artifacts = read_artifacts("models/mnist")  # doctest: +SKIP
    >>> sorted(artifacts.weight_files)  # doctest: +SKIP
    ['group1-shard1of1.bin']
    """
    return open_artifacts(src, options=options, cache=cache).artifacts


def write_artifacts(artifacts: ModelArtifacts, dest: Source) -> str:
    """Write a model to a directory (or ``file://``/``cache://`` URL); return where it went.

    Local writes are atomic: everything goes to a temporary sibling directory, is fsynced, and only
    then replaces ``dest``. A crash leaves either the old model or the new one, never a mixture.
    Files in an existing model directory that do not belong to the old model (a README, say) are
    kept. A non-empty directory without ``model.json`` is refused rather than replaced.
    """
    location = _location(dest)
    if location.write is None:
        msg = f"cannot write to {str(dest)!r}: http(s) locations are read-only; use {SUPPORTED}"
        raise ModelFormatError(msg)
    return location.write(artifacts, dest)


def _read_http(
    src: Source, options: NetworkOptions | None, cache: bool, derive: Derive | None
) -> Opened:
    # deferred: HTTP, the store and their imports (~0.1 s) only for a URL, not a local model
    from .loader import download_artifacts, fetch_artifacts

    if not cache:
        return Opened(download_artifacts(str(src), options=options), str(src))
    result = fetch_artifacts(str(src), options=options, derive=derive)
    return Opened(result.artifacts, result.cache_url or str(src), result, result.derived)


def _cache_name(src: Source) -> str:
    from .store import parse_name  # deferred: the store only for cache://

    return parse_name(str(src))


def _read_cache(
    src: Source, options: NetworkOptions | None, cache: bool, derive: Derive | None
) -> Opened:
    from .store import ModelStore, cache_url  # deferred: the store only for cache://

    name = _cache_name(src)
    artifacts, entry = ModelStore().load(name)
    return Opened(artifacts, cache_url(name), derived=entry.derived)


def _write_cache(artifacts: ModelArtifacts, dest: Source) -> str:
    from .store import ModelStore  # deferred: the store only for cache://

    return ModelStore().write(_cache_name(dest), artifacts).url


def _local_path(src: Source) -> Path:
    if "\x00" in os.fspath(src):  # no file can be named so; os calls raise a bare ValueError
        raise ConfigError(f"invalid model location {str(src)!r}: a path cannot hold a NUL byte")
    if isinstance(src, str) and src.lower().startswith("file:"):
        parts = urlsplit(src)
        if parts.netloc not in ("", "localhost"):
            msg = f"file URL {src!r} names host {parts.netloc!r}; only local files are supported"
            raise ModelFormatError(msg)
        return Path(unquote(parts.path))
    return Path(src).expanduser()


def _read_path(
    src: Source, options: NetworkOptions | None, cache: bool, derive: Derive | None
) -> Opened:
    return Opened(_read_local(_local_path(src)), os.fspath(src))


def _write_path(artifacts: ModelArtifacts, dest: Source) -> str:
    path = _local_path(dest)
    if path.name == MODEL_JSON:
        path = path.parent
    _write_local(artifacts, path.absolute())
    return str(path)


def _read_local(path: Path) -> ModelArtifacts:
    """The model at ``path``, read with the caps a download has: model.json at most
    ``MAX_MODEL_JSON_BYTES``, weights at most ``MAX_WEIGHTS_BYTES`` and each file exactly what the
    manifest declares; only regular files (a FIFO, a device or a link to one is refused unread)."""
    model_json_path = path / MODEL_JSON if path.is_dir() else path
    try:
        raw = read_regular(
            model_json_path,
            what="model file",
            error=ModelFormatError,
            max_bytes=MAX_MODEL_JSON_BYTES,
        )
    except FileNotFoundError as exc:
        msg = (
            f"no model at {str(path)!r}: expected a directory containing {MODEL_JSON} or the "
            f"{MODEL_JSON} file itself (save one with `mnist-widgets export` or save_layers_model)"
        )
        raise ModelFormatError(msg) from exc
    source = str(model_json_path)
    model_json = parse_model_json(raw, source=source)
    weight_paths(model_json, source=source)  # refuses hostile paths before any is opened
    total = expected_weight_bytes(model_json)
    if total > MAX_WEIGHTS_BYTES:
        msg = f"{source} declares {total:,} bytes of weights, more than {MAX_WEIGHTS_BYTES:,}"
        raise ModelFormatError(msg)
    base = model_json_path.parent
    weight_files: dict[str, bytes] = {}
    for group in model_json["weightsManifest"]:
        rels = [normal_path(p) for p in group["paths"]]
        left = sum(weight_nbytes(entry) for entry in group["weights"])  # this group's bytes
        for rel in rels:
            if rel in weight_files:
                continue  # named twice: ModelArtifacts says what is wrong with the sizes
            try:
                weight_files[rel] = read_regular(
                    base / rel,
                    what=f"{source}: weight file",
                    error=ModelFormatError,
                    max_bytes=left,
                    exact=left if len(rels) == 1 else None,
                )
            except FileNotFoundError as exc:
                msg = (
                    f"{source}: weight file {rel!r} is missing (looked for {str(base / rel)!r}); "
                    "copy the complete model directory (model.json and every .bin file) again"
                )
                raise ModelFormatError(msg) from exc
            left -= len(weight_files[rel])
    return ModelArtifacts(model_json, weight_files, source)  # checks sizes against the manifest


def _old_model_files(path: Path) -> set[str] | None:
    """Top-level names belonging to the model in ``path``; None if it holds no readable model."""
    try:
        raw = read_regular(
            path / MODEL_JSON,
            what="model file",
            error=ModelFormatError,
            max_bytes=MAX_MODEL_JSON_BYTES,
        )
        old = parse_model_json(raw, source=str(path / MODEL_JSON))
        paths = weight_paths(old, source=str(path))
    except (OSError, ModelFormatError):
        return None
    return {MODEL_JSON} | {p.split("/", 1)[0] for p in paths}


def _write_local(artifacts: ModelArtifacts, path: Path) -> None:
    rels = artifacts.paths  # checked when the artifacts were made
    keep: list[Path] = []
    if path.exists():
        if not path.is_dir():
            raise MnistWidgetsError(f"cannot write a model to {str(path)!r}: it is a file")
        entries = list(path.iterdir())
        if entries and not (path / MODEL_JSON).exists():
            msg = (
                f"refusing to write a model into {str(path)!r}: it is not empty and holds no "
                f"{MODEL_JSON}; choose a new or empty directory"
            )
            raise MnistWidgetsError(msg)
        old = _old_model_files(path) or {MODEL_JSON}
        new_top = {MODEL_JSON} | {p.split("/", 1)[0] for p in rels}
        keep = [e for e in entries if e.name not in old and e.name not in new_top]
    # deferred: writing only; reading a model (every start) needs neither
    import secrets
    import shutil

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.tmp-{secrets.token_hex(6)}"
    tmp.mkdir()  # not mkdtemp: the model directory should get the user's umask, not 0700
    try:
        for entry in keep:  # carry unrelated files (README, notes) into the new directory
            copy = shutil.copytree if entry.is_dir() else shutil.copy2
            copy(entry, tmp / entry.name)
        for rel in rels:
            write_synced(tmp / rel, artifacts.weight_files[rel])
        write_synced(tmp / MODEL_JSON, artifacts.model_json_bytes())
        fsync_dir(tmp)
        _swap_into_place(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _exchange(a: Path, b: Path) -> bool:
    """Swap two directories atomically (Linux renameat2 RENAME_EXCHANGE); False if unsupported."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes  # here: only Linux needs it, and not every Python build has it

    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):  # old glibc, musl: fall back to two renames
        return False
    renameat2.argtypes = [
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_uint,
    ]
    at_fdcwd, rename_exchange = -100, 2
    status: int = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange)
    return status == 0


def _swap_into_place(tmp: Path, path: Path) -> None:
    """Put the complete ``tmp`` at ``path``; the old model stays until the new one is in place."""
    import shutil  # deferred: writing only (see _write_local)

    if not path.exists():
        os.replace(tmp, path)
    elif _exchange(tmp, path):  # readers see the old model or the new one, never neither
        shutil.rmtree(tmp, ignore_errors=True)  # tmp now holds the old model
    else:
        # rename(2) cannot replace a non-empty directory: move the old one aside first. ``path``
        # is briefly absent, but a complete model exists on disk at every instant.
        old = tmp.with_name(tmp.name.replace(".tmp-", ".old-"))
        os.replace(path, old)
        try:
            os.replace(tmp, path)
        except BaseException:
            os.replace(old, path)
            raise
        shutil.rmtree(old, ignore_errors=True)
    fsync_dir(path.parent)


_LOCAL = Location(_read_path, _write_path)
_HTTP = Location(_read_http, None, network=True)
KNOWN_LOCATIONS: Mapping[str, Location] = {
    "": _LOCAL,
    "file": _LOCAL,
    "http": _HTTP,
    "https": _HTTP,
    "cache": Location(_read_cache, _write_cache),
}
