"""Load a model by URL through the local model store: the article's ``fetchModel``, made robust.

The article loads ``indexeddb://NAME`` and, when that fails, fetches the model over HTTP and saves
it. :func:`fetch_model` does the same with the local model store (``cache://NAME``) and lets you
pick the caching strategy by its web (Workbox) name:

``cache-first`` (default, the article)
    The cached copy if there is a valid one; otherwise download, store, return.
``network-first``
    Download (revalidating the cached copy with conditional requests, so an unchanged model costs
    one 304 per file and no body bytes); if the network fails, serve the cached copy.
``stale-while-revalidate``
    Serve the cached copy now and revalidate it in a background thread, so the *next* load gets
    the server's new version. ``FetchResult.revalidation`` is that thread's future.
``network-only`` / ``cache-only``
    One source only; failure is an error.

``MNIST_WIDGETS_OFFLINE=1`` turns every strategy into ``cache-only``: no socket is opened.
A corrupt cached entry is reported (a warning) and treated as a miss; a broken download never
replaces a good cached model; if the store cannot be written, the network model is still returned
with a :class:`CacheWriteWarning` naming the cause.

Examples
--------
>>> from mnist_widgets import fetch_model
>>> result = fetch_model("http://127.0.0.1:8000/model.json")  # doctest: +SKIP
>>> result.source, result.cache_url  # doctest: +SKIP
('network', 'cache://mnist-3f2a9c01de')
>>> fetch_model("http://127.0.0.1:8000/model.json").source  # server stopped  # doctest: +SKIP
'cache'
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import threading
import warnings
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

from ._http import (
    ENV_OFFLINE,
    MAX_MODEL_JSON_BYTES,
    MAX_WEIGHTS_BYTES,
    Download,
    Validators,
    check_url,
    download,
    offline,
)
from .errors import CacheError, DownloadError, ModelFormatError, OfflineError
from .store import CacheEntry, ModelStore, parse_name
from .tfjs.artifacts import ModelArtifacts

__all__ = [
    "STRATEGIES",
    "CacheCorruptWarning",
    "CacheWriteWarning",
    "FetchResult",
    "NetworkFallbackWarning",
    "Revalidation",
    "cache_name_for",
    "download",
    "download_artifacts",
    "fetch_artifacts",
    "fetch_model",
]

STRATEGIES = (
    "cache-first",
    "network-first",
    "stale-while-revalidate",
    "network-only",
    "cache-only",
)
Strategy = Literal[
    "cache-first", "network-first", "stale-while-revalidate", "network-only", "cache-only"
]
#: How long to wait for another process that is downloading the same model before downloading
#: anyway (the lock only saves bandwidth; the store stays correct without it).
LOCK_TIMEOUT = 120.0


class CacheWriteWarning(UserWarning):
    """The model came from the network but could not be saved in the model store."""


class CacheCorruptWarning(UserWarning):
    """A cached entry failed verification and was treated as a miss."""


class NetworkFallbackWarning(UserWarning):
    """``network-first`` could not reach the network and served the cached copy."""


@dataclass(frozen=True)
class Revalidation:
    """Outcome of a background revalidation (``stale-while-revalidate``).

    ``status`` is ``"not-modified"`` (the server answered 304), ``"updated"`` (the store now holds
    the server's new version, used by the next load) or ``"failed"`` (``error`` says why; the
    cached copy is untouched).
    """

    status: Literal["not-modified", "updated", "failed"]
    entry: CacheEntry | None = None
    error: BaseException | None = None


@dataclass
class FetchResult:
    """What :func:`fetch_model` returns.

    Attributes
    ----------
    model
        The Keras model (``None`` from :func:`fetch_artifacts`).
    source
        ``"cache"`` or ``"network"``: where the returned model's bytes came from.
    entry
        The store entry's metadata (source URL, ETag, hashes, times), or ``None`` if the model
        was not stored (``network-only``, or the store could not be written).
    url
        The model.json URL asked for.
    cache_url
        ``cache://NAME`` of the entry used or written (``None`` for ``network-only``).
    artifacts
        The verified model files the model was decoded from.
    revalidation
        ``stale-while-revalidate`` served from the cache: a future resolving to a
        :class:`Revalidation` (call ``.result()`` to wait for it). Otherwise ``None``.
    """

    model: Any
    source: Literal["cache", "network"]
    entry: CacheEntry | None
    url: str
    cache_url: str | None
    artifacts: ModelArtifacts | None = field(default=None, repr=False)
    revalidation: Future | None = field(default=None, repr=False)


def cache_name_for(url: str) -> str:
    """A readable, collision-safe store name for ``url``: model.json's folder + a short hash.

    Examples
    --------
    >>> cache_name_for("http://127.0.0.1:8000/models/mnist/model.json")[:6]
    'mnist-'
    """
    parts = urlsplit(url)
    folders = [p for p in parts.path.split("/")[:-1] if p]
    readable = folders[-1] if folders else (parts.hostname or "model")
    readable = re.sub(r"[^A-Za-z0-9._-]+", "-", readable).strip("-._")[:40] or "model"
    return f"{readable}-{hashlib.sha256(url.encode()).hexdigest()[:10]}"


def download_artifacts(
    url: str,
    *,
    timeout: float = 10.0,
    retries: int = 3,
    progress: bool | None = None,
    max_model_json_bytes: int = MAX_MODEL_JSON_BYTES,
    max_weights_bytes: int = MAX_WEIGHTS_BYTES,
    headers: dict[str, str] | None = None,
) -> ModelArtifacts:
    """Download ``model.json`` and its weight files, checked, without touching the store.

    Parameters
    ----------
    url : str
        ``http(s)://.../model.json``.
    timeout : float
        Seconds to wait to connect and between bytes received.
    retries : int
        Extra attempts, with exponential back-off, after connection errors, timeouts, HTTP 5xx
        and 429. Other HTTP errors fail at once.
    progress : bool, optional
        Show a progress bar (a widget in Jupyter, tqdm in a terminal). Default: only for an
        interactive session and downloads of 1 MiB or more.
    max_model_json_bytes, max_weights_bytes : int
        Size caps, enforced while streaming.
    headers : dict, optional
        Extra request headers (e.g. authorization).

    Raises
    ------
    DownloadError
        Unreachable server, HTTP error, timeout, a response above a cap, a truncated transfer.
    OfflineError
        ``MNIST_WIDGETS_OFFLINE=1`` is set (no socket is opened).
    ModelFormatError
        Malformed model.json, a hostile weight path, or files not matching the manifest.
    """
    return download(
        url,
        timeout=timeout,
        retries=retries,
        progress=progress,
        max_model_json_bytes=max_model_json_bytes,
        max_weights_bytes=max_weights_bytes,
        headers=headers,
    ).artifacts


def _validators(entry: CacheEntry) -> dict[str, Validators]:
    return {
        rel: Validators(info.get("etag"), info.get("last_modified"))
        for rel, info in entry.files.items()
    }


def _load_cached(
    store: ModelStore, name: str, *, report: bool
) -> tuple[ModelArtifacts, CacheEntry] | None:
    """The verified entry, or None on a miss; a corrupt entry is a miss (with a warning)."""
    try:
        return store.load(name)
    except CacheError as exc:
        if report and store.exists(name):
            warnings.warn(CacheCorruptWarning(str(exc)), stacklevel=4)
        return None


def _write(store: ModelStore, name: str, url: str, got: Download) -> CacheEntry:
    """Store a download with its validators; raises CacheError if the store cannot be written."""
    return store.write(
        name,
        got.artifacts,
        source_url=url,
        etag=got.etag,
        last_modified=got.last_modified,
        file_headers={rel: v.as_dict() for rel, v in got.validators.items()},
    )


def _save(store: ModelStore, name: str, url: str, got: Download) -> CacheEntry | None:
    try:
        return _write(store, name, url, got)
    except CacheError as exc:
        msg = f"the model from {url} is loaded but was not saved for offline use: {exc}"
        warnings.warn(CacheWriteWarning(msg), stacklevel=4)
        return None


def _lock(store: ModelStore, name: str):
    """The entry's lock, or a no-op if it cannot be taken (read-only store, NFS, timeout)."""
    import filelock

    try:
        lock = store.lock(name, timeout=LOCK_TIMEOUT)
        lock.acquire()
    except (OSError, filelock.Timeout):
        return contextlib.nullcontext()
    return _Release(lock)


