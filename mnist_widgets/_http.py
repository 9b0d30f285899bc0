"""Downloading a TF.js model over HTTP, carefully (httpx, no TensorFlow).

What TF.js's own http loader does not do, and this does: check the status of every response,
resolve weight paths relative to ``model.json`` and keep them on the same origin and below its
directory, follow redirects itself (caller headers never cross to another origin; weight files
may not leave it unless allowed), cap the *decoded* bytes while streaming, check byte counts
against the manifest, retry transient failures with exponential back-off inside one overall
deadline, revalidate cached files with conditional requests, and show progress. Every failure to
get the bytes is a :class:`~mnist_widgets.errors.DownloadError`.

One code path everywhere; only the transport differs: httpx's own on CPython, a small one over
urllib3 under Emscripten (Pyodide), where httpx cannot open sockets but urllib3 >= 2.2 can fetch.
"""

from __future__ import annotations

import math
import os
import sys
import time
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields, replace
from types import MappingProxyType
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

import httpx

from .errors import ConfigError, DownloadError, ModelFormatError, OfflineError
from .tfjs.artifacts import (
    MODEL_JSON,
    ModelArtifacts,
    expected_weight_bytes,
    parse_model_json,
    weight_nbytes,
    weight_paths,
)

ENV_OFFLINE = "MNIST_WIDGETS_OFFLINE"
#: ``httpx`` or ``urllib3``: the transport ``transport="auto"`` picks (default: by platform).
ENV_TRANSPORT = "MNIST_WIDGETS_HTTP_TRANSPORT"
TRANSPORTS = ("auto", "httpx", "urllib3")
MAXMODEL_JSON_BYTES = 32 * 1024 * 1024
MAX_WEIGHTS_BYTES = 2 * 1024 * 1024 * 1024
MAX_REDIRECTS = 10
#: Downloads smaller than this show no progress bar unless asked for.
PROGRESS_MIN_BYTES = 1024 * 1024
_BACKOFF_SECONDS = 0.25  # first retry delay; doubles each attempt
_MAX_RETRY_AFTER = 30.0
_CHUNK = 64 * 1024


