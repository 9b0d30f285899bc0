"""Load a model by URL through the local model store: the article's ``fetchModel``, made robust.

The article loads ``indexeddb://NAME`` and, when that fails, fetches the model over HTTP and saves
it. :func:`fetch_artifacts` does the same with the local model store (``cache://NAME``) and lets
you pick the caching strategy by its web (Workbox) name:

``cache-first`` (default, the article)
    The cached copy if there is a valid one; otherwise download, store, return.
``network-first``
    Download (revalidating the cached copy with conditional requests, so an unchanged model costs
    one 304 per file and no body bytes); if that fails in any way, serve the cached copy.
``stale-while-revalidate``
    Serve the cached copy now and revalidate it in a background thread, so the *next* load gets
    the server's new version. ``FetchResult.revalidation`` is that thread's future.
``network-only`` / ``cache-only``
    One source only; failure is an error.

The rule every strategy keeps, the background revalidation included: **a version becomes current
only after it validates**: it decodes into a model graph (:func:`check_artifacts`, whose
:class:`ModelGraph` the result carries, so nothing parses it again) and passes ``validate`` if
given (:func:`mnist_widgets.keras_io.fetch_model` passes a Keras decode). A broken download never
replaces a good cached model, and a cached version that does not validate is treated like a
corrupt one: reported (a :class:`CacheCorruptWarning`) and re-fetched when online.

``MNIST_WIDGETS_OFFLINE=1`` (also ``true``, ``yes``, ``on``; ``0``, ``false``, ``no``, ``off`` or
empty mean online, anything else is a :class:`ConfigError`) opens no socket, with one rule, like
``HF_HUB_OFFLINE``: every strategy that can use the store serves the cache (``cache-only``), and an
explicit ``network-only`` raises :class:`OfflineError`. If the
store cannot be written, the network model is still returned with a :class:`CacheWriteWarning`.
An entry is keyed by its name, like the article's ``indexeddb://NAME``, and records the URL it came
from. Asking for entry ``NAME`` with another URL (the same site on another port or host, a mirror)
asks the new URL whether it serves the same model: conditional requests with the entry's validators,
or the files' SHA-256s. The same model stays in the store, recorded under the new URL, without a
word; another model replaces it with a :class:`CacheSourceWarning` (and when the new URL cannot be
asked, or offline, the other URL's model is never served for it: an error).

With no ``cache=`` name, the entry is the one that already holds ``url``'s model, under whatever
name it was stored (``mnist-widgets cache fetch URL --name NAME``), else :func:`cache_name_for`.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, get_args
from urllib.parse import unquote, urlsplit

from ._env import ENV_OFFLINE, offline
from ._env import in_browser as _in_browser
from ._filelock import filelock
from ._fs import sha256_hex
from ._http import Download, NetworkOptions, check_url, download
from ._warn import warn
from .errors import (
    CacheError,
    ConfigError,
    DownloadError,
    MnistWidgetsError,
    ModelFormatError,
    OfflineError,
)
from .store import CacheEntry, ModelStore, cache_url, parse_name
from .tfjs.artifacts import MODEL_JSON, ModelArtifacts
from .tfjs.graph import ModelGraph, check_artifacts  # every version: decodes into a graph

if TYPE_CHECKING:
    from filelock import BaseFileLock

__all__ = [
    "STRATEGIES",
    "CacheCorruptWarning",
    "CacheSourceWarning",
    "CacheWriteWarning",
    "FetchResult",
    "LockWaitWarning",
    "NetworkFallbackWarning",
    "NetworkOptions",
    "Revalidation",
    "cache_name_for",
    "check_artifacts",
    "download_artifacts",
    "entry_name_for",
    "fetch_artifacts",
]

Strategy = Literal[
    "cache-first", "network-first", "stale-while-revalidate", "network-only", "cache-only"
]
STRATEGIES: tuple[str, ...] = get_args(Strategy)
#: ``validate(artifacts, graph, *, source=...)``: raises if the checked model is not usable here;
#: what it returns becomes ``FetchResult.model`` (``fetch_model``: the ``keras.Model``).
Validate = Callable[..., Any]
#: ``derive(artifacts, graph, *, source=...)``: files made once from a new version and stored
#: beside it (``{"model.onnx": ...}``, see ``store.DERIVED``); ``FetchResult.derived`` on hits.
Derive = Callable[..., Mapping[str, bytes]]
#: The longest wait for another process that is downloading the same model before downloading
#: anyway (the lock only saves bandwidth; the store stays correct without it).
LOCK_TIMEOUT = 120.0
_LOCK_QUIET = 0.5  # a lock held this briefly is not worth a word


class CacheWriteWarning(UserWarning):
    """The model came from the network but could not be saved in the model store."""


class CacheCorruptWarning(UserWarning):
    """A cached entry failed verification (hashes, metadata or validation) and was a miss."""


class CacheSourceWarning(UserWarning):
    """The entry asked for holds another URL's model, and the URL asked for serves a different
    one (or cannot be asked): the entry is re-fetched from the new URL, never served for it."""


class NetworkFallbackWarning(UserWarning):
    """``network-first`` could not get a valid model from the network and served the cache."""


class LockWaitWarning(UserWarning):
    """Another process holds the entry's download lock; this one waits (or stops waiting)."""


