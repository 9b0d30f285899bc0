"""Faults on the way from a server to the store, each against a real server on 127.0.0.1.

The download path is urllib3's, the one stack every user has (Pyodide's too; the browser tests
in tests/lite run it there). The second half is issue 10's hostile servers and stores
(docs/reliability.md lists them).
"""

from __future__ import annotations

import asyncio
import email.utils
import gzip
import json
import os
import pwd
import re
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import warnings
import zlib
from pathlib import Path

import pytest
from _models import FaultHandler, FaultServer, _Plan, write_tiny_model
from _serving import RecordingServer, serve_directory
from tornado.web import Application

from mnist_widgets.cli import main
from mnist_widgets.errors import (
    CacheError,
    ConfigError,
    DownloadError,
    ModelFormatError,
    OfflineError,
)
from mnist_widgets.loader import (
    CacheCorruptWarning,
    CacheSourceWarning,
    LockWaitWarning,
    NetworkFallbackWarning,
    NetworkOptions,
    cache_name_for,
    fetch_artifacts,
)
from mnist_widgets.sources import read_artifacts
from mnist_widgets.store import ModelStore, parse_name
from mnist_widgets.tfjs.graph import check_artifacts

SHARD = "group1-shard1of1.bin"


class HostileHandler(FaultHandler):
    """FaultHandler plus: ``gzip:N`` (the file gzipped N times, declared so), ``bomb:MiB:N``
    (MiB of zeros gzipped N times), ``badgzip``, ``cutgzip``, ``encoding:NAME``,
    ``retry-after:SECONDS`` (a 503), ``redirect:URL``, ``drip:SECONDS``."""

    async def get(self, path: str) -> None:
        fault = self.plan.next(path)
        kind, _, arg = (fault or "ok").partition(":")
        if kind == "gzip":
            body = (self.root / path).read_bytes()
            self._encoded(body, int(arg))
        elif kind == "bomb":
            mib, layers = (int(x) for x in arg.split(":"))
            self._encoded(_bomb(mib), layers - 1, already=1)
        elif kind == "encoding":  # the file, declared in an encoding we never asked for
            self.set_header("Content-Encoding", arg)
            self.finish((self.root / path).read_bytes())
        elif kind == "retry-after":
            self.set_status(503)
            self.set_header("Retry-After", arg)
            self.finish("busy")
        elif kind == "cutgzip":  # a gzip body that stops half-way, with a matching length
            body = gzip.compress((self.root / path).read_bytes())[:20]
            self.set_header("Content-Encoding", "gzip")
            self.finish(body)
        elif kind == "badgzip":
            self.set_header("Content-Encoding", "gzip")
            self.finish(b"\x1f\x8b\x08\x00garbage, not deflate data at all" * 10)
        elif kind == "redirect":
            self.redirect(arg)
        elif kind == "latin1":  # tornado writes header values as Latin-1: one byte each
            etag = f'"m\xfcnchen-{path.rsplit("/", 1)[-1]}"'
            self.set_header("Server", "m\xfcnchen-cdn")
            self.set_header("X-Note", "caf\xe9 \xa9 \xff")
            self.set_header("ETag", etag)
            if self.request.headers.get("If-None-Match") == etag:
                self.set_status(304)
                self.finish()
            else:
                self.finish((self.root / path).read_bytes())
        elif kind == "drip":
            self.plan.started[path].set()
            data = (self.root / path).read_bytes()
            self.set_header("Content-Length", str(len(data)))
            for i in range(len(data)):
                self.write(data[i : i + 1])
                try:
                    await self.flush()
                except Exception:  # the client gave up: that is the point
                    self._finished = True
                    return
                await _sleep(float(arg))
            self.finish()
        else:
            if fault is not None:  # not ours: hand it back to FaultHandler
                with self.plan.lock:
                    self.plan.queued[path].appendleft(fault)
            await super().get(path)

    def _encoded(self, body: bytes, layers: int, already: int = 0) -> None:
        for _ in range(layers):
            body = gzip.compress(body, compresslevel=9)
        self.set_header("Content-Encoding", ", ".join(["gzip"] * (layers + already)))
        self.finish(body)


async def _sleep(seconds: float) -> None:
    await asyncio.sleep(seconds)


_BOMBS: dict[int, bytes] = {}


