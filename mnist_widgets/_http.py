"""Downloading a TF.js model over HTTP, carefully (urllib3, no TensorFlow).

What TF.js's own http loader does not do, and this does: check the status of every response,
resolve weight paths relative to ``model.json`` and keep them on the same origin and below its
directory, follow redirects itself (caller headers never cross to another origin; weight files
may not leave it unless allowed), cap the *decoded* bytes while streaming, check byte counts
against the manifest, retry transient failures with exponential back-off inside one overall
deadline, revalidate cached files with conditional requests, and show progress. Every failure to
get the bytes is a :class:`~mnist_widgets.errors.DownloadError`.

One stack everywhere: urllib3 (>= 2.2), which opens sockets on CPython and fetches through the
browser under Emscripten (Pyodide). Environment proxies (``HTTP_PROXY``, ``HTTPS_PROXY``,
``ALL_PROXY``, ``NO_PROXY``, as :func:`urllib.request.getproxies` reads them) are honoured on
CPython; in a browser the browser's own settings apply. Response headers are read as the RFCs say:
bytes (Latin-1, one character per byte) in, lenient out: a value we cannot use is ignored, never
an exception.
"""

from __future__ import annotations

import contextlib
import http.client
import math
import re
import sys
import time
import urllib.request
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields, replace
from email.utils import parsedate_to_datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urljoin, urlsplit

from ._env import ENV_OFFLINE, installed_only, offline
from ._env import in_browser as _in_browser

with installed_only():  # urllib3's optional modules are never in the notebook's folder
    import urllib3
    from urllib3 import BaseHTTPResponse
    from urllib3.exceptions import HTTPError as Urllib3Error
    from urllib3.exceptions import ProtocolError, ProxyError, ProxySchemeUnknown
    from urllib3.exceptions import TimeoutError as Urllib3Timeout

    try:  # on CPython (a dependency there); Pyodide's browser verifies certificates itself
        import certifi
    except ImportError:  # pragma: no cover - Pyodide
        certifi = None  # type: ignore[assignment]  # None stands in for the module Pyodide lacks

from ._validators import Validators
from .errors import ConfigError, DownloadError, MnistWidgetsError, ModelFormatError, OfflineError
from .tfjs.artifacts import (
    MAX_MODEL_JSON_BYTES,
    MAX_WEIGHTS_BYTES,
    MODEL_JSON,
    ModelArtifacts,
    expected_weight_bytes,
    parse_model_json,
    weight_nbytes,
    weight_paths,
)

if TYPE_CHECKING:
    import ssl

