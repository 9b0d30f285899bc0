"""Downloading a TF.js model over HTTP, carefully (httpx, no TensorFlow).

What TF.js's own http loader does not do, and this does: check the status of every response,
resolve weight paths relative to ``model.json`` and keep them on the same origin and below its
directory, cap sizes while streaming, check byte counts against the manifest, retry transient
failures with exponential back-off, revalidate cached files with conditional requests, and show
progress.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

import httpx

from .errors import DownloadError, ModelFormatError, OfflineError
from .tfjs.artifacts import (
    ModelArtifacts,
    check_weight_files,
    expected_weight_bytes,
    parse_model_json,
    weight_nbytes,
    weight_paths,
)

ENV_OFFLINE = "MNIST_WIDGETS_OFFLINE"
MAX_MODEL_JSON_BYTES = 32 * 1024 * 1024
MAX_WEIGHTS_BYTES = 2 * 1024 * 1024 * 1024
#: Downloads smaller than this show no progress bar unless asked for.
PROGRESS_MIN_BYTES = 1024 * 1024
_BACKOFF_SECONDS = 0.25  # first retry delay; doubles each attempt
_MAX_RETRY_AFTER = 30.0
_CHUNK = 64 * 1024


def offline() -> bool:
    """Whether ``MNIST_WIDGETS_OFFLINE`` asks for no network access at all."""
    return os.environ.get(ENV_OFFLINE, "").strip().lower() in ("1", "true", "yes", "on")


@dataclass
class Validators:
    """What a server said about one file, for conditional requests later."""

    etag: str | None = None
    last_modified: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        return {"etag": self.etag, "last_modified": self.last_modified}


@dataclass
class Download:
    """The outcome of :func:`download`.

    ``not_modified`` is true when every file answered 304 to a conditional request: ``artifacts``
    is then the cached copy that was passed in, and no body bytes were transferred.
    """

    artifacts: ModelArtifacts
    validators: dict[str, Validators] = field(default_factory=dict)
    not_modified: bool = False

    @property
    def etag(self) -> str | None:
        return self.validators.get("model.json", Validators()).etag

    @property
    def last_modified(self) -> str | None:
        return self.validators.get("model.json", Validators()).last_modified


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
    same_origin = (base.scheme, base.hostname, base.port) == (got.scheme, got.hostname, got.port)
    inside = got.path.startswith(base_dir) and ".." not in decoded.split("/")
    if not same_origin or not inside or "\\" in decoded:
        msg = (
            f"{model_json_url}: refusing weight path {path!r}: it resolves to {url!r}, outside "
            f"{base.scheme}://{base.netloc}{base_dir}; weight files must sit below model.json"
        )
        raise ModelFormatError(msg)
    return url


def _file_expectations(model_json: dict[str, Any]) -> dict[str, int]:
    """Exact byte counts for weight files that are alone in their group (the common case)."""
    exact: dict[str, int] = {}
    for group in model_json["weightsManifest"]:
        if len(group["paths"]) == 1:
            exact[group["paths"][0]] = sum(weight_nbytes(e) for e in group["weights"])
    return exact


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


@dataclass
class _Response:
    status: int
    body: bytes
    validators: Validators


class _Fetcher:
    def __init__(self, client: httpx.Client, retries: int, progress: _Progress | None) -> None:
        self.client = client
        self.retries = max(0, int(retries))
        self.progress = progress

    def get(
        self,
        url: str,
        *,
        label: str,
        cap: int,
        cap_hint: str,
        conditional: Validators | None = None,
    ) -> _Response:
        headers = {}
        if conditional is not None:
            if conditional.etag:
                headers["If-None-Match"] = conditional.etag
            if conditional.last_modified:
                headers["If-Modified-Since"] = conditional.last_modified
        last: Exception | None = None
        for attempt in range(self.retries + 1):
            if attempt:
                delay = _BACKOFF_SECONDS * 2 ** (attempt - 1)
                if isinstance(last, _Transient) and last.retry_after is not None:
                    delay = max(delay, min(last.retry_after, _MAX_RETRY_AFTER))
                time.sleep(delay)
            try:
                response = self._get_once(
                    url, label=label, cap=cap, cap_hint=cap_hint, headers=headers
                )
                if response.status == 304 and conditional is None:
                    msg = f"{url} answered 304 Not Modified to an unconditional request"
                    raise DownloadError(msg)
                return response
            except _Transient as exc:
                last = exc
            except httpx.TimeoutException as exc:
                last = _Transient(f"timed out ({type(exc).__name__}: {exc or 'no data'})")
            except httpx.TransportError as exc:
                last = _Transient(f"{type(exc).__name__}: {exc}")
        tries = f"{self.retries + 1} attempt{'s' if self.retries else ''}"
        msg = (
            f"could not download {label} from {url}: {last} (after {tries}); check that the "
            "server is running and reachable, or load from the cache (strategy='cache-only', "
            f"or set {ENV_OFFLINE}=1)"
        )
        raise DownloadError(msg) from last

    def _get_once(
        self, url: str, *, label: str, cap: int, cap_hint: str, headers: dict[str, str]
    ) -> _Response:
        with self.client.stream("GET", url, headers=headers) as response:
            status = response.status_code
            validators = Validators(
                response.headers.get("etag"), response.headers.get("last-modified")
            )
            if status == 304:
                return _Response(304, b"", validators)
            if status == 429 or status >= 500:
                retry_after = response.headers.get("retry-after", "")
                wait = float(retry_after) if retry_after.strip().isdigit() else None
                raise _Transient(f"HTTP {status} {response.reason_phrase}", wait)
            if status != 200:
                msg = (
                    f"could not download {label}: {url} answered HTTP {status} "
                    f"{response.reason_phrase}; expected 200 (is the URL right, and is every file "
                    "of the model on the server?)"
                )
                raise DownloadError(msg)
            declared = response.headers.get("content-length")
            if declared and declared.isdigit() and int(declared) > cap:
                raise DownloadError(_too_big(label, url, f"declares {int(declared):,}", cap_hint))
            body = bytearray()
            try:
                for chunk in response.iter_bytes(_CHUNK):
                    body += chunk
                    if len(body) > cap:
                        received = f"sent more than {cap:,}"
                        raise DownloadError(_too_big(label, url, received, cap_hint))
                    if self.progress is not None:
                        self.progress.update(len(chunk))
            except httpx.TransportError as exc:
                expected = f" of {int(declared):,}" if declared and declared.isdigit() else ""
                got = max(len(body), response.num_bytes_downloaded)
                msg = f"the transfer was cut off after {got:,}{expected} bytes ({exc})"
                raise _Transient(msg) from exc
            return _Response(200, bytes(body), validators)


def _keep(response: _Response, old: Validators | None) -> Validators:
    """A 304 may omit the validators; then the ones we sent still identify the file."""
    fresh = response.validators
    if response.status == 304 and old is not None and not (fresh.etag or fresh.last_modified):
        return old
    return fresh


def _too_big(label: str, url: str, what: str, hint: str) -> str:
    return f"{label} from {url} is too large: the server {what} bytes; {hint}"


def download(
    url: str,
    *,
    timeout: float = 10.0,
    retries: int = 3,
    progress: bool | None = None,
    max_model_json_bytes: int = MAX_MODEL_JSON_BYTES,
    max_weights_bytes: int = MAX_WEIGHTS_BYTES,
    headers: dict[str, str] | None = None,
    cached: ModelArtifacts | None = None,
    cached_validators: dict[str, Validators] | None = None,
) -> Download:
    """Download (or revalidate) the model at ``url``.

    The network options and errors are those of :func:`mnist_widgets.loader.download_artifacts`.
    With ``cached`` (and its ``cached_validators``), files are revalidated with conditional
    requests and a 304 reuses the cached bytes.
    """
    if offline():
        msg = (
            f"not downloading {url}: offline mode is on ({ENV_OFFLINE}=1); load from the model "
            f"store instead, or unset {ENV_OFFLINE} to allow network access"
        )
        raise OfflineError(msg)
    check_url(url)
    # Conditional requests only make sense with a cached copy to use when the server says 304.
    old = (cached_validators or {}) if cached is not None else {}
    client = httpx.Client(timeout=httpx.Timeout(timeout), follow_redirects=True, headers=headers)
    with client:
        fetcher = _Fetcher(client, retries, None)
        hint = "raise max_model_json_bytes= if this model.json is genuine"
        first = fetcher.get(
            url,
            label="model.json",
            cap=max_model_json_bytes,
            cap_hint=hint,
            conditional=old.get("model.json"),
        )
        validators = {"model.json": _keep(first, old.get("model.json"))}
        if first.status == 304:
            assert cached is not None
            model_json = cached.model_json
        else:
            model_json = parse_model_json(first.body, source=url)
        paths = weight_paths(model_json, source=url)
        total = expected_weight_bytes(model_json)
        if total > max_weights_bytes:
            msg = (
                f"{url} declares {total:,} bytes of weights, above the limit of "
                f"{max_weights_bytes:,}; pass max_weights_bytes= to allow a model this large"
            )
            raise DownloadError(msg)
        exact = _file_expectations(model_json)
        weight_files: dict[str, bytes] = {}
        all_cached = first.status == 304
        bar = _Progress(_want_progress(progress, total), total, url.rsplit("/", 2)[-2] or url)
        fetcher.progress = bar
        try:
            for rel in paths:
                file_url = resolve_weight_url(url, rel)
                remaining = total - sum(len(b) for b in weight_files.values())
                response = fetcher.get(
                    file_url,
                    label=rel,
                    cap=exact.get(rel, remaining),
                    cap_hint=f"the manifest declares {exact.get(rel, remaining):,} "
                    "(a wrong file is being served for this model.json)",
                    conditional=old.get(rel) if cached and rel in cached.weight_files else None,
                )
                validators[rel] = _keep(response, old.get(rel))
                if response.status == 304:
                    assert cached is not None
                    weight_files[rel] = cached.weight_files[rel]
                else:
                    all_cached = False
                    weight_files[rel] = response.body
                if rel in exact and len(weight_files[rel]) != exact[rel]:
                    msg = (
                        f"{file_url}: weight file {rel!r} has {len(weight_files[rel]):,} bytes, "
                        f"but the manifest declares {exact[rel]:,}; the file on the server is "
                        "truncated or belongs to another model.json"
                    )
                    raise ModelFormatError(msg)
        finally:
            bar.close()
    check_weight_files(model_json, weight_files, source=url)
    if all_cached and cached is not None:
        return Download(cached, validators, not_modified=True)
    return Download(ModelArtifacts(model_json, weight_files), validators)