@dataclass(frozen=True)
class Revalidation:
    """Outcome of a background revalidation (``stale-while-revalidate``).

    ``status`` is ``"not-modified"`` (the server answered 304), ``"updated"`` (the store now holds
    the server's new, validated version, used by the next load) or ``"failed"`` (``error`` says
    why; the cached copy is untouched).
    """

    status: Literal["not-modified", "updated", "failed"]
    entry: CacheEntry | None = None
    error: BaseException | None = None


@dataclass
class FetchResult:
    """What :func:`fetch_artifacts` (and ``fetch_model``) return.

    Attributes
    ----------
    graph
        The checked layer graph of ``artifacts`` (engines take it as it is).
    model
        What ``validate`` returned: the ``keras.Model`` from ``fetch_model``; else ``None``.
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
        The verified model files.
    derived
        Files made from this version and stored beside it (``derive``), e.g. ``model.onnx``.
    revalidation
        ``stale-while-revalidate`` served from the cache: a future resolving to a
        :class:`Revalidation` (call ``.result()`` to wait for it). Otherwise ``None``.
    """

    graph: ModelGraph = field(repr=False)
    model: Any  # a keras.Model (fetch_model) or None: this module never imports Keras
    source: Literal["cache", "network"]
    entry: CacheEntry | None
    url: str
    cache_url: str | None
    artifacts: ModelArtifacts = field(repr=False)
    derived: Mapping[str, bytes] = field(default_factory=dict, repr=False)
    revalidation: Future[Revalidation] | None = field(default=None, repr=False)


def cache_name_for(url: str) -> str:
    """A readable, collision-safe store name for ``url``: model.json's folder + a short hash.

    Examples
    --------
    >>> cache_name_for("http://127.0.0.1:8000/models/mnist/model.json")[:6]
    'mnist-'
    >>> cache_name_for("http://h/v1..2/model.json")[:5]
    'v1.2-'
    """
    parts = urlsplit(url)
    folders = [p for p in parts.path.split("/")[:-1] if p]
    readable = unquote(folders[-1]) if folders else (parts.hostname or "model")
    readable = re.sub(r"[^A-Za-z0-9._-]+", "-", readable)
    readable = re.sub(r"\.{2,}", ".", readable).strip("-._")[:40] or "model"
    return f"{readable}-{sha256_hex(url.encode())[:10]}"


@dataclass(frozen=True)
class _Hit:
    artifacts: ModelArtifacts
    entry: CacheEntry
    graph: ModelGraph
    model: Any