MAX_REDIRECTS = 10
#: Downloads smaller than this show no progress bar unless asked for.
PROGRESS_MIN_BYTES = 1024 * 1024
_BACKOFF_SECONDS = 0.25  # first retry delay; doubles each attempt
_MAX_RETRY_AFTER = 30.0
_CHUNK = 64 * 1024
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


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
    max_model_json_bytes: int = MAX_MODEL_JSON_BYTES
    max_weights_bytes: int = MAX_WEIGHTS_BYTES
    headers: Mapping[str, str] | None = None
    allow_cross_origin_redirects: bool = False

    def __post_init__(self) -> None:
        _positive("timeout", self.timeout)
        if self.deadline is not None:
            _positive("deadline", self.deadline)
        for name in ("retries", "max_model_json_bytes", "max_weights_bytes"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ConfigError(f"{name} must be a non-negative integer, got {value!r}")
        if self.headers is not None:  # frozen means frozen: a read-only copy
            for key, value in self.headers.items():
                _check_header(key, value)
            object.__setattr__(self, "headers", MappingProxyType(dict(self.headers)))

    @classmethod
    def merge(cls, options: NetworkOptions | None = None, **changes: Any) -> NetworkOptions:
        """``options`` (default ``NetworkOptions()``) with ``changes`` (``timeout=5``, ...)."""
        known = [f.name for f in fields(cls)]
        unknown = sorted(set(changes) - set(known))
        if unknown:
            msg = f"unknown network option {unknown[0]!r}; expected one of {', '.join(known)}"
            raise TypeError(msg)
        return replace(options or cls(), **changes)

    @property
    def total_seconds(self) -> float:
        """The overall deadline in seconds (see ``deadline``)."""
        return float(self.deadline if self.deadline is not None else max(120, 30 * self.timeout))


def _positive(name: str, value: object) -> None:
    if (
        not isinstance(value, int | float)
        or isinstance(value, bool)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ConfigError(f"{name} must be a positive number of seconds, got {value!r}")


_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # a header name (RFC 9110 5.6.2)


def _check_header(key: object, value: object) -> None:
    if not (isinstance(key, str) and _TOKEN.fullmatch(key)):
        raise ConfigError(f"headers: {key!r} is not a valid HTTP header name")
    if not (isinstance(value, str) and _FIELD_VALUE.fullmatch(value)):
        msg = (
            f"headers: the value of {key!r} must be a string of printable Latin-1 characters "
            f"(no line breaks), got {value!r:.60}"
        )
        raise ConfigError(msg)


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
    try:
        parts = urlsplit(str(url))
        hostname = parts.hostname
    except ValueError as exc:  # a malformed port or IPv6 literal
        raise DownloadError(f"expected an http(s)://HOST/.../model.json URL, got {url!r}") from exc
    if parts.scheme not in ("http", "https") or not hostname:
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


# -- response headers: bytes in (one character per byte), lenient out ------------------------

_DIGITS = re.compile(r"[0-9]{1,18}")  # ASCII only: str.isdigit() also accepts "²" and "٣"
#: What may travel back in a conditional request: visible Latin-1, spaces and tabs (RFC 9110 5.5).
_FIELD_VALUE = re.compile(r"[\t\x20-\x7e\x80-\xff]*")


def _digits(value: str | None) -> int | None:
    """A ``1*DIGIT`` header value (``Content-Length``); repeated equal values are one."""
    if value is None:
        return None
    found = {v.strip() for v in value.split(",")}
    if len(found) != 1:
        return None
    (text,) = found
    return int(text) if _DIGITS.fullmatch(text) else None


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """``Retry-After`` in seconds: delay-seconds or an HTTP-date (RFC 9110 10.2.3); ``None`` for
    anything else.

    Examples
    --------
    >>> retry_after_seconds("7"), retry_after_seconds("²"), retry_after_seconds("soon")
    (7.0, None, None)
    >>> retry_after_seconds("Thu, 01 Jan 1970 00:01:40 GMT", now=40.0)
    60.0
    """
    if value is None:
        return None
    text = value.strip()
    if _DIGITS.fullmatch(text):
        return float(text)
    try:
        when = parsedate_to_datetime(text).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return max(0.0, when - (time.time() if now is None else now))


def _validator(value: str | None) -> str | None:
    """A validator we can send back byte for byte; anything else is as if none was sent."""
    if value is None or not value.strip() or not _FIELD_VALUE.fullmatch(value):
        return None
    return value.strip()


def _validators(headers: Mapping[str, str]) -> Validators:
    return Validators(_validator(headers.get("etag")), _validator(headers.get("last-modified")))


# -- connections: urllib3 pools, direct or through the environment's proxy --------------------


#: Headers a browser sets itself and refuses from scripts.
_BROWSER_SETS = frozenset({"host", "connection", "accept-encoding", "user-agent", "content-length"})


def _tls_context() -> ssl.SSLContext | None:
    """The certificates HTTPS trusts: the system's (``SSL_CERT_FILE`` and ``SSL_CERT_DIR``
    honoured) plus certifi's bundle where it is installed and readable, so a Python without
    system certificates (python.org's macOS build) still verifies servers; ``None`` in a
    browser, which verifies them itself."""
    if _in_browser():
        return None
    # deferred: Pyodide may not have the ssl module loaded, and a browser verifies TLS itself
    from urllib3.util.ssl_ import create_urllib3_context

    context = create_urllib3_context()  # TLS 1.2+, certificates and host names verified
    context.load_default_certs()
    if certifi is not None:
        with contextlib.suppress(OSError):  # an unreadable bundle: the system's CAs still apply
            context.load_verify_locations(certifi.where())
    return context


class _Connections:
    """The urllib3 pools of one download: direct, or through the proxy the environment names;
    the TLS context is made on the first https:// request only."""

    def __init__(self) -> None:
        self._proxies: dict[str, str] = {} if _in_browser() else urllib.request.getproxies()
        self._managers: dict[tuple[str | None, bool], urllib3.PoolManager] = {}

    def __enter__(self) -> _Connections:
        return self

    def __exit__(self, *exc: object) -> None:
        for manager in self._managers.values():
            manager.clear()

    def proxy_for(self, url: str) -> str | None:
        """The proxy URL for ``url``, or ``None`` to connect directly (``NO_PROXY`` included)."""
        parts = urlsplit(url)
        proxy = self._proxies.get(parts.scheme) or self._proxies.get("all")
        if not proxy:
            return None
        host = parts.netloc.rpartition("@")[2]
        return None if urllib.request.proxy_bypass(host) else proxy

    def get(self, url: str, headers: Mapping[str, str], timeout: float) -> BaseHTTPResponse:
        """Send one GET (no redirects, no retries, body not read yet); return the response."""
        manager = self._manager(self.proxy_for(url), url.lower().startswith("https:"))
        if _in_browser():
            headers = {k: v for k, v in headers.items() if k.lower() not in _BROWSER_SETS}
        return manager.request(
            "GET",
            url,
            headers=dict(headers),
            redirect=False,
            retries=False,
            preload_content=False,
            decode_content=False,  # _Decoder decodes, and caps what it decodes
            timeout=urllib3.Timeout(connect=timeout, read=timeout),
        )

    def _manager(self, proxy: str | None, secure: bool) -> urllib3.PoolManager:
        key = (proxy, secure)
        if key not in self._managers:
            tls = _tls_context() if secure else None
            if proxy is None:
                self._managers[key] = urllib3.PoolManager(retries=False, ssl_context=tls)
            else:
                self._managers[key] = _proxy_manager(proxy, tls)
        return self._managers[key]


def _proxy_manager(proxy: str, tls: ssl.SSLContext | None) -> urllib3.ProxyManager:
    parts = urlsplit(proxy)
    auth = unquote(parts.netloc.rpartition("@")[0]) if "@" in parts.netloc else None
    try:
        proxy_headers = urllib3.make_headers(proxy_basic_auth=auth) if auth else None
        return urllib3.ProxyManager(
            proxy, proxy_headers=proxy_headers, retries=False, ssl_context=tls
        )
    except (ProxySchemeUnknown, ValueError) as exc:
        msg = (
            f"cannot use the proxy {_without_auth(proxy)!r} from the environment ({exc}); "
            "only http:// and https:// proxies are supported: fix HTTP_PROXY, "
            "HTTPS_PROXY or ALL_PROXY, or name the host in NO_PROXY"
        )
        raise DownloadError(msg) from exc


def _without_auth(url: str) -> str:
    parts = urlsplit(url)
    return parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()


def _read_chunk(response: BaseHTTPResponse) -> bytes:
    # Emscripten's response inherits a read1 that raises NotImplementedError: use its read
    if _in_browser():
        return bytes(response.read(_CHUNK, decode_content=False))
    return bytes(response.read1(_CHUNK, decode_content=False))


def _content_encoding(response: BaseHTTPResponse) -> str:
    if _in_browser():  # the browser has decoded the body already
        return ""
    return str(response.headers.get("content-encoding", ""))


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
        self._zlib: Any = None  # a zlib decompressor (its type is private to zlib)
        if codings:
            wbits = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS}.get(codings[0])
            if wbits is None and codings[0] != "deflate":
                msg = f"{url} sent Content-Encoding {codings[0]!r}; only gzip and deflate are "
                raise DownloadError(msg + "accepted")
            self._zlib = zlib.decompressobj(wbits or zlib.MAX_WBITS)

    @property
    def identity(self) -> bool:
        return self._zlib is None

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
class _Request:
    """One file to fetch: what it is called, its cap, and the validators to send."""

    url: str
    label: str
    cap: int
    cap_hint: str
    conditional: Validators | None = None
    same_origin_only: bool = False


def _describe(exc: BaseException) -> str:
    """A transport failure in a few words (urllib3 nests the cause in its message)."""
    if isinstance(exc, Urllib3Timeout):
        return f"timed out ({type(exc).__name__}: {exc})"
    if isinstance(exc, ProxyError):
        return f"the proxy failed ({exc})"
    return f"{type(exc).__name__}: {exc}"


class _Fetcher:
    def __init__(self, connections: _Connections, options: NetworkOptions) -> None:
        self.connections = connections
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

    def fetch(self, request: _Request) -> _Response:
        """GET ``request.url`` with retries; every failure is a DownloadError (or the
        ModelFormatError of a hostile answer)."""
        last: Exception | None = None
        for attempt in range(self.options.retries + 1):
            if attempt:
                self._back_off(attempt, last, request.url)
            try:
                response = self._fetch_once(request)
            except MnistWidgetsError:
                raise
            except _Transient as exc:
                last = exc
            except (Urllib3Error, OSError, http.client.HTTPException) as exc:
                if isinstance(exc, ValueError):  # a URL urllib3 refuses: retrying cannot help
                    raise self._failed(request, exc) from exc
                last = _Transient(_describe(exc))
            except (ValueError, LookupError) as exc:  # e.g. an unusable Location header
                raise self._failed(request, exc) from exc
            else:
                if response.status == 304 and request.conditional is None:
                    msg = f"{request.url} answered 304 Not Modified to an unconditional request"
                    raise DownloadError(msg)
                return response
        retries = self.options.retries
        tries = f"{retries + 1} attempt{'s' if retries else ''}"
        msg = (
            f"could not download {request.label} from {request.url}: {last} (after {tries}); "
            "check that the server is running and reachable, or load from the cache "
            f"(strategy='cache-only', or set {ENV_OFFLINE}=1)"
        )
        raise DownloadError(msg) from last

    @staticmethod
    def _failed(request: _Request, exc: BaseException) -> DownloadError:
        what = f"{type(exc).__name__}: {exc}"
        return DownloadError(f"could not download {request.label} from {request.url}: {what}")

    def _back_off(self, attempt: int, last: Exception | None, url: str) -> None:
        delay = _BACKOFF_SECONDS * 2 ** (attempt - 1)
        if isinstance(last, _Transient) and last.retry_after is not None:
            delay = max(delay, min(last.retry_after, _MAX_RETRY_AFTER))
        if delay >= self.remaining(url):
            msg = f"could not download {url}: {last}; no time left to retry within the deadline"
            raise DownloadError(msg) from last
        time.sleep(delay)

    def _fetch_once(self, request: _Request) -> _Response:
        response = self._follow(request)
        try:
            return self._read(request, response)
        except BaseException:
            response.close()  # a body left unread: the connection cannot be reused
            raise
        finally:
            response.release_conn()

    def _follow(self, request: _Request) -> BaseHTTPResponse:
        """GET ``request.url``, following redirects here so that no caller header (credentials)
        reaches another origin and weight files stay on model.json's origin unless allowed."""
        url = request.url
        conditional = request.conditional or Validators()
        for _ in range(MAX_REDIRECTS + 1):
            headers = {"Accept-Encoding": "gzip, deflate", **conditional.conditional_headers()}
            if _origin(url) == _origin(request.url):
                headers.update(self.options.headers or {})
            timeout = min(self.options.timeout, self.remaining(request.url))
            response = self.connections.get(url, headers, timeout)
            location = response.headers.get("location")
            if response.status not in _REDIRECTS or not location:
                return response
            response.close()  # not drained: a redirect's body may be endless
            response.release_conn()
            url = self._redirect_target(request, url, location)
        msg = f"{request.url} redirected more than {MAX_REDIRECTS} times (a redirect loop?)"
        raise DownloadError(msg)

    def _redirect_target(self, request: _Request, url: str, location: str) -> str:
        target = urljoin(url, location.strip())
        if urlsplit(target).scheme not in ("http", "https"):
            raise DownloadError(f"{url} redirected to {target!r}, which is not http(s)")
        crossing = _origin(target) != _origin(request.url)
        if crossing and request.same_origin_only and not self.options.allow_cross_origin_redirects:
            msg = (
                f"refusing the redirect of weight file {request.label!r} from {request.url} to "
                f"another origin ({target}); pass NetworkOptions(allow_cross_origin_redirects="
                "True) if the weights are meant to come from there"
            )
            raise DownloadError(msg)
        return target

    def _read(self, request: _Request, response: BaseHTTPResponse) -> _Response:
        status = int(response.status)
        headers = response.headers
        validators = _validators(headers)
        reason = response.reason or http.client.responses.get(status, "")
        if status == 304:
            return _Response(304, b"", validators)
        if status == 429 or status >= 500:
            raise _Transient(
                f"HTTP {status} {reason}", retry_after_seconds(headers.get("retry-after"))
            )
        if status != 200:
            msg = (
                f"could not download {request.label}: {request.url} answered HTTP {status} "
                f"{reason}; expected 200 (is the URL right, and is every file of the model on "
                "the server?)"
            )
            raise DownloadError(msg)
        declared = _digits(headers.get("content-length"))
        decode = _Decoder(_content_encoding(response), request.url)
        if decode.identity and declared is not None and declared > request.cap:
            raise DownloadError(_too_big(request, f"declares {declared:,}"))
        return _Response(200, self._body(request, response, decode, declared), validators)

    def _body(
        self, request: _Request, response: BaseHTTPResponse, decode: _Decoder, declared: int | None
    ) -> bytes:
        body = bytearray()
        received = 0
        try:
            while raw := _read_chunk(response):  # as it arrives: a deadline check per read
                received += len(raw)
                for piece in decode(raw):
                    body += piece
                    if len(body) > request.cap:
                        raise DownloadError(_too_big(request, f"sent more than {request.cap:,}"))
                    if self.progress is not None:
                        self.progress.update(len(piece))
                self.remaining(request.url)
        except (ProtocolError, OSError, http.client.HTTPException) as exc:
            expected = f" of {declared:,}" if declared is not None else ""
            got = max(len(body), received)
            msg = f"the transfer was cut off after {got:,}{expected} bytes ({exc})"
            raise _Transient(msg) from exc
        decode.finish()
        return bytes(body)


def _too_big(request: _Request, what: str) -> str:
    return (
        f"{request.label} from {request.url} is too large: the server {what} bytes; "
        f"{request.cap_hint}"
    )


def _validators_after(response: _Response, sent: Validators | None) -> Validators:
    """The validators that identify the file now: a 304 may omit them, and then the ones we sent
    still do."""
    if response.status == 304 and sent is not None and not response.validators:
        return sent
    return response.validators


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
        self._bar: Any = None  # a tqdm bar (a widget in Jupyter)
        if enabled:
            from tqdm.auto import tqdm  # deferred: only a shown bar needs tqdm (and its widget)

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
    fetcher: _Fetcher, url: str, cached: ModelArtifacts | None, sent: Validators | None
) -> tuple[dict[str, Any], Validators, bool]:
    """model.json (parsed), its validators, and whether it was the cached one (a 304)."""
    hint = "raise max_model_json_bytes= if this model.json is genuine"
    cap = fetcher.options.max_model_json_bytes
    first = fetcher.fetch(_Request(url, MODEL_JSON, cap, hint, conditional=sent))
    if first.status == 304:
        assert cached is not None  # only a conditional request can answer 304
        return dict(cached.model_json), _validators_after(first, sent), True
    return parse_model_json(first.body, source=url), _validators_after(first, sent), False