def offline() -> bool:
    """Whether ``MNIST_WIDGETS_OFFLINE`` asks for no network access at all."""
    return os.environ.get(ENV_OFFLINE, "").strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class NetworkOptions:
    """How to download: the one place the network settings are declared.

    Parameters
    ----------
    timeout
        Seconds to wait to connect and between bytes received.
    deadline
        Seconds one whole download (model.json, every weight file, retries and back-off) may
        take. Default ``None``: ``max(120, 30 * timeout)`` (300 s for the default timeout).
    retries
        Extra attempts, with exponential back-off, after connection errors, timeouts, HTTP 5xx
        and 429. Other HTTP errors fail at once.
    progress
        Show a progress bar (a widget in Jupyter, tqdm in a terminal). Default: only for an
        interactive session and downloads of 1 MiB or more.
    max_model_json_bytes, max_weights_bytes
        Size caps on the decoded bytes, enforced while streaming.
    headers
        Extra request headers (e.g. authorization). They go to the model's origin only: a
        redirect to another origin drops them all.
    allow_cross_origin_redirects
        Let a weight file redirect to another origin (a CDN). Off by default: the weights then
        come from wherever the server points, not from model.json's origin.
    transport
        ``"auto"`` (urllib3 under Emscripten, httpx elsewhere; ``$MNIST_WIDGETS_HTTP_TRANSPORT``
        overrides), ``"httpx"`` or ``"urllib3"``.

    Raises
    ------
    ConfigError
        A value out of range (a negative or NaN timeout, a negative retry count, ...).

    Examples
    --------
    >>> options = NetworkOptions(timeout=5, retries=0)
    >>> options.total_seconds  # the default deadline: max(120, 30 * timeout)
    150.0
    >>> NetworkOptions.merge(options, deadline=20).total_seconds, options.retries
    (20.0, 0)
    >>> NetworkOptions(timeout=float("nan"))
    Traceback (most recent call last):
    ...
    mnist_widgets.errors.ConfigError: timeout must be a positive number of seconds, got nan
    """

    timeout: float = 10.0
    deadline: float | None = None
    retries: int = 3
    progress: bool | None = None
    max_model_json_bytes: int = MAXMODEL_JSON_BYTES
    max_weights_bytes: int = MAX_WEIGHTS_BYTES
    headers: Mapping[str, str] | None = None
    allow_cross_origin_redirects: bool = False
    transport: str = "auto"

    def __post_init__(self) -> None:
        _positive("timeout", self.timeout)
        if self.deadline is not None:
            _positive("deadline", self.deadline)
        for name in ("retries", "max_model_json_bytes", "max_weights_bytes"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ConfigError(f"{name} must be a non-negative integer, got {value!r}")
        if self.transport not in TRANSPORTS:
            msg = f"transport must be one of {', '.join(TRANSPORTS)}, got {self.transport!r}"
            raise ConfigError(msg)
        if self.headers is not None:  # frozen means frozen: a read-only copy
            object.__setattr__(self, "headers", MappingProxyType(dict(self.headers)))

    @classmethod
    def merge(cls, options: NetworkOptions | None = None, **changes: Any) -> NetworkOptions:
        """``options`` (default ``NetworkOptions()``) with ``changes`` (``timeout=5``, ...)."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(changes) - known)
        if unknown:
            msg = f"unknown network option {unknown[0]!r}; expected one of {', '.join(known)}"
            raise TypeError(msg)
        return replace(options or cls(), **changes)

    @property
    def total_seconds(self) -> float:
        """The overall deadline in seconds (see ``deadline``)."""
        return float(self.deadline if self.deadline is not None else max(120, 30 * self.timeout))


def _positive(name: str, value: Any) -> None:
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if not number or not math.isfinite(value) or value <= 0:
        raise ConfigError(f"{name} must be a positive number of seconds, got {value!r}")


@dataclass(frozen=True)
class Validators:
    """What a server said about one file, for conditional requests later."""

    etag: str | None = None
    last_modified: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        return {"etag": self.etag, "last_modified": self.last_modified}


@dataclass(frozen=True)
class Download:
    """The outcome of :func:`download`.

    ``not_modified`` is true when every file answered 304 to a conditional request: ``artifacts``
    is then the cached copy that was passed in, and no body bytes were transferred.
    """

    artifacts: ModelArtifacts
    validators: Mapping[str, Validators] = field(default_factory=dict)
    not_modified: bool = False


class _Transient(Exception):
    """A failure worth retrying (5xx, 429, connection trouble)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def check_url(url: str) -> None:
    """Raise DownloadError unless ``url`` is an ``http(s)://HOST/...`` URL."""
    parts = urlsplit(str(url))
    if parts.scheme not in ("http", "https") or not parts.hostname:
        msg = (
            f"expected an http(s)://HOST/.../model.json URL, got {url!r}; for a local path, "
            "file:// or cache://NAME use mnist_widgets.load_layers_model"
        )
        raise DownloadError(msg)


def _origin(url: str) -> tuple[str, str | None, int | None]:
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, parts.hostname, port


def resolve_weight_url(model_json_url: str, path: str) -> str:
    """The URL of weight file ``path`` (already checked by ``weight_paths``), confined to the
    origin and directory of ``model_json_url``.

    Raises
    ------
    ModelFormatError
        If the resolved URL leaves model.json's scheme, host, port or directory.
    """
    url = urljoin(model_json_url, path)
    base, got = urlsplit(model_json_url), urlsplit(url)
    base_dir = base.path.rsplit("/", 1)[0] + "/"
    decoded = unquote(got.path)  # a server decodes %2e%2e into '..' before resolving
    inside = got.path.startswith(base_dir) and ".." not in decoded.split("/")
    if _origin(model_json_url) != _origin(url) or not inside or "\\" in decoded:
        msg = (
            f"{model_json_url}: refusing weight path {path!r}: it resolves to {url!r}, outside "
            f"{base.scheme}://{base.netloc}{base_dir}; weight files must sit below model.json"
        )
        raise ModelFormatError(msg)
    return url


# -- transports ------------------------------------------------------------------------------


def make_transport(kind: str = "auto") -> httpx.BaseTransport:
    """The transport for ``kind`` (see ``NetworkOptions.transport``)."""
    if kind == "auto":
        default = "urllib3" if sys.platform == "emscripten" else "httpx"
        kind = os.environ.get(ENV_TRANSPORT, "").strip().lower() or default
    if kind == "urllib3":
        return Urllib3Transport()
    if kind == "httpx":
        return httpx.HTTPTransport()
    raise ConfigError(f"{ENV_TRANSPORT} must be httpx or urllib3, got {kind!r}")


class Urllib3Transport(httpx.BaseTransport):
    """An httpx transport over urllib3 (>= 2.2, which works synchronously under Emscripten).

    It hands httpx the body as it arrives, undecoded (our reader decodes and caps it), and maps
    urllib3's errors to httpx's so the download code above sees one family of errors.
    """

    def __init__(self) -> None:
        import urllib3  # deferred, like each use below: only this transport needs urllib3

        self._pool = urllib3.PoolManager(retries=False)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        import urllib3

        ext = request.extensions.get("timeout", {})
        timeout = urllib3.Timeout(connect=ext.get("connect"), read=ext.get("read"))
        headers = _browser_safe(request.headers)
        with _mapped_errors(request):
            raw = self._pool.request(
                request.method,
                str(request.url),
                headers=headers,
                body=request.read() or None,
                redirect=False,
                retries=False,
                preload_content=False,
                decode_content=False,
                timeout=timeout,
            )
        response_headers = list(raw.headers.items())
        if sys.platform == "emscripten":  # the browser has decoded the body already
            response_headers = [
                (k, v) for k, v in response_headers if k.lower() != "content-encoding"
            ]
        return httpx.Response(
            raw.status,
            headers=response_headers,
            stream=_Urllib3Stream(raw, request),
            extensions={"reason_phrase": (raw.reason or "").encode("latin-1", "replace")},
        )

    def close(self) -> None:
        self._pool.clear()


#: Headers a browser sets itself and refuses from scripts.
_FORBIDDEN = frozenset({"host", "connection", "accept-encoding", "user-agent", "content-length"})


def _browser_safe(headers: httpx.Headers) -> dict[str, str]:
    if sys.platform != "emscripten":
        return dict(headers.items())
    return {k: v for k, v in headers.items() if k.lower() not in _FORBIDDEN}


class _mapped_errors:
    """Re-raise urllib3's exceptions as the httpx ones the download code handles."""

    def __init__(self, request: httpx.Request) -> None:
        self.request = request

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type | None, exc: BaseException | None, tb: Any) -> bool:
        import urllib3.exceptions as u

        if exc is None or not isinstance(exc, u.HTTPError):
            return False
        if isinstance(exc, u.NewConnectionError | u.MaxRetryError):  # before: a subclass
            raise httpx.ConnectError(str(exc), request=self.request) from exc
        if isinstance(exc, u.ConnectTimeoutError):
            raise httpx.ConnectTimeout(str(exc), request=self.request) from exc
        if isinstance(exc, u.TimeoutError):
            raise httpx.ReadTimeout(str(exc), request=self.request) from exc
        raise httpx.RemoteProtocolError(str(exc), request=self.request) from exc