@dataclass
class _Job:
    """One call of :func:`fetch_artifacts`: the URL, its entry, and the steps strategies share."""

    url: str
    name: str
    store: ModelStore
    options: NetworkOptions
    validate: Validate | None
    derive: Derive | None = None
    # follow()'s read of the entry, taken by the strategy's first look: one read per call (in
    # the browser each file-system call is a round trip to the page's storage)
    _first: _Hit | CacheError | ModelFormatError | None = field(default=None, repr=False)

    @property
    def cache_url(self) -> str:
        return cache_url(self.name)

    def result(self, hit: _Hit, future: Future[Revalidation] | None = None) -> FetchResult:
        entry = hit.entry
        return FetchResult(
            hit.graph,
            hit.model,
            "cache",
            entry,
            self.url,
            self.cache_url,
            hit.artifacts,
            entry.derived,
            future,
        )

    def check(self, artifacts: ModelArtifacts, source: str) -> tuple[ModelGraph, Any]:
        """The model graph and what ``validate`` made of it; every way either can refuse
        becomes a ModelFormatError."""
        graph = check_artifacts(artifacts, source=source)
        if self.validate is None:
            return graph, None
        try:
            return graph, self.validate(artifacts, graph, source=source)
        except MnistWidgetsError:
            raise
        except (ValueError, TypeError, KeyError, IndexError, RecursionError) as exc:
            msg = f"{source} does not decode into a model: {type(exc).__name__}: {exc}"
            raise ModelFormatError(msg) from exc

    def cached(self, *, report: bool = True) -> _Hit | None:
        """The valid entry for this URL, or None: a miss, a corrupt entry (reported) or an
        entry that holds another URL's model (reported, unless offline where it is an error)."""
        hit = self.stored(report=report)
        if hit is not None and hit.entry.source_url != self.url:
            self._other_source(hit.entry, report)
            return None
        return hit

    def stored(self, *, report: bool = True) -> _Hit | None:
        """The entry's valid model, whatever URL it came from; None for a miss or a corrupt
        entry (reported)."""
        try:
            return self._read()
        except (CacheError, ModelFormatError) as exc:
            if report and self.store.exists(self.name):
                msg = f"{exc}; treating {self.cache_url} as a miss"
                warn(CacheCorruptWarning(msg))
            return None

    def _read(self) -> _Hit:
        first, self._first = self._first, None
        if isinstance(first, _Hit):
            return first
        if first is not None:
            raise first
        artifacts, entry = self.store.load(self.name)
        return _Hit(artifacts, entry, *self.check(artifacts, self.cache_url))

    def follow(self) -> FetchResult | None:
        """When the entry holds the model from another URL, ask this one whether it serves the
        same model (the entry's validators, then the files' SHA-256s).

        The same model: the entry is recorded under this URL (no bytes re-downloaded after a
        304) and None is returned, so the strategy finds a current entry. Another model: it
        replaces the entry, with a :class:`CacheSourceWarning`, and is returned. Nothing to
        follow (a miss, a corrupt entry, the same URL): None.
        """
        try:
            hit = self._read()
        except (CacheError, ModelFormatError) as exc:
            self._first = exc  # a miss, or a corrupt entry the strategy reports
            return None
        if hit.entry.source_url == self.url:
            self._first = hit  # the common case: the strategy uses this read
            return None
        with _lock(self):
            try:  # no progress bar: usually a few 304s
                got, checked = self.download(hit, progress=False)
            except (DownloadError, ModelFormatError):
                self._other_source(hit.entry, report=True)
                raise
            if got.not_modified or _same_files(got.artifacts, hit.entry):
                self.write(got, hit.entry.derived)  # the same files: what was made from them too
                return None
            held = hit.entry.source_url or "an unknown source"
            msg = (
                f"{self.cache_url} holds the model from {held}, not {self.url}, which serves "
                "another model: it replaces the stored one (pass another cache= name to keep both)"
            )
            warn(CacheSourceWarning(msg))
            return self.save(got, checked)

    def _other_source(self, entry: CacheEntry, report: bool) -> None:
        held = entry.source_url or "an unknown source"
        if offline():
            msg = (
                f"offline mode is on ({ENV_OFFLINE}=1) and {self.cache_url} holds the model from "
                f"{held}, not {self.url}; use another cache= name, or unset {ENV_OFFLINE}"
            )
            raise OfflineError(msg)
        if report:
            msg = f"{self.cache_url} holds the model from {held}, not {self.url}: not using it"
            warn(CacheSourceWarning(msg))

    def download(
        self, hit: _Hit | None = None, **extra: Any
    ) -> tuple[Download, tuple[ModelGraph, Any]]:
        """Download (revalidating ``hit``), then validate: nothing is stored before this."""
        options = NetworkOptions.merge(self.options, **extra)
        if hit is None:
            got = download(self.url, options)
        else:
            validators = {rel: f.validators for rel, f in hit.entry.files.items()}
            got = download(self.url, options, cached=hit.artifacts, cached_validators=validators)
        if got.not_modified:
            assert hit is not None
            return got, (hit.graph, hit.model)
        return got, self.check(got.artifacts, self.url)

    def derived(self, got: Download, graph: ModelGraph) -> Mapping[str, bytes]:
        if self.derive is None:
            return {}
        return self.derive(got.artifacts, graph, source=self.url)

    def write(self, got: Download, derived: Mapping[str, bytes]) -> CacheEntry:
        """Publish a validated download; CacheError if the store cannot be written."""
        return self.store.write(
            self.name,
            got.artifacts,
            source_url=self.url,
            validators=got.validators,
            derived=derived,
        )

    def save(self, got: Download, checked: tuple[ModelGraph, Any]) -> FetchResult:
        graph, model = checked
        derived = self.derived(got, graph)
        try:
            entry: CacheEntry | None = self.write(got, derived)
        except CacheError as exc:
            msg = f"the model from {self.url} is loaded but was not saved for offline use: {exc}"
            warn(CacheWriteWarning(msg))
            entry = None
        url, where = self.url, self.cache_url
        return FetchResult(graph, model, "network", entry, url, where, got.artifacts, derived)