def _bomb(mib: int) -> bytes:
    """``mib`` MiB of zeros, gzipped (about 1 KB per MiB)."""
    if mib not in _BOMBS:
        squeeze = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
        zeros = bytes(1 << 20)
        _BOMBS[mib] = b"".join(squeeze.compress(zeros) for _ in range(mib)) + squeeze.flush()
    return _BOMBS[mib]


class HostileServer(FaultServer):
    def __init__(self, root: Path, **kwargs) -> None:
        self.plan = _Plan()
        app = Application([(r"/(.*)", HostileHandler, {"root": root, "plan": self.plan})])
        RecordingServer.__init__(self, app, **kwargs)


@pytest.fixture
def site(tmp_path) -> Path:
    write_tiny_model(tmp_path / "site" / "tiny", seed=1)
    return tmp_path / "site"


@pytest.fixture
def server(site):
    with HostileServer(site) as server:
        yield server


def _url(server) -> str:
    return server.url + "tiny/model.json"


def test_server_down_is_a_download_error_naming_the_url():
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/tiny/model.json"
    with pytest.raises(DownloadError, match=r"(?i)connect.*after 2 attempts") as info:
        fetch_artifacts(url, retries=1)
    assert url in str(info.value)
    assert ModelStore().list_models() == []


def test_404_on_a_shard_fails_at_once_naming_the_file(server):
    server.always(f"tiny/{SHARD}", "status:404")
    with pytest.raises(DownloadError, match=rf"{SHARD}.*HTTP 404"):
        fetch_artifacts(_url(server))
    assert server.statuses(f"tiny/{SHARD}") == [404]  # a 4xx is not retried
    assert ModelStore().list_models() == []


def test_500_then_success_is_retried(server):
    server.fail(f"tiny/{SHARD}", "status:500", "status:503")
    server.fail("tiny/model.json", "status:429")
    result = fetch_artifacts(_url(server), retries=3)
    assert result.source == "network"
    assert server.statuses("tiny/model.json") == [429, 200]
    assert server.statuses(f"tiny/{SHARD}") == [500, 503, 200]


def test_persistent_500_gives_up_after_the_retries(server):
    server.always("tiny/model.json", "status:500")
    with pytest.raises(DownloadError, match=r"HTTP 500.*after 3 attempts"):
        fetch_artifacts(_url(server), retries=2)
    assert server.statuses("tiny/model.json") == [500, 500, 500]


def test_a_stalled_server_times_out(server):
    server.always(f"tiny/{SHARD}", "stall:30")
    start = time.monotonic()
    with pytest.raises(DownloadError, match=rf"{SHARD}.*timed out"):
        fetch_artifacts(_url(server), timeout=0.3, retries=1)
    assert time.monotonic() - start < 5


def test_a_truncated_shard_names_the_file_and_the_byte_counts(server):
    server.always(f"tiny/{SHARD}", "truncate:20")
    with pytest.raises(DownloadError, match=rf"{SHARD} from .*cut off after 20 of 60 bytes"):
        fetch_artifacts(_url(server), retries=1)
    assert ModelStore().list_models() == []


def test_a_wrong_sized_shard_names_the_file_and_the_byte_counts(server, site):
    (site / "tiny" / SHARD).write_bytes(b"\0" * 56)  # e.g. a shard from another model
    with pytest.raises(ModelFormatError, match=rf"{SHARD} hold 56 bytes.*declares 60"):
        fetch_artifacts(_url(server))
    (site / "tiny" / SHARD).write_bytes(b"\0" * 64)
    with pytest.raises(DownloadError, match=r"too large.*manifest declares 60"):
        fetch_artifacts(_url(server))
    assert ModelStore().list_models() == []


def test_a_corrupted_cached_file_is_reported_and_re_fetched(server):
    first = fetch_artifacts(_url(server))
    shard = first.entry.path / SHARD
    shard.write_bytes(bytes(b ^ 0xFF for b in shard.read_bytes()))  # same size, wrong bytes
    with pytest.warns(CacheCorruptWarning, match=f"{SHARD} has SHA-256"):
        again = fetch_artifacts(_url(server))
    assert again.source == "network"
    assert again.artifacts.weight_files == first.artifacts.weight_files
    assert all(r.ok for r in ModelStore().verify())