class _Urllib3Stream(httpx.SyncByteStream):
    def __init__(self, raw: Any, request: httpx.Request) -> None:
        self._raw = raw
        self._request = request

    def __iter__(self) -> Iterator[bytes]:
        # Emscripten's response inherits a read1 that raises NotImplementedError: use its read
        read = self._raw.read if sys.platform == "emscripten" else self._raw.read1
        while True:
            with _mapped_errors(self._request):
                chunk = read(_CHUNK, decode_content=False)
            if not chunk:
                self._done = True
                return
            yield chunk

    def close(self) -> None:
        if not getattr(self, "_done", False):  # unread body: the connection cannot be reused
            self._raw.close()
        self._raw.release_conn()


# -- one GET: redirects, status, decoding, caps, deadline -------------------------------------


class _Decoder:
    """Decode a ``Content-Encoding`` body piece by piece, never more than ``_CHUNK`` at a time, so
    a cap on the decoded size stops a compression bomb before it is in memory."""

    def __init__(self, header: str, url: str) -> None:
        codings = [c.strip().lower() for c in header.split(",") if c.strip()]
        codings = [c for c in codings if c != "identity"]
        if len(codings) > 1:
            msg = f"{url} sent a stacked Content-Encoding {header!r}; only one of gzip, deflate"
            raise DownloadError(msg + " is accepted (is the server misconfigured?)")
        self._url = url
        self._zlib = None
        if codings:
            wbits = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS}.get(codings[0])
            if wbits is None and codings[0] != "deflate":
                msg = f"{url} sent Content-Encoding {codings[0]!r}; only gzip and deflate are "
                raise DownloadError(msg + "accepted")
            self._zlib = zlib.decompressobj(wbits or zlib.MAX_WBITS)

    def __call__(self, chunk: bytes) -> Iterator[bytes]:
        if self._zlib is None:
            yield chunk
            return
        try:
            data = chunk
            while data:
                out = self._zlib.decompress(data, _CHUNK)
                data = self._zlib.unconsumed_tail
                yield out
        except zlib.error as exc:
            raise DownloadError(f"{self._url} sent a corrupt compressed body ({exc})") from exc

    def finish(self) -> None:
        if self._zlib is not None and not self._zlib.eof:
            msg = f"{self._url} sent a compressed body that ends early (truncated transfer)"
            raise _Transient(msg)