class _Release:
    def __init__(self, lock: Any) -> None:
        self._lock = lock

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(OSError):
            self._lock.release()


def fetch_artifacts(
    url: str,
    *,
    cache: str | None = None,
    strategy: Strategy = "cache-first",
    store: ModelStore | None = None,
    timeout: float = 10.0,
    retries: int = 3,
    progress: bool | None = None,
    max_model_json_bytes: int = MAX_MODEL_JSON_BYTES,
    max_weights_bytes: int = MAX_WEIGHTS_BYTES,
    headers: dict[str, str] | None = None,
) -> FetchResult:
    """:func:`fetch_model` without decoding (no TensorFlow): ``result.artifacts`` holds the files.

    Used by ``mnist-widgets cache fetch`` to populate the store.
    """
    if strategy not in STRATEGIES:
        msg = f"unknown strategy {strategy!r}; expected one of {', '.join(STRATEGIES)}"
        raise ValueError(msg)
    check_url(url)
    store = store if store is not None else ModelStore()
    name = parse_name(cache) if cache else cache_name_for(url)
    cache_url = f"cache://{name}"
    http = {
        "timeout": timeout,
        "retries": retries,
        "progress": progress,
        "max_model_json_bytes": max_model_json_bytes,
        "max_weights_bytes": max_weights_bytes,
        "headers": headers,
    }

    def from_cache(hit: tuple[ModelArtifacts, CacheEntry], future: Future | None = None):
        return FetchResult(None, "cache", hit[1], url, cache_url, hit[0], future)

    if strategy == "network-only" and not offline():
        got = download(url, **http)
        return FetchResult(None, "network", None, url, None, got.artifacts)
    if offline() or strategy == "cache-only":
        hit = _load_cached(store, name, report=True)
        if hit is not None:
            return from_cache(hit)
        raise _cache_only_miss(url, name, store)

    hit = _load_cached(store, name, report=True)
    if strategy == "cache-first" and hit is not None:
        return from_cache(hit)
    if strategy == "stale-while-revalidate" and hit is not None:
        return from_cache(hit, _start_revalidation(store, name, url, hit, http))
    if strategy == "network-first" and hit is not None:
        try:
            got = download(url, cached=hit[0], cached_validators=_validators(hit[1]), **http)
        except (DownloadError, ModelFormatError) as exc:
            msg = f"could not refresh {url} ({exc}); using the cached copy {cache_url}"
            warnings.warn(NetworkFallbackWarning(msg), stacklevel=2)
            return from_cache(hit)
        if got.not_modified:
            return from_cache(hit)
        entry = _save(store, name, url, got)
        return FetchResult(None, "network", entry, url, cache_url, got.artifacts)

    # A miss: download once, even when several processes start together.
    with _lock(store, name):
        hit = _load_cached(store, name, report=False)  # someone may have stored it meanwhile
        if hit is not None:
            return from_cache(hit)
        got = download(url, **http)
        entry = _save(store, name, url, got)
    return FetchResult(None, "network", entry, url, cache_url, got.artifacts)


