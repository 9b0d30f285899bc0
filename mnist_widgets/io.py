"""Where model artifacts live: route a path or URL to the code that reads or writes it.

``read_artifacts`` / ``write_artifacts`` accept

* a path or ``file://`` URL: a directory holding ``model.json``, or the ``model.json`` file itself
  (handled here; writes are atomic);
* ``http://`` / ``https://`` (read only): :func:`mnist_widgets.loader.download_artifacts`;
* ``cache://NAME``: the local model store, :class:`mnist_widgets.store.ModelStore`.

No TensorFlow here: decoding into a Keras model is :mod:`mnist_widgets.tfjs`'s job.
"""

from __future__ import annotations

import ctypes
import os
import secrets
import shutil
import sys
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from ._fs import fsync_dir, write_synced
from .errors import MnistWidgetsError, ModelFormatError
from .tfjs.artifacts import ModelArtifacts, check_weight_files, parse_model_json, weight_paths

MODEL_JSON = "model.json"
SUPPORTED = (
    "a directory or model.json path, file://PATH, http(s)://HOST/PATH/model.json, cache://NAME"
)


def _scheme(src: str | os.PathLike) -> str:
    if isinstance(src, os.PathLike):
        return ""
    scheme = urlsplit(src).scheme.lower()
    # "C:\\models" parses with scheme "c": a one-letter scheme is a Windows drive, i.e. a path.
    return "" if len(scheme) <= 1 else scheme


def _local_path(src: str | os.PathLike) -> Path:
    if isinstance(src, str) and src.lower().startswith("file:"):
        parts = urlsplit(src)
        if parts.netloc not in ("", "localhost"):
            msg = f"file URL {src!r} names host {parts.netloc!r}; only local files are supported"
            raise ModelFormatError(msg)
        return Path(unquote(parts.path))
    return Path(src).expanduser()


def _unsupported(src: str | os.PathLike, scheme: str) -> ModelFormatError:
    return ModelFormatError(
        f"unsupported location {str(src)!r} (scheme {scheme!r}); use {SUPPORTED}"
    )


def read_artifacts(src: str | os.PathLike, **options: Any) -> ModelArtifacts:
    """Read ``model.json`` and its weight files from a path or URL, validated but not decoded.

    Parameters
    ----------
    src
        A model directory, a ``model.json`` path, ``file://``, ``http(s)://`` or ``cache://NAME``.
    **options
        Passed to :func:`mnist_widgets.loader.download_artifacts` for ``http(s)://`` URLs
        (timeouts, retries, size limits); not accepted for other locations.

    Raises
    ------
    ModelFormatError
        Missing or malformed ``model.json``, a missing weight file, or sizes not matching
        the manifest.

    Examples
    --------
    >>> artifacts = read_artifacts("models/mnist")  # doctest: +SKIP
    >>> sorted(artifacts.weight_files)  # doctest: +SKIP
    ['group1-shard1of1.bin']
    """
    scheme = _scheme(src)
    if scheme in ("http", "https"):
        from .loader import download_artifacts

        return download_artifacts(str(src), **options)
    if options:
        msg = f"read_artifacts options {sorted(options)} apply to http(s) URLs only, not {src!r}"
        raise TypeError(msg)
    if scheme == "cache":
        name = _cache_name(src)
        from .store import ModelStore

        return ModelStore().read(name)
    if scheme not in ("", "file"):
        raise _unsupported(src, scheme)
    return _read_local(_local_path(src))


def _cache_name(src: str | os.PathLike) -> str:
    name = str(src).split("://", 1)[1]
    if not name:
        raise ModelFormatError(f"{src!r} names no model; expected cache://NAME")
    return name


def _read_local(path: Path) -> ModelArtifacts:
    model_json_path = path / MODEL_JSON if path.is_dir() else path
    try:
        raw = model_json_path.read_bytes()
    except FileNotFoundError as exc:
        msg = (
            f"no model at {str(path)!r}: expected a directory containing {MODEL_JSON} or the "
            f"{MODEL_JSON} file itself (save one with `mnist-widgets export` or save_layers_model)"
        )
        raise ModelFormatError(msg) from exc
    source = str(model_json_path)
    model_json = parse_model_json(raw, source=source)
    base = model_json_path.parent
    weight_files: dict[str, bytes] = {}
    for rel in weight_paths(model_json, source=source):
        try:
            weight_files[rel] = (base / rel).read_bytes()
        except FileNotFoundError as exc:
            msg = (
                f"{source}: weight file {rel!r} is missing (looked for {str(base / rel)!r}); "
                "copy the complete model directory (model.json and every .bin file) again"
            )
            raise ModelFormatError(msg) from exc
    check_weight_files(model_json, weight_files, source=source)
    return ModelArtifacts(model_json, weight_files)


def write_artifacts(artifacts: ModelArtifacts, dest: str | os.PathLike) -> str:
    """Write a model to a directory (or ``file://``/``cache://`` URL); return where it went.

    Local writes are atomic: everything goes to a temporary sibling directory, is fsynced, and only
    then replaces ``dest``. A crash leaves either the old model or the new one, never a mixture.
    Files in an existing model directory that do not belong to the old model (a README, say) are
    kept. A non-empty directory without ``model.json`` is refused rather than replaced.

    Parameters
    ----------
    artifacts
        What to write; checked against its own manifest first.
    dest
        A directory path (``.../model.json`` means its directory), ``file://PATH`` or ``cache://NAME``.
    """
    scheme = _scheme(dest)
    if scheme == "cache":
        name = _cache_name(dest)
        from .store import ModelStore

        ModelStore().write(name, artifacts)
        return f"cache://{name}"
    if scheme in ("http", "https"):
        msg = f"cannot write to {str(dest)!r}: http(s) locations are read-only; use {SUPPORTED}"
        raise ModelFormatError(msg)
    if scheme not in ("", "file"):
        raise _unsupported(dest, scheme)
    path = _local_path(dest)
    if path.name == MODEL_JSON:
        path = path.parent
    _write_local(artifacts, path.absolute())
    return str(path)


def _old_model_files(path: Path) -> set[str] | None:
    """Top-level names belonging to the model in ``path``; None if it holds no readable model."""
    try:
        old = parse_model_json((path / MODEL_JSON).read_bytes(), source=str(path / MODEL_JSON))
        paths = weight_paths(old, source=str(path))
    except (OSError, ModelFormatError):
        return None
    return {MODEL_JSON} | {p.split("/", 1)[0] for p in paths}


def _write_local(artifacts: ModelArtifacts, path: Path) -> None:
    source = str(path / MODEL_JSON)
    model_json = artifacts.model_json
    rels = weight_paths(model_json, source=source)
    check_weight_files(model_json, artifacts.weight_files, source=source)
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
    return renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0


def _swap_into_place(tmp: Path, path: Path) -> None:
    """Put the complete ``tmp`` at ``path``; the old model stays until the new one is in place."""
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