@dataclass
class _Response:
    status: int
    body: bytes
    validators: Validators


@dataclass
class _Get:
    """One file to fetch: what it is called, its cap, and the validators to send."""

    url: str
    label: str
    cap: int
    cap_hint: str
    conditional: Validators | None = None
    same_origin_only: bool = False

    def conditional_headers(self) -> dict[str, str]:
        headers = {}
        if self.conditional is not None and self.conditional.etag:
            headers["If-None-Match"] = self.conditional.etag
        if self.conditional is not None and self.conditional.last_modified:
            headers["If-Modified-Since"] = self.conditional.last_modified
        return headers


class _Fetcher:
    def __init__(self, client: httpx.Client, options: NetworkOptions) -> None:
        self.client = client
        self.options = options
        self.deadline = time.monotonic() + options.total_seconds
        self.progress: _Progress | None = None

    def remaining(self, what: str) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            msg = (
                f"gave up on {what}: the download took longer than its deadline of "
                f"{self.options.total_seconds:g} s (the server is too slow or drips its bytes); "
                "raise deadline= if the network is genuinely this slow"
            )
            raise DownloadError(msg)
        return left

    def get(self, get: _Get) -> _Response:
        last: Exception | None = None
        for attempt in range(self.options.retries + 1):
            if attempt:
                self._back_off(attempt, last, get.url)
            try:
                response = self._get_once(get)
            except _Transient as exc:
                last = exc
            except httpx.TimeoutException as exc:
                last = _Transient(f"timed out ({type(exc).__name__}: {exc or 'no data'})")
            except httpx.TransportError as exc:
                last = _Transient(f"{type(exc).__name__}: {exc}")
            except (httpx.HTTPError, httpx.InvalidURL) as exc:  # anything else httpx raises
                msg = f"could not download {get.label} from {get.url}: {type(exc).__name__}: {exc}"
                raise DownloadError(msg) from exc
            else:
                if response.status == 304 and get.conditional is None:
                    msg = f"{get.url} answered 304 Not Modified to an unconditional request"
                    raise DownloadError(msg)
                return response
        retries = self.options.retries
        tries = f"{retries + 1} attempt{'s' if retries else ''}"
        msg = (
            f"could not download {get.label} from {get.url}: {last} (after {tries}); check that "
            "the server is running and reachable, or load from the cache (strategy='cache-only', "
            f"or set {ENV_OFFLINE}=1)"
        )
        raise DownloadError(msg) from last

    def _back_off(self, attempt: int, last: Exception | None, url: str) -> None:
        delay = _BACKOFF_SECONDS * 2 ** (attempt - 1)
        if isinstance(last, _Transient) and last.retry_after is not None:
            delay = max(delay, min(last.retry_after, _MAX_RETRY_AFTER))
        if delay >= self.remaining(url):
            msg = f"could not download {url}: {last}; no time left to retry within the deadline"
            raise DownloadError(msg) from last
        time.sleep(delay)

    def _get_once(self, get: _Get) -> _Response:
        response = self._follow(get)
        try:
            return self._read(get, response)
        finally:
            response.close()

    def _follow(self, get: _Get) -> httpx.Response:
        """GET ``get.url``, following redirects here so that no caller header (credentials)
        reaches another origin and weight files stay on model.json's origin unless allowed."""
        url = get.url
        for _ in range(MAX_REDIRECTS + 1):
            headers = {"Accept-Encoding": "gzip, deflate", **get.conditional_headers()}
            if _origin(url) == _origin(get.url):
                headers.update(self.options.headers or {})
            left = self.remaining(get.url)
            timeout = httpx.Timeout(min(self.options.timeout, left))
            request = self.client.build_request("GET", url, headers=headers, timeout=timeout)
            response = self.client.send(request, stream=True, follow_redirects=False)
            if not response.is_redirect or "location" not in response.headers:
                return response
            response.close()
            url = self._redirect_target(get, url, response.headers["location"])
        msg = f"{get.url} redirected more than {MAX_REDIRECTS} times (a redirect loop?)"
        raise DownloadError(msg)

    def _redirect_target(self, get: _Get, url: str, location: str) -> str:
        target = urljoin(url, location)
        if urlsplit(target).scheme not in ("http", "https"):
            raise DownloadError(f"{url} redirected to {target!r}, which is not http(s)")
        crossing = _origin(target) != _origin(get.url)
        if crossing and get.same_origin_only and not self.options.allow_cross_origin_redirects:
            msg = (
                f"refusing the redirect of weight file {get.label!r} from {get.url} to another "
                f"origin ({target}); pass NetworkOptions(allow_cross_origin_redirects=True) if "
                "the weights are meant to come from there"
            )
            raise DownloadError(msg)
        return target

    def _read(self, get: _Get, response: httpx.Response) -> _Response:
        status = response.status_code
        validators = Validators(response.headers.get("etag"), response.headers.get("last-modified"))
        if status == 304:
            return _Response(304, b"", validators)
        if status == 429 or status >= 500:
            retry_after = response.headers.get("retry-after", "")
            wait = float(retry_after) if retry_after.strip().isdigit() else None
            raise _Transient(f"HTTP {status} {response.reason_phrase}", wait)
        if status != 200:
            msg = (
                f"could not download {get.label}: {get.url} answered HTTP {status} "
                f"{response.reason_phrase}; expected 200 (is the URL right, and is every file "
                "of the model on the server?)"
            )
            raise DownloadError(msg)
        declared = response.headers.get("content-length", "")
        encoded = response.headers.get("content-encoding", "identity").strip().lower()
        if encoded == "identity" and declared.isdigit() and int(declared) > get.cap:
            raise DownloadError(_too_big(get, f"declares {int(declared):,}"))
        return _Response(200, self._body(get, response, declared), validators)

    def _body(self, get: _Get, response: httpx.Response, declared: str) -> bytes:
        decode = _Decoder(response.headers.get("content-encoding", ""), get.url)
        body = bytearray()
        try:
            for raw in response.iter_raw():  # as it arrives: a deadline check per read
                for piece in decode(raw):
                    body += piece
                    if len(body) > get.cap:
                        raise DownloadError(_too_big(get, f"sent more than {get.cap:,}"))
                    if self.progress is not None:
                        self.progress.update(len(piece))
                self.remaining(get.url)
        except httpx.TransportError as exc:
            expected = f" of {int(declared):,}" if declared.isdigit() else ""
            got = max(len(body), response.num_bytes_downloaded)
            msg = f"the transfer was cut off after {got:,}{expected} bytes ({exc})"
            raise _Transient(msg) from exc
        decode.finish()
        return bytes(body)