def _fetch_weights(
    fetcher: _Fetcher,
    url: str,
    model_json: dict[str, Any],
    total: int,
    cached: ModelArtifacts | None,
    sent: Mapping[str, Validators],
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
        cached_bytes = cached.weight_files.get(rel) if cached is not None else None
        conditional = sent.get(rel) if cached_bytes is not None else None
        request = _Request(
            resolve_weight_url(url, rel), rel, cap, hint, conditional, same_origin_only=True
        )
        response = fetcher.fetch(request)
        validators[rel] = _validators_after(response, sent.get(rel))
        all_cached = all_cached and response.status == 304
        if response.status == 304 and cached_bytes is not None:
            files[rel] = cached_bytes
        else:
            files[rel] = response.body
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
    sent = dict(cached_validators or {}) if cached is not None else {}
    with _Connections() as connections:
        fetcher = _Fetcher(connections, options)
        model_json, first, json_cached = _fetch_model_json(
            fetcher, url, cached, sent.get(MODEL_JSON)
        )
        total = _check_total(url, model_json, options)
        bar = _Progress(_want_progress(options.progress, total), total, _label(url))
        fetcher.progress = bar
        try:
            files, validators, weights_cached = _fetch_weights(
                fetcher, url, model_json, total, cached, sent
            )
        finally:
            bar.close()
    validators = {MODEL_JSON: first, **validators}
    if json_cached and weights_cached and cached is not None:
        return Download(cached, validators, not_modified=True)
    return Download(ModelArtifacts(model_json, files, url), validators)  # checks every file


def _label(url: str) -> str:
    return url.rsplit("/", 2)[-2] or url