def _cache_only_miss(url: str, name: str, store: ModelStore) -> CacheError:
    how = (
        f"load it once with the network allowed (fetch_model({url!r}, cache={name!r})) or run "
        f"`mnist-widgets cache fetch {url} --name {name}`"
    )
    if offline():
        msg = (
            f"offline mode is on ({ENV_OFFLINE}=1) and the model store at {str(store.root)!r} has "
            f"no valid copy of {url} (cache://{name}); unset {ENV_OFFLINE} and {how}"
        )
        return OfflineError(msg)
    msg = f"cache-only: no valid copy of {url} in the model store (cache://{name}); {how}"
    return CacheError(msg)


def _start_revalidation(
    store: ModelStore,
    name: str,
    url: str,
    hit: tuple[ModelArtifacts, CacheEntry],
    http: dict[str, Any],
) -> Future:
    future: Future = Future()
    future.set_running_or_notify_cancel()

    def run() -> None:
        try:
            options = {**http, "progress": False}
            got = download(url, cached=hit[0], cached_validators=_validators(hit[1]), **options)
            if got.not_modified:
                future.set_result(Revalidation("not-modified", hit[1]))
                return
            future.set_result(Revalidation("updated", _write(store, name, url, got)))
        except Exception as exc:  # reported through the future; the cached copy stays
            future.set_result(Revalidation("failed", hit[1], exc))

    # Daemon: an interpreter exiting mid-write leaves the old complete entry, never a partial one.
    threading.Thread(target=run, name=f"revalidate-{name}", daemon=True).start()
    return future