def test_a_corrupted_cache_is_never_loaded_even_when_the_network_is_down(site):
    with FaultServer(site) as server:
        url = _url(server)
        entry = fetch_artifacts(url).entry
    (entry.path / SHARD).write_bytes(b"\0" * 60)
    with pytest.warns(CacheCorruptWarning), pytest.raises(DownloadError):
        fetch_artifacts(url, retries=0)


def test_a_broken_download_never_replaces_a_good_cached_model(server, site):
    good = fetch_artifacts(_url(server))
    (site / "tiny" / SHARD).write_bytes(b"\0" * 10)  # the server now serves a broken model
    with pytest.warns(NetworkFallbackWarning, match="hold 10 bytes"):
        result = fetch_artifacts(_url(server), strategy="network-first")
    assert result.source == "cache"
    stored = ModelStore().load(good.cache_url)
    assert stored[0].weight_files == good.artifacts.weight_files
    assert stored[1].path == good.entry.path


@pytest.mark.parametrize(
    "path",
    [
        "../secret.bin",
        "/etc/passwd",
        "http://127.0.0.1:1/evil.bin",
        "//evil.example/x.bin",
        "a\\..\\..\\secret.bin",
        "%2e%2e/secret.bin",
        "sub/%2E%2E/%2e%2e/secret.bin",
    ],
)
def test_a_hostile_manifest_is_refused_before_any_weight_request(server, site, path):
    (site / "secret.bin").write_bytes(b"\0" * 60)
    model_json = json.loads((site / "tiny" / "model.json").read_text())
    model_json["weightsManifest"][0]["paths"] = [path]
    (site / "tiny" / "model.json").write_text(json.dumps(model_json))
    with pytest.raises(ModelFormatError, match="refusing weight path"):
        fetch_artifacts(_url(server))
    assert [r.path for r in server.requests] == ["/tiny/model.json"]


def test_an_oversized_model_json_is_stopped_by_content_length(server, site):
    (site / "tiny" / "model.json").write_bytes(b" " * 100_000)
    with pytest.raises(DownloadError, match=r"model.json.*too large.*declares 100,000"):
        fetch_artifacts(_url(server), max_model_json_bytes=10_000)


def test_an_oversized_response_without_length_is_stopped_while_streaming(server, site):
    (site / "tiny" / "model.json").write_bytes(b" " * 1_000_000)
    server.always("tiny/model.json", "chunked")
    with pytest.raises(DownloadError, match=r"too large.*sent more than 10,000 bytes"):
        fetch_artifacts(_url(server), max_model_json_bytes=10_000)


def test_weights_above_the_cap_are_refused_from_the_manifest_alone(server):
    with pytest.raises(DownloadError, match=r"declares 60 bytes of weights.*max_weights_bytes="):
        fetch_artifacts(_url(server), max_weights_bytes=59)
    assert [r.path for r in server.requests] == ["/tiny/model.json"]


_DOWNLOAD = textwrap.dedent(
    """
    import sys
    from mnist_widgets.loader import fetch_artifacts
    result = fetch_artifacts(sys.argv[1], cache="m", strategy=sys.argv[2], timeout=30)
    print(result.source, result.cache_url, flush=True)
    """
)


@pytest.mark.parametrize("with_old_entry", [False, True])
def test_kill_9_mid_download_leaves_the_old_entry_or_nothing(tmp_path, with_old_entry):
    site = tmp_path / "site"
    write_tiny_model(site / "m", seed=1, inputs=256, units=128)  # 129 KiB of weights
    store = ModelStore()
    with FaultServer(site) as server:
        url = server.url + "m/model.json"
        old = None
        if with_old_entry:
            old = fetch_artifacts(url, cache="m").artifacts
            write_tiny_model(site / "m", seed=2, inputs=256, units=128)  # a new version
        server.always(f"m/{SHARD}", "trickle:4096:0.05")  # ~1.6 s for the whole shard
        child = subprocess.Popen(
            [sys.executable, "-c", _DOWNLOAD, url, "network-first"], stdout=subprocess.PIPE
        )
        assert server.plan.started[f"m/{SHARD}"].wait(timeout=30)
        time.sleep(0.3)  # well inside the trickle
        child.send_signal(signal.SIGKILL)
        assert child.wait() == -signal.SIGKILL
    if with_old_entry:
        assert store.read("m").weight_files == old.weight_files
    else:
        assert store.list_models() == []
        assert not store.exists("m")
    assert all(r.ok for r in store.verify())
    store.cleanup()
    assert not [p for p in (store.root / ".tmp").glob("*")]