def fetch_artifacts(
    url: str,
    *,
    cache: str | None = None,
    strategy: Strategy = "cache-first",
    store: ModelStore | None = None,
    options: NetworkOptions | None = None,
    validate: Validate | None = None,
    derive: Derive | None = None,
    **network: Any,
) -> FetchResult:
    """Fetch the TF.js model at ``url`` through the model store, validated, without TensorFlow.

    Parameters
    ----------
    url : str
        ``http(s)://.../model.json``.
    cache : str, optional
        Store entry, ``"cache://NAME"`` or ``"NAME"``. Default: the entry that holds ``url``'s
        model under any name, else one derived from the URL (:func:`entry_name_for`).
    strategy : str
        ``"cache-first"`` (default), ``"network-first"``, ``"stale-while-revalidate"``,
        ``"network-only"`` or ``"cache-only"`` (see the module docstring).
    store : ModelStore, optional
        Default: ``ModelStore()`` (``$MNIST_WIDGETS_CACHE`` or the user cache directory).
    options : NetworkOptions, optional
        Timeouts, deadline, retries, size caps, headers, redirects.
    validate : callable, optional
        ``validate(artifacts, graph, *, source)``, run after :func:`check_artifacts` (which
        always runs) before a version is stored and on every cached copy used; raising means
        "not a usable model". What it returns is ``FetchResult.model``.
    derive : callable, optional
        ``derive(artifacts, graph, *, source) -> {"model.onnx": bytes}``: run once on a new
        version; the files are stored beside it and come back as ``FetchResult.derived``.
    **network
        Single :class:`NetworkOptions` fields (``timeout=5``), applied over ``options``.

    Raises
    ------
    DownloadError
        The network was needed and failed (and no valid cached copy could stand in).
    CacheError
        ``cache-only`` and no valid cached copy.
    OfflineError
        Offline mode is on and there is no valid cached copy, or the strategy is
        ``network-only``.
    ConfigError
        An unknown strategy, or an unrecognised ``MNIST_WIDGETS_OFFLINE`` value.
    ModelFormatError
        The server's model is malformed, hostile, or does not validate.
    """
    if strategy not in STRATEGIES:
        msg = f"unknown strategy {strategy!r}; expected one of {', '.join(STRATEGIES)}"
        raise ConfigError(msg)
    check_url(url)
    store = store or ModelStore()
    name = parse_name(cache) if cache else entry_name_for(url, store)
    job = _Job(url, name, store, NetworkOptions.merge(options, **network), validate, derive)
    if offline() and strategy != "network-only":  # network-only: download() says OfflineError
        return _cache_only(job)
    if strategy not in ("network-only", "cache-only"):
        moved = job.follow()
        if moved is not None:
            return moved
    return _STRATEGY[strategy](job)


def entry_name_for(url: str, store: ModelStore) -> str:
    """The store entry for ``url`` when no name is given: :func:`cache_name_for`'s, unless the
    store holds ``url``'s model under another name (``cache fetch URL --name NAME``)."""
    derived = cache_name_for(url)
    if not store.exists(derived):
        for entry in store.list_models():
            if entry.source_url == url:
                return entry.name
    return derived


def _same_files(artifacts: ModelArtifacts, entry: CacheEntry) -> bool:
    """Whether ``artifacts`` hold byte for byte the files ``entry`` records."""
    contents = {MODEL_JSON: artifacts.model_json_bytes(), **artifacts.weight_files}
    return contents.keys() == entry.files.keys() and all(
        sha256_hex(data) == entry.files[rel].sha256 for rel, data in contents.items()
    )


def _cache_first(job: _Job) -> FetchResult:
    hit = job.cached()
    return job.result(hit) if hit is not None else _on_miss(job)


def _on_miss(job: _Job) -> FetchResult:
    """Download once, even when several processes start together."""
    with _lock(job):
        hit = job.cached(report=False)  # someone may have stored it meanwhile
        if hit is not None:
            return job.result(hit)
        try:
            got = job.download()
        except DownloadError as exc:
            if not _in_browser() or isinstance(exc, OfflineError):
                raise
            raise DownloadError(f"{exc}\n{_BROWSER_MISS}") from exc
        return job.save(*got)


# What a learner can do about a miss in the tutorials' web app: no shell there.
_BROWSER_MISS = (
    "The model is not in this browser's storage (it was never saved here, or the browser's data "
    "for this site was cleared) and the site could not be reached. Connect to the network, "
    "reload the page and run the notebook again: the model is downloaded and saved again, and "
    "later runs work offline."
)