def fetch_model(
    url: str,
    *,
    cache: str | None = None,
    strategy: Strategy = "cache-first",
    store: ModelStore | None = None,
    timeout: float = 10.0,
    retries: int = 3,
    progress: bool | None = None,
    max_model_json_bytes: int = MAX_MODEL_JSON_BYTES,
    max_weights_bytes: int = MAX_WEIGHTS_BYTES,
    headers: dict[str, str] | None = None,
) -> FetchResult:
    """Load the TF.js model at ``url`` as a Keras model, through the local model store.

    Parameters
    ----------
    url : str
        ``http(s)://.../model.json``.
    cache : str, optional
        Store entry, ``"cache://NAME"`` or ``"NAME"``. Default: derived from the URL
        (:func:`cache_name_for`).
    strategy : str
        ``"cache-first"`` (default), ``"network-first"``, ``"stale-while-revalidate"``,
        ``"network-only"`` or ``"cache-only"`` (see the module docstring).
    store : ModelStore, optional
        Default: ``ModelStore()`` (``$MNIST_WIDGETS_CACHE`` or the user cache directory).
    timeout, retries, progress, max_model_json_bytes, max_weights_bytes, headers
        Network options, see :func:`download_artifacts`.

    Returns
    -------
    FetchResult
        ``.model``, ``.source`` (``"cache"`` or ``"network"``), ``.entry``, ``.url``,
        ``.cache_url``, ``.revalidation``.

    Raises
    ------
    DownloadError
        The network was needed and failed (and no cached copy could stand in).
    CacheError
        ``cache-only`` and no valid cached copy (:class:`OfflineError` in offline mode).
    ModelFormatError
        The server's model is malformed or hostile.

    Examples
    --------
    >>> result = fetch_model(url, strategy="stale-while-revalidate")  # doctest: +SKIP
    >>> result.model.predict(x)  # the cached model, now  # doctest: +SKIP
    >>> result.revalidation.result().status  # doctest: +SKIP
    'updated'
    """
    result = fetch_artifacts(
        url,
        cache=cache,
        strategy=strategy,
        store=store,
        timeout=timeout,
        retries=retries,
        progress=progress,
        max_model_json_bytes=max_model_json_bytes,
        max_weights_bytes=max_weights_bytes,
        headers=headers,
    )
    from .tfjs import decode_model

    assert result.artifacts is not None
    source = result.cache_url if result.source == "cache" else url
    result.model = decode_model(result.artifacts, source=source or url)
    return result
