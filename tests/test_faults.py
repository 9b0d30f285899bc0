"""Faults on the way from a server to the store, each against a real server on 127.0.0.1."""

from __future__ import annotations

import json
import os
import pwd
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest
from _models import FaultServer, write_tiny_model
from _serving import serve_directory

from mnist_widgets.errors import DownloadError, ModelFormatError
from mnist_widgets.io import read_artifacts
from mnist_widgets.loader import CacheCorruptWarning, NetworkFallbackWarning, fetch_artifacts
from mnist_widgets.store import ModelStore

SHARD = "group1-shard1of1.bin"


@pytest.fixture
def site(tmp_path) -> Path:
    write_tiny_model(tmp_path / "site" / "tiny", seed=1)
    return tmp_path / "site"


@pytest.fixture
def server(site):
    with FaultServer(site) as server:
        yield server


def _url(server) -> str:
    return server.url + "tiny/model.json"


def test_server_down_is_a_download_error_naming_the_url():
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/tiny/model.json"
    with pytest.raises(DownloadError, match=r"ConnectError.*after 2 attempts") as info:
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
    with pytest.raises(ModelFormatError, match=rf"'{SHARD}' has 56 bytes.*declares 60"):
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
    with pytest.warns(NetworkFallbackWarning, match="has 10 bytes"):
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
    import encodings.idna, filelock, tqdm.auto
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