def _network_first(job: _Job) -> FetchResult:
    hit = job.cached()
    if hit is None:
        return _on_miss(job)
    try:
        got, checked = job.download(hit)
    except (DownloadError, ModelFormatError) as exc:
        msg = f"could not refresh {job.url} ({exc}); using the cached copy {job.cache_url}"
        warn(NetworkFallbackWarning(msg))
        return job.result(hit)
    if got.not_modified:
        return job.result(hit)
    return job.save(got, checked)


def _stale_while_revalidate(job: _Job) -> FetchResult:
    hit = job.cached()
    if hit is None:
        return _on_miss(job)
    return job.result(hit, _start_revalidation(job, hit))


def _network_only(job: _Job) -> FetchResult:
    got, (graph, model) = job.download()
    return FetchResult(graph, model, "network", None, job.url, None, got.artifacts)


def download_artifacts(
    url: str, *, options: NetworkOptions | None = None, validate: Validate | None = None
) -> ModelArtifacts:
    """Download and validate the model at ``url`` without the store (not even offline: then
    it raises :class:`OfflineError`). ``sources.read_artifacts(url, cache=False)`` is this."""
    check_url(url)
    job = _Job(url, cache_name_for(url), ModelStore(), options or NetworkOptions(), validate)
    return job.download()[0].artifacts


def _cache_only(job: _Job) -> FetchResult:
    hit = job.cached()
    if hit is not None:
        return job.result(hit)
    how = (
        f"load it once with the network allowed (fetch_model({job.url!r}, cache={job.name!r})) "
        f"or run `mnist-widgets cache fetch {job.url} --name {job.name}`"
    )
    if offline():
        msg = (
            f"offline mode is on ({ENV_OFFLINE}=1) and the model store at {str(job.store.root)!r} "
            f"has no valid copy of {job.url} ({job.cache_url}); unset {ENV_OFFLINE} and {how}"
        )
        raise OfflineError(msg)
    raise CacheError(
        f"cache-only: no valid copy of {job.url} in the model store ({job.cache_url}); {how}"
    )


_STRATEGY: Mapping[str, Callable[[_Job], FetchResult]] = {
    "cache-first": _cache_first,
    "network-first": _network_first,
    "stale-while-revalidate": _stale_while_revalidate,
    "network-only": _network_only,
    "cache-only": _cache_only,
}


def _start_revalidation(job: _Job, hit: _Hit) -> Future[Revalidation]:
    future: Future[Revalidation] = Future()
    future.set_running_or_notify_cancel()

    def run() -> None:
        try:
            got, (graph, _) = job.download(hit, progress=False)  # validated before it is written
            if got.not_modified:
                future.set_result(Revalidation("not-modified", hit.entry))
            else:
                entry = job.write(got, job.derived(got, graph))
                future.set_result(Revalidation("updated", entry))
        except Exception as exc:  # reported through the future; the cached copy stays
            future.set_result(Revalidation("failed", hit.entry, exc))

    # Daemon: an interpreter exiting mid-write leaves the old complete entry, never a partial one.
    threading.Thread(target=run, name=f"revalidate-{job.name}", daemon=True).start()
    return future


@contextlib.contextmanager
def _lock(job: _Job) -> Iterator[None]:
    """The entry's download lock; a wait is reported, and bounded by the download deadline.

    Without the lock (read-only store, NFS, a wait that ran out) the download goes ahead: the
    lock saves bandwidth, the store's atomic publishing keeps entries whole.
    """
    lock = _acquire(job)
    try:
        yield
    finally:
        if lock is not None:
            with contextlib.suppress(OSError):
                lock.release()


def _acquire(job: _Job) -> BaseFileLock | None:
    """The acquired lock, or None when it cannot be had (said with a LockWaitWarning if the
    wait ran out)."""
    wait = min(LOCK_TIMEOUT, job.options.total_seconds)
    try:
        lock = job.store.lock(job.name, timeout=wait)
        try:
            lock.acquire(timeout=_LOCK_QUIET)
        except filelock.Timeout:
            msg = f"another process is downloading {job.cache_url}; waiting up to {wait:g} s for it"
            warn(LockWaitWarning(msg))
            lock.acquire(timeout=wait)
    except filelock.Timeout:
        msg = f"gave up waiting {wait:g} s for the lock on {job.cache_url}; downloading anyway"
        warn(LockWaitWarning(msg))
        return None
    except (OSError, CacheError, NotImplementedError):  # some filelocks: no flock (Emscripten)
        return None
    return lock