def _too_big(get: _Get, what: str) -> str:
    return f"{get.label} from {get.url} is too large: the server {what} bytes; {get.cap_hint}"


def _keep(response: _Response, old: Validators | None) -> Validators:
    """A 304 may omit the validators; then the ones we sent still identify the file."""
    fresh = response.validators
    if response.status == 304 and old is not None and not (fresh.etag or fresh.last_modified):
        return old
    return fresh


# -- progress ---------------------------------------------------------------------------------


def _want_progress(progress: bool | None, total: int) -> bool:
    if progress is not None:
        return bool(progress)
    if total < PROGRESS_MIN_BYTES:
        return False
    if "ipykernel" in sys.modules:
        return True
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


class _Progress:
    def __init__(self, enabled: bool, total: int, desc: str) -> None:
        self._bar = None
        if enabled:
            from tqdm.auto import tqdm  # a widget in Jupyter, text in a terminal

            self._bar = tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=desc)

    def update(self, n: int) -> None:
        if self._bar is not None:
            self._bar.update(n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


# -- the model: model.json, then its weight files ----------------------------------------------


def _file_expectations(model_json: dict[str, Any]) -> dict[str, int]:
    """Exact byte counts for weight files that are alone in their group (the common case)."""
    exact: dict[str, int] = {}
    for group in model_json["weightsManifest"]:
        if len(group["paths"]) == 1:
            exact[group["paths"][0]] = sum(weight_nbytes(e) for e in group["weights"])
    return exact


def _check_total(url: str, model_json: dict[str, Any], options: NetworkOptions) -> int:
    total = expected_weight_bytes(model_json)
    if total > options.max_weights_bytes:
        msg = (
            f"{url} declares {total:,} bytes of weights, above the limit of "
            f"{options.max_weights_bytes:,}; pass max_weights_bytes= to allow a model this large"
        )
        raise DownloadError(msg)
    return total


def _fetch_model_json(
    fetcher: _Fetcher, url: str, cached: ModelArtifacts | None, old: Validators | None
) -> tuple[dict[str, Any], Validators, bool]:
    """model.json (parsed), its validators, and whether it was the cached one (a 304)."""
    hint = "raise max_model_json_bytes= if this model.json is genuine"
    cap = fetcher.options.max_model_json_bytes
    first = fetcher.get(_Get(url, MODEL_JSON, cap, hint, conditional=old))
    if first.status == 304:
        assert cached is not None
        return cached.model_json, _keep(first, old), True
    return parse_model_json(first.body, source=url), _keep(first, old), False


def _fetch_weights(
    fetcher: _Fetcher,
    url: str,
    model_json: dict[str, Any],
    total: int,
    cached: ModelArtifacts | None,
    old: Mapping[str, Validators],
) -> tuple[dict[str, bytes], dict[str, Validators], bool]:
    """Every weight file (the cached bytes where the server says 304), their validators, and
    whether all of them were 304s. ``total``: the manifest's weight bytes, already capped."""
    exact = _file_expectations(model_json)
    files: dict[str, bytes] = {}
    validators: dict[str, Validators] = {}
    all_cached = True
    for rel in weight_paths(model_json, source=url):
        cap = exact.get(rel, total - sum(len(b) for b in files.values()))
        hint = f"the manifest declares {cap:,} (a wrong file is being served for this model.json)"
        usable = cached is not None and rel in cached.weight_files
        conditional = old.get(rel) if usable else None
        get = _Get(resolve_weight_url(url, rel), rel, cap, hint, conditional, same_origin_only=True)
        response = fetcher.get(get)
        validators[rel] = _keep(response, old.get(rel))
        all_cached = all_cached and response.status == 304
        files[rel] = cached.weight_files[rel] if response.status == 304 else response.body  # type: ignore[union-attr]
    return files, validators, all_cached  # capped above; ModelArtifacts checks the sizes


def download(
    url: str,
    options: NetworkOptions | None = None,
    *,
    cached: ModelArtifacts | None = None,
    cached_validators: Mapping[str, Validators] | None = None,
) -> Download:
    """Download (or, given ``cached`` and its validators, revalidate) the model at ``url``.

    A 304 reuses the cached bytes. Raises :class:`OfflineError` in offline mode (no socket is
    opened), :class:`DownloadError` for every failure to get the bytes, and
    :class:`ModelFormatError` for a malformed model.json, a hostile weight path or files that do
    not match the manifest.
    """
    options = options or NetworkOptions()
    if offline():
        msg = (
            f"not downloading {url}: offline mode is on ({ENV_OFFLINE}=1); load from the model "
            f"store instead, or unset {ENV_OFFLINE} to allow network access"
        )
        raise OfflineError(msg)
    check_url(url)
    old = dict(cached_validators or {}) if cached is not None else {}
    transport = make_transport(options.transport)
    # Environment proxies would mount httpx's own transports over ours: only httpx's honours them.
    trust_env = isinstance(transport, httpx.HTTPTransport)
    with httpx.Client(transport=transport, trust_env=trust_env) as client:
        fetcher = _Fetcher(client, options)
        model_json, first, json_cached = _fetch_model_json(
            fetcher, url, cached, old.get(MODEL_JSON)
        )
        total = _check_total(url, model_json, options)
        bar = _Progress(_want_progress(options.progress, total), total, _label(url))
        fetcher.progress = bar
        try:
            files, validators, weights_cached = _fetch_weights(
                fetcher, url, model_json, total, cached, old
            )
        finally:
            bar.close()
    validators = {MODEL_JSON: first, **validators}
    if json_cached and weights_cached and cached is not None:
        return Download(cached, validators, not_modified=True)
    return Download(ModelArtifacts(model_json, files, url), validators)  # checks every file


def _label(url: str) -> str:
    return url.rsplit("/", 2)[-2] or url