def test_eight_processes_loading_one_url_into_an_empty_cache(site):
    with serve_directory(site) as server:
        url = server.url + "tiny/model.json"
        children = [
            subprocess.Popen(
                [sys.executable, "-c", _DOWNLOAD, url, "cache-first"],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(8)
        ]
        outputs = [child.communicate(timeout=60) for child in children]
        weights_downloads = [
            r for r in server.requests if r.path == f"/tiny/{SHARD}" and r.status == 200
        ]
    assert [c.returncode for c in children] == [0] * 8, [err for _, err in outputs]
    sources = sorted(out.split()[0] for out, _ in outputs)
    assert all(out.split()[1] == "cache://m" for out, _ in outputs)
    store = ModelStore()
    assert [e.name for e in store.list_models()] == ["m"]
    assert [r.ok for r in store.verify()] == [True]
    assert store.read("m").weight_files == read_artifacts(site / "tiny").weight_files
    # The lock let one process download; the other seven found its entry.
    assert len(weights_downloads) == 1
    assert sources == ["cache"] * 7 + ["network"]


_AS_NOBODY = textwrap.dedent(
    """
    import os, sys, warnings
    # Import first: the interpreter may live under a directory `nobody` cannot read.
    import encodings.idna, filelock, tqdm.auto, urllib3
    from mnist_widgets.loader import fetch_artifacts
    from mnist_widgets.store import ModelStore
    os.setgid(65534)
    os.setuid(65534)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = fetch_artifacts(sys.argv[1], store=ModelStore(sys.argv[2]))
    print(result.source, result.entry, len(result.artifacts.weight_files))
    for w in caught:
        print(type(w.message).__name__, w.message)
    """
)


@pytest.mark.skipif(os.geteuid() != 0, reason="dropping privileges needs root")
def test_a_read_only_cache_directory_as_an_unprivileged_user(site):
    # root ignores directory permissions, and CI runs tests as root: a child process drops to
    # `nobody`, for whom the root-owned 0755 store directory is genuinely read-only.
    pwd.getpwuid(65534)
    shared = Path(tempfile.mkdtemp(prefix="mnist-widgets-ro-", dir="/tmp"))
    try:
        shared.chmod(0o755)
        store_dir = shared / "store"
        store_dir.mkdir(mode=0o755)
        with serve_directory(site) as server:
            proc = subprocess.run(
                [sys.executable, "-c", _AS_NOBODY, server.url + "tiny/model.json", str(store_dir)],
                capture_output=True,
                text=True,
                timeout=60,
                cwd="/",
            )
        assert proc.returncode == 0, proc.stderr
        lines = proc.stdout.splitlines()
        assert lines[0] == "network None 1"
        assert lines[1].startswith("CacheWriteWarning ")
        assert "not saved for offline use" in lines[1] and "Permission denied" in lines[1]
        assert list(store_dir.iterdir()) == []
    finally:
        subprocess.run(["rm", "-rf", str(shared)], check=False)


# == issue 10, the fetching side ============================================================


def _undecodable(site: Path) -> None:
    """Make the served model.json refer to a layer class no reader builds; the weight files,
    their byte counts and every hash stay valid."""
    path = site / "tiny" / "model.json"
    model_json = json.loads(path.read_text())
    model_json["modelTopology"]["config"]["layers"][0]["class_name"] = "Lambda"
    path.write_text(json.dumps(model_json))


# -- 10.1 a version becomes current only after it validates ------------------------------------


def test_network_first_keeps_the_good_model_when_the_update_does_not_decode(server, site):
    good = fetch_artifacts(_url(server))
    _undecodable(site)
    with pytest.warns(NetworkFallbackWarning, match="Lambda"):
        result = fetch_artifacts(_url(server), strategy="network-first")
    assert result.source == "cache"
    assert ModelStore().load(good.cache_url)[1].path == good.entry.path
    server.stop()
    assert fetch_artifacts(_url(server)).artifacts.model_json == good.artifacts.model_json


def test_background_revalidation_never_publishes_an_update_that_does_not_decode(server, site):
    good = fetch_artifacts(_url(server))
    _undecodable(site)
    outcome = fetch_artifacts(_url(server), strategy="stale-while-revalidate").revalidation
    outcome = outcome.result(timeout=20)
    assert outcome.status == "failed"
    assert isinstance(outcome.error, ModelFormatError) and "Lambda" in str(outcome.error)
    assert ModelStore().read(good.cache_url).model_json == good.artifacts.model_json


def test_validate_runs_before_anything_is_stored(server):
    def refuse(artifacts, graph, *, source):
        raise ModelFormatError(f"{source}: refused by the caller's check")

    with pytest.raises(ModelFormatError, match="refused by the caller"):
        fetch_artifacts(_url(server), validate=refuse)
    assert ModelStore().list_models() == []


def test_a_cached_version_that_does_not_validate_is_refetched_online_and_an_error_offline(
    server, site, monkeypatch, capsys
):
    url = _url(server)
    good = read_artifacts(site / "tiny")
    bad_dir = site.parent / "bad"
    bad_dir.mkdir()
    (bad_dir / SHARD).write_bytes((site / "tiny" / SHARD).read_bytes())
    (bad_dir / "model.json").write_text((site / "tiny" / "model.json").read_text())
    model_json = json.loads((bad_dir / "model.json").read_text())
    model_json["modelTopology"]["config"]["layers"][0]["class_name"] = "Lambda"
    (bad_dir / "model.json").write_text(json.dumps(model_json))
    store = ModelStore()
    store.write("m", read_artifacts(bad_dir), source_url=url)  # hashes fine, does not decode
    assert main(["cache", "verify", "m"]) == 1
    assert "CORRUPT  m" in capsys.readouterr().out
    monkeypatch.setenv("MNIST_WIDGETS_OFFLINE", "1")
    with pytest.warns(CacheCorruptWarning, match="Lambda"), pytest.raises(OfflineError):
        fetch_artifacts(url, cache="m")
    monkeypatch.delenv("MNIST_WIDGETS_OFFLINE")
    with pytest.warns(CacheCorruptWarning, match="Lambda"):
        again = fetch_artifacts(url, cache="m")
    assert again.source == "network"
    assert store.read("m").model_json == good.model_json
    assert [r.ok for r in store.verify("m", validate=check_artifacts)] == [True]


# -- 10.4 Content-Encoding: decoded bytes are capped as they are produced -----------------------


def test_a_genuine_gzip_response_is_decoded(server, site):
    server.always("tiny/model.json", "gzip:1")
    server.always(f"tiny/{SHARD}", "gzip:1")
    result = fetch_artifacts(_url(server), strategy="network-only")
    assert result.artifacts.weight_files == read_artifacts(site / "tiny").weight_files


def test_stacked_content_encodings_are_refused(server):
    server.always("tiny/model.json", "gzip:2")
    with pytest.raises(DownloadError, match="stacked Content-Encoding 'gzip, gzip'"):
        fetch_artifacts(_url(server), retries=0)


def test_a_gzip_bomb_stops_at_the_cap_on_decoded_bytes(server):
    server.always("tiny/model.json", "bomb:256:1")  # ~250 KB on the wire, 256 MiB decoded
    start = time.monotonic()
    with pytest.raises(DownloadError, match=r"too large.*more than 1,048,576 bytes"):
        fetch_artifacts(_url(server), retries=0, max_model_json_bytes=1 << 20)
    assert time.monotonic() - start < 10


def test_a_corrupt_gzip_body_is_a_download_error_and_network_first_falls_back(server):
    good = fetch_artifacts(_url(server))
    server.always(f"tiny/{SHARD}", "badgzip")
    with pytest.raises(DownloadError, match="corrupt compressed body"):
        fetch_artifacts(_url(server), strategy="network-only", retries=0)
    server.always("tiny/model.json", "badgzip")
    with pytest.warns(NetworkFallbackWarning, match="corrupt compressed body"):
        result = fetch_artifacts(_url(server), strategy="network-first", retries=0)
    assert result.artifacts.weight_files == good.artifacts.weight_files


def test_an_encoding_we_never_asked_for_is_refused(server):
    server.always("tiny/model.json", "encoding:br")
    with pytest.raises(DownloadError, match="Content-Encoding 'br'; only gzip and deflate"):
        fetch_artifacts(_url(server), retries=0)


def test_a_gzip_body_cut_short_is_retried_then_named(server):
    server.always(f"tiny/{SHARD}", "cutgzip")
    with pytest.raises(DownloadError, match=r"ends early.*after 2 attempts"):
        fetch_artifacts(_url(server), retries=1)
    assert server.statuses(f"tiny/{SHARD}") == [200, 200]


# -- 10.5 a total deadline; lock waits are reported ---------------------------------------------


def test_a_server_dripping_bytes_is_stopped_by_the_deadline(server):
    server.always(f"tiny/{SHARD}", "drip:0.2")  # each byte well inside the read timeout
    start = time.monotonic()
    with pytest.raises(DownloadError, match=r"deadline of 1\.5 s"):
        fetch_artifacts(_url(server), timeout=1, deadline=1.5, retries=3)
    assert time.monotonic() - start < 4


def test_a_long_retry_after_is_not_waited_past_the_deadline(server):
    server.always("tiny/model.json", "retry-after:25")
    start = time.monotonic()
    with pytest.raises(DownloadError, match="no time left to retry within the deadline"):
        fetch_artifacts(_url(server), retries=3, deadline=3)
    assert time.monotonic() - start < 2  # gave up at once instead of sleeping 25 s
    assert server.statuses("tiny/model.json") == [503]


_HOLD = textwrap.dedent(
    """
    import sys, time
    from mnist_widgets.store import ModelStore
    with ModelStore().lock(sys.argv[1]):
        print("held", flush=True)
        time.sleep(float(sys.argv[2]))
    """
)


def test_waiting_for_another_process_s_lock_is_reported_and_bounded(server):
    child = subprocess.Popen(
        [sys.executable, "-c", _HOLD, "m", "30"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout.readline().strip() == "held"
        start = time.monotonic()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = fetch_artifacts(_url(server), cache="m", deadline=2)
        messages = [str(w.message) for w in caught if w.category is LockWaitWarning]
        # raised inside a context manager of the loader: still attributed to this line
        assert {w.filename for w in caught if w.category is LockWaitWarning} == {__file__}
        assert time.monotonic() - start < 10
    finally:
        child.kill()
        child.wait()
    assert result.source == "network"
    assert any("another process is downloading cache://m" in m for m in messages)
    assert any("gave up waiting" in m for m in messages)


# -- 10.6 every failure to get bytes is a DownloadError, and falls back where it can ------------


def test_a_redirect_loop_is_a_download_error_and_network_first_falls_back(server):
    good = fetch_artifacts(_url(server))
    server.always("tiny/model.json", "redirect:/tiny/model.json")
    with pytest.raises(DownloadError, match="redirected more than 10 times"):
        fetch_artifacts(_url(server), strategy="network-only")
    with pytest.warns(NetworkFallbackWarning, match="redirected more than"):
        result = fetch_artifacts(_url(server), strategy="network-first")
    assert result.source == "cache"
    assert result.artifacts.weight_files == good.artifacts.weight_files


def test_a_redirect_to_another_scheme_is_a_download_error(server):
    server.always("tiny/model.json", "redirect:ftp://127.0.0.1/model.json")
    with pytest.raises(DownloadError, match="not http"):
        fetch_artifacts(_url(server))


# -- 20.4 headers are read as the RFCs say: bytes in, lenient out ------------------------------


def test_latin_1_bytes_in_response_headers_are_read_and_validators_sent_back(server):
    server.always("tiny/model.json", "latin1")
    server.always(f"tiny/{SHARD}", "latin1")
    first = fetch_artifacts(_url(server))
    assert first.entry.etag == '"m\xfcnchen-model.json"'
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no fallback: the revalidation itself must work
        again = fetch_artifacts(_url(server), strategy="network-first")
    assert again.source == "cache"
    assert server.statuses("tiny/model.json") == [200, 304]
    assert server.statuses(f"tiny/{SHARD}") == [200, 304]


@pytest.mark.parametrize("value", ["\xb2", "1\xbd", "\xd9\xa3", "-5", "1e3", "soon"])
def test_an_unusable_retry_after_is_ignored_and_the_retry_happens(server, value):
    server.fail("tiny/model.json", f"retry-after:{value}")
    result = fetch_artifacts(_url(server), retries=1, strategy="network-only")
    assert result.source == "network"
    assert server.statuses("tiny/model.json") == [503, 200]


def test_a_retry_after_date_is_honoured(server):
    soon = email.utils.formatdate(time.time() + 1.5, usegmt=True)
    server.fail("tiny/model.json", f"retry-after:{soon}")
    start = time.monotonic()
    fetch_artifacts(_url(server), retries=1, strategy="network-only")
    assert time.monotonic() - start > 0.3  # more than the 0.25 s back-off: the date counted
    assert server.statuses("tiny/model.json") == [503, 200]


@pytest.mark.parametrize(
    "location",
    ["http://[::1/x", "http://127.0.0.1:99999/x", "http://ex\xe4mple.invalid/x", "/tiny/\xfc"],
)
def test_any_redirect_target_is_a_download_error_and_network_first_falls_back(server, location):
    good = fetch_artifacts(_url(server))
    server.always("tiny/model.json", f"redirect:{location}")
    with pytest.raises(DownloadError):
        fetch_artifacts(_url(server), strategy="network-only", retries=0)
    with pytest.warns(NetworkFallbackWarning):
        result = fetch_artifacts(_url(server), strategy="network-first", retries=0)
    assert result.artifacts.weight_files == good.artifacts.weight_files


def test_a_bad_header_on_a_revalidation_falls_back_to_the_cache(server):
    good = fetch_artifacts(_url(server))
    server.always("tiny/model.json", "retry-after:\xb2")
    with pytest.warns(NetworkFallbackWarning, match="HTTP 503"):
        result = fetch_artifacts(_url(server), strategy="network-first", retries=1)
    assert result.source == "cache"
    assert result.artifacts.weight_files == good.artifacts.weight_files


# -- 10.7 credentials never cross origins -------------------------------------------------------


def test_caller_headers_stay_on_the_origin_and_weights_do_not_leave_it(server, site):
    secret = {"Authorization": "Bearer s3cret", "X-Api-Key": "k3y"}
    with HostileServer(site) as other:
        server.always(f"tiny/{SHARD}", f"redirect:{other.url}tiny/{SHARD}")
        with pytest.raises(DownloadError, match="refusing the redirect of weight file"):
            fetch_artifacts(_url(server), headers=secret)
        assert other.requests == []
        options = NetworkOptions(headers=secret, allow_cross_origin_redirects=True)
        result = fetch_artifacts(_url(server), options=options, strategy="network-only")
        assert result.artifacts.weight_files[SHARD] == (site / "tiny" / SHARD).read_bytes()
        # model.json itself may move to another origin, but without the caller's headers
        server.always("tiny/model.json", f"redirect:{other.url}tiny/model.json")
        fetch_artifacts(_url(server), options=options, strategy="network-only")
        seen_by_other = [r.headers for r in other.requests]
    seen_here = [r.headers for r in server.requests]
    assert all(h.get("Authorization") == "Bearer s3cret" for h in seen_here)
    assert seen_by_other and not any(
        key.lower() in ("authorization", "x-api-key") for h in seen_by_other for key in h
    )


def test_the_readme_no_longer_documents_the_cross_origin_limitation():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert "Authorization" not in readme or "forwarded" not in readme


# -- 10.8 store metadata of the wrong shape is a corrupt entry ----------------------------------


def _mangle(meta: dict, how: str) -> object:
    if how == "list":
        return []
    if how == "files-list":
        return {**meta, "files": list(meta["files"])}
    if how == "no-size":
        return {**meta, "files": {k: {**v, "size": None} for k, v in meta["files"].items()}}
    if how == "size-text":
        return {**meta, "files": {k: {**v, "size": "60"} for k, v in meta["files"].items()}}
    if how == "escaping-path":
        return {**meta, "files": {"../../x": meta["files"]["model.json"]}}
    return {**meta, "format": 2}


@pytest.mark.parametrize(
    "how", ["list", "files-list", "no-size", "size-text", "escaping-path", "format-2"]
)
def test_metadata_of_the_wrong_shape_is_a_corrupt_entry(server, how, capsys):
    entry = fetch_artifacts(_url(server), cache="m").entry
    meta_path = entry.path / "metadata.json"
    meta_path.write_text(json.dumps(_mangle(json.loads(meta_path.read_text()), how)))
    assert main(["cache", "list"]) == 1
    out, err = capsys.readouterr()
    assert re.search(r"^m +BROKEN", out, re.M) and "metadata.json is unusable" in err
    assert main(["cache", "info", "m"]) == 1
    assert "metadata.json is unusable" in capsys.readouterr().err
    assert main(["cache", "verify"]) == 1
    assert "CORRUPT  m" in capsys.readouterr().out
    with pytest.warns(CacheCorruptWarning, match="metadata.json is unusable"):
        again = fetch_artifacts(_url(server), cache="m")
    assert again.source == "network"
    assert [r.ok for r in ModelStore().verify()] == [True]


# -- 10.13 an entry remembers its URL -----------------------------------------------------------


def test_a_cache_name_holding_another_url_s_model_is_refetched_with_a_warning(site, monkeypatch):
    write_tiny_model(site / "other", seed=9, units=5)
    with HostileServer(site) as server:
        a, b = server.url + "tiny/model.json", server.url + "other/model.json"
        first = fetch_artifacts(a, cache="mnist")
        with pytest.warns(CacheSourceWarning, match=r"holds the model from .*tiny.*not .*other"):
            second = fetch_artifacts(b, cache="mnist")
        assert second.source == "network"
        assert second.artifacts.weight_files != first.artifacts.weight_files
        assert ModelStore().info("mnist").source_url == b
    monkeypatch.setenv("MNIST_WIDGETS_OFFLINE", "1")
    with pytest.raises(OfflineError, match=r"holds the model from .*other.*not .*tiny"):
        fetch_artifacts(a, cache="mnist")
    monkeypatch.delenv("MNIST_WIDGETS_OFFLINE")
    # A's server is gone: B's model is never served for A
    with pytest.warns(CacheSourceWarning), pytest.raises(DownloadError):
        fetch_artifacts(a, cache="mnist", retries=0)


@pytest.mark.parametrize(
    "url", ["http://h/v1..2/model.json", "http://h/..%2e/model.json", "http://h/%2E%2E/model.json"]
)
def test_cache_names_derived_from_odd_folders_are_valid(url):
    assert parse_name(cache_name_for(url))


# -- NetworkOptions ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad", [{"timeout": -1}, {"timeout": float("nan")}, {"deadline": 0}, {"retries": -2}]
)
def test_network_options_refuse_bad_values_with_a_package_error(bad):
    with pytest.raises(ConfigError):
        NetworkOptions(**bad)
    with pytest.raises(ConfigError):
        fetch_artifacts("http://127.0.0.1:1/model.json", **bad)


def test_network_options_are_frozen_and_keywords_are_declared_once():
    options = NetworkOptions(headers={"A": "1"})
    with pytest.raises(AttributeError):
        options.timeout = 3
    with pytest.raises(TypeError):
        options.headers["B"] = "2"
    with pytest.raises(TypeError, match="unknown network option 'timout'"):
        NetworkOptions.merge(options, timout=3)


def test_cli_cache_fetch_bad_timeout_is_refused_without_a_traceback(capsys):
    with pytest.raises(SystemExit) as info:  # argparse's own refusal: usage, one error line
        main(["cache", "fetch", "http://127.0.0.1:1/model.json", "--timeout", "nan"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "--timeout" in err and "Traceback" not in err


def test_a_missing_store_name_on_a_cache_only_miss_is_a_cache_error(server):
    with pytest.raises(CacheError, match="cache-only"):
        fetch_artifacts(_url(server), strategy="cache-only")


_HOLD_SOFT = textwrap.dedent(
    """
    import sys, time
    from mnist_widgets._filelock import filelock
    with filelock.SoftFileLock(sys.argv[1]):
        print("held", flush=True)
        time.sleep(30)
    """
)


def test_where_only_lock_files_exist_a_load_never_waits_for_one(server, monkeypatch):
    """Pyodide's filelock has only lock files, which outlive a kernel stopped mid-download (a
    closed tab): the store does not lock there (the lock is only an optimisation)."""
    from mnist_widgets._filelock import filelock

    monkeypatch.setattr(filelock, "FileLock", filelock.SoftFileLock)  # what Pyodide gets
    fetch_artifacts(_url(server), cache="first")  # the store exists
    locks = ModelStore().root / ".locks"
    locks.mkdir(exist_ok=True)
    child = subprocess.Popen(
        [sys.executable, "-c", _HOLD_SOFT, str(locks / "m.lock")], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout.readline().strip() == "held"  # a lock file nobody will remove soon
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = fetch_artifacts(_url(server), cache="m", deadline=20)
    finally:
        child.kill()
        child.wait()
    assert result.source == "network"
    assert [str(w.message) for w in caught if w.category is LockWaitWarning] == []
