"""fetch_model and its strategies against a real server on 127.0.0.1 (nothing mocked)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import urllib3
from _models import write_tiny_model
from _serving import serve_directory

from mnist_widgets.cli import main
from mnist_widgets.errors import CacheError, ConfigError, DownloadError, OfflineError
from mnist_widgets.keras_io import fetch_model
from mnist_widgets.loader import (
    STRATEGIES,
    CacheWriteWarning,
    NetworkOptions,
    cache_name_for,
    fetch_artifacts,
)
from mnist_widgets.sources import read_artifacts
from mnist_widgets.store import ModelStore


@pytest.fixture
def model_dir(tmp_path) -> Path:
    return write_tiny_model(tmp_path / "site" / "tiny", seed=1)


@pytest.fixture
def server(model_dir):
    with serve_directory(model_dir.parent) as server:
        yield server


def _url(server) -> str:
    return server.url + "tiny/model.json"


def _bodies(server) -> list[tuple[str, int]]:
    return [(r.path, r.status) for r in server.requests]


def test_cold_load_stores_then_loads_from_cache_with_the_server_stopped(seed_model_dir, tmp_path):
    # The article's flow, with its real model: identical predictions from both sources.
    digits = np.random.default_rng(0).random((5, 28, 28, 1), dtype=np.float32)
    with serve_directory(seed_model_dir) as server:
        url = server.url + "model.json"
        cold = fetch_model(url, cache="seed")
        assert (cold.source, cold.cache_url) == ("network", "cache://seed")
        assert cold.entry.source_url == url
        assert cold.entry.etag == urllib3.request("GET", url).headers["etag"]
    warm = fetch_model(url, cache="seed")  # server gone: only the store can answer
    assert warm.source == "cache"
    # the onnxruntime engine's graph is kept beside it: a TF-free load later builds nothing
    assert set(cold.entry.derived) == set(warm.derived) == {"model.onnx"}
    assert warm.entry.files["weights.bin"].size == (seed_model_dir / "weights.bin").stat().st_size
    expected = cold.model.predict(digits, verbose=0)
    np.testing.assert_array_equal(warm.model.predict(digits, verbose=0), expected)
    assert expected.shape == (5, 10)


def test_first_load_records_validators_and_a_second_makes_no_request(server):
    first = fetch_artifacts(_url(server))
    assert first.source == "network"
    assert first.entry.etag and first.entry.last_modified
    assert all(f.validators.etag for f in first.entry.files.values())
    server.clear_requests()
    second = fetch_artifacts(_url(server))
    assert second.source == "cache"
    assert second.artifacts.weight_files == first.artifacts.weight_files
    assert server.requests == []


def _change_model(model_dir: Path, seed: int) -> None:
    write_tiny_model(model_dir, seed=seed)  # same model.json, new weights: a retrained model


def test_cache_first_keeps_the_old_model_until_asked(server, model_dir):
    old = fetch_artifacts(_url(server)).artifacts
    _change_model(model_dir, seed=2)
    assert fetch_artifacts(_url(server)).artifacts.weight_files == old.weight_files
    fresh = fetch_artifacts(_url(server), strategy="network-first")
    assert fresh.source == "network"
    assert fresh.artifacts.weight_files != old.weight_files


def test_unchanged_model_network_first_costs_one_304_per_file_and_no_body(server):
    fetch_artifacts(_url(server))
    server.clear_requests()
    result = fetch_artifacts(_url(server), strategy="network-first")
    assert result.source == "cache"
    log = server.requests
    assert [(r.path, r.status) for r in log] == [
        ("/tiny/model.json", 304),
        ("/tiny/group1-shard1of1.bin", 304),
    ]
    assert all("If-None-Match" in r.headers for r in log)


def test_network_first_picks_up_changed_weights_even_when_model_json_is_unchanged(
    server, model_dir
):
    old = fetch_artifacts(_url(server))
    _change_model(model_dir, seed=3)
    server.clear_requests()
    new = fetch_artifacts(_url(server), strategy="network-first")
    # model.json is byte-identical (304); only the weight file came down again.
    assert _bodies(server) == [("/tiny/model.json", 304), ("/tiny/group1-shard1of1.bin", 200)]
    assert new.source == "network"
    assert new.artifacts.weight_files != old.artifacts.weight_files
    assert ModelStore().read(new.cache_url).weight_files == new.artifacts.weight_files


def test_network_first_picks_up_a_new_model_json(server, model_dir):
    fetch_artifacts(_url(server))
    shutil.rmtree(model_dir)
    write_tiny_model(model_dir, seed=4, units=5)
    result = fetch_artifacts(_url(server), strategy="network-first")
    assert result.source == "network"
    assert result.entry.files["group1-shard1of1.bin"].size == (4 * 5 + 5) * 4


def test_stale_while_revalidate_serves_the_cache_now_and_the_new_model_next(server, model_dir):
    old = fetch_artifacts(_url(server)).artifacts
    server.clear_requests()
    same = fetch_artifacts(_url(server), strategy="stale-while-revalidate")
    assert same.source == "cache"
    assert same.revalidation.result(timeout=10).status == "not-modified"
    assert {r.status for r in server.requests} == {304}

    _change_model(model_dir, seed=5)
    stale = fetch_artifacts(_url(server), strategy="stale-while-revalidate")
    assert stale.source == "cache"
    assert stale.artifacts.weight_files == old.weight_files  # served at once, from the cache
    outcome = stale.revalidation.result(timeout=10)
    assert outcome.status == "updated", outcome.error
    following = fetch_artifacts(_url(server), strategy="cache-first")
    assert following.source == "cache"
    assert following.artifacts.weight_files == read_artifacts(model_dir).weight_files
    assert following.artifacts.weight_files != old.weight_files


def test_stale_while_revalidate_failure_keeps_the_cached_copy(model_dir):
    with serve_directory(model_dir.parent) as server:
        url = _url(server)
        cached = fetch_artifacts(url).artifacts
    result = fetch_artifacts(url, strategy="stale-while-revalidate", retries=0)
    outcome = result.revalidation.result(timeout=10)
    assert outcome.status == "failed"
    assert isinstance(outcome.error, DownloadError)
    assert ModelStore().read(result.cache_url).weight_files == cached.weight_files


def test_network_first_falls_back_to_the_cache_when_the_server_is_down(model_dir):
    with serve_directory(model_dir.parent) as server:
        url = _url(server)
        fetch_artifacts(url)
    with pytest.warns(UserWarning, match="could not refresh.*using the cached copy"):
        result = fetch_artifacts(url, strategy="network-first", retries=0)
    assert result.source == "cache"


def test_network_only_neither_reads_nor_writes_the_store(server):
    result = fetch_artifacts(_url(server), strategy="network-only")
    assert (result.source, result.entry, result.cache_url) == ("network", None, None)
    assert ModelStore().list_models() == []


def test_cache_only_miss_says_how_to_populate(server):
    with pytest.raises(CacheError, match="mnist-widgets cache fetch") as info:
        fetch_artifacts(_url(server), strategy="cache-only")
    assert not isinstance(info.value, OfflineError)
    assert server.requests == []


def request_tripwire(monkeypatch) -> list:
    """Make any attempt of this process to open a connection fail loudly, and record it."""
    attempts: list[object] = []

    def refuse(self, address, *args):
        attempts.append(address)
        raise AssertionError(f"offline mode opened a connection to {address}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    return attempts


def test_offline_switch_serves_the_cache_and_refuses_network_only_with_no_request(
    server, monkeypatch
):
    url = _url(server)
    cached = fetch_artifacts(url).artifacts
    server.clear_requests()
    monkeypatch.setenv("MNIST_WIDGETS_OFFLINE", "1")
    attempts = request_tripwire(monkeypatch)
    for strategy in ("cache-first", "network-first", "stale-while-revalidate", "cache-only"):
        result = fetch_artifacts(url, strategy=strategy)
        assert (result.source, result.revalidation) == ("cache", None), strategy
        assert result.artifacts.weight_files == cached.weight_files
    with pytest.raises(OfflineError, match="MNIST_WIDGETS_OFFLINE=1"):
        fetch_artifacts(url, strategy="network-only")  # asked for the network: one rule
    with pytest.raises(OfflineError, match="MNIST_WIDGETS_OFFLINE=1"):
        fetch_artifacts(server.url + "elsewhere/model.json")
    with pytest.raises(OfflineError):
        read_artifacts(url, cache=False)
    assert attempts == []
    assert server.requests == []  # the server saw nothing either


@pytest.mark.parametrize("value", ["1", "true", "YES", " on "])
def test_every_documented_on_value_is_offline(server, monkeypatch, value):
    monkeypatch.setenv("MNIST_WIDGETS_OFFLINE", value)
    with pytest.raises(OfflineError):
        fetch_artifacts(_url(server))
    assert server.requests == []


@pytest.mark.parametrize("value", ["", "0", "false", "No", "OFF"])
def test_every_documented_off_value_is_online(server, monkeypatch, value):
    monkeypatch.setenv("MNIST_WIDGETS_OFFLINE", value)
    assert fetch_artifacts(_url(server)).source == "network"


@pytest.mark.parametrize("value", ["maybe", "y", "enabled", "2", "offline"])
def test_an_unrecognised_offline_value_is_a_config_error_never_online(
    server, monkeypatch, capsys, value
):
    monkeypatch.setenv("MNIST_WIDGETS_OFFLINE", value)
    for strategy in STRATEGIES:
        with pytest.raises(ConfigError, match=rf"MNIST_WIDGETS_OFFLINE='{value}'.*1, true"):
            fetch_artifacts(_url(server), strategy=strategy)
    assert main(["cache", "fetch", _url(server)]) == 1
    err = capsys.readouterr().err
    assert "MNIST_WIDGETS_OFFLINE" in err and "Traceback" not in err
    assert server.requests == []


def test_an_unwritable_store_still_returns_the_network_model_with_a_warning(server, tmp_path):
    # Tests run as root, so chmod cannot make a directory read-only; a store whose parent is a
    # regular file cannot be created by anyone. (test_faults.py also drops root in a child.)
    (tmp_path / "file").write_text("")
    store = ModelStore(tmp_path / "file" / "store")
    with pytest.warns(CacheWriteWarning, match="not saved for offline use.*Not a directory"):
        result = fetch_artifacts(_url(server), store=store)
    assert (result.source, result.entry) == ("network", None)
    assert result.artifacts.weight_files


def test_cache_names_are_readable_short_and_distinct():
    a = cache_name_for("http://127.0.0.1:8000/models/mnist/model.json")
    b = cache_name_for("http://127.0.0.1:8001/models/mnist/model.json")
    assert a.startswith("mnist-") and b.startswith("mnist-") and a != b
    assert cache_name_for("https://example.org/model.json").startswith("example.org-")
    assert cache_name_for("http://h/we ird%20name!/model.json").startswith("we-ird-name-")


def test_explicit_cache_names_accept_the_scheme_and_reject_paths(server):
    result = fetch_artifacts(_url(server), cache="cache://mine")
    assert result.cache_url == "cache://mine"
    with pytest.raises(CacheError, match="invalid model store name"):
        fetch_artifacts(_url(server), cache="../mine")


def test_unknown_strategy_is_a_config_error_listing_the_valid_ones(server):
    with pytest.raises(ConfigError, match="network-first"):
        fetch_artifacts(_url(server), strategy="cache-then-network")
    assert server.requests == []


def test_progress_bar_on_request_and_off_by_default_for_small_models(server, capsys):
    fetch_artifacts(_url(server), strategy="network-only", progress=True)
    bar = capsys.readouterr().err
    assert "tiny: 100%" in bar and "60.0/60.0" in bar  # complete, over the 60 weight bytes
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fetch_artifacts(_url(server), strategy="network-only")
    assert capsys.readouterr().err == ""


def test_sources_route_http_urls_through_the_store_unless_told_not_to(server, model_dir):
    options = NetworkOptions(timeout=5, retries=0)
    got = read_artifacts(_url(server), options=options, cache=False)
    assert got.weight_files == read_artifacts(model_dir).weight_files
    assert ModelStore().list_models() == []  # cache=False: the store is not touched
    stored = read_artifacts(_url(server), options=options)
    assert stored.weight_files == got.weight_files
    assert [e.source_url for e in ModelStore().list_models()] == [_url(server)]
    server.clear_requests()
    assert read_artifacts(_url(server)).weight_files == got.weight_files
    assert server.requests == []  # the second read came from the store


def test_cli_cache_fetch_populates_the_store_without_tensorflow(server, capsys):
    assert main(["cache", "fetch", _url(server), "--name", "tiny"]) == 0
    assert capsys.readouterr().out.strip() == f"{_url(server)} -> cache://tiny (from the network)"
    assert ModelStore().info("tiny").source_url == _url(server)
    assert set(ModelStore().load("tiny")[1].derived) == {"model.onnx"}  # ready to start fast
    assert main(["cache", "fetch", _url(server), "--name", "tiny", "--strategy", "nope"]) == 1
    assert "expected one of cache-first" in capsys.readouterr().err
    check = (
        "import sys; from mnist_widgets.cli import main; "
        f"code = main(['cache', 'fetch', {_url(server)!r}, '--name', 'other']); "
        "assert code == 0 and 'tensorflow' not in sys.modules, code"
    )
    subprocess.run([sys.executable, "-c", check], check=True, capture_output=True)
    assert ModelStore().exists("other")


@pytest.mark.parametrize("bad", ["cache://mnist", "models/mnist/model.json", "ftp://h/model.json"])
def test_non_http_urls_point_to_load_layers_model(bad):
    with pytest.raises(DownloadError, match="load_layers_model"):
        fetch_artifacts(bad)


def test_load_layers_model_over_http_goes_through_the_store_unless_told_not_to(server):
    from mnist_widgets.keras_io import load_layers_model

    model = load_layers_model(_url(server), cache=False)
    assert ModelStore().list_models() == []
    assert model.output_shape == (None, 3)
    load_layers_model(_url(server), options=NetworkOptions(retries=0))
    assert [e.source_url for e in ModelStore().list_models()] == [_url(server)]


def test_derived_files_are_made_once_per_version_and_verified_like_the_model(server):
    made = []

    def derive(artifacts, graph, *, source):
        made.append(graph.name)
        return {"model.onnx": b"graph of " + graph.name.encode()}

    first = fetch_artifacts(_url(server), derive=derive)
    again = fetch_artifacts(_url(server), derive=derive)
    assert made == ["tiny"]  # the miss made it; the hit read it back, verified
    assert first.derived == again.derived == {"model.onnx": b"graph of tiny"}
    assert first.graph.name == again.graph.name == "tiny" and again.source == "cache"
    (first.entry.path / "model.onnx").write_bytes(b"graph of tinY")  # bit rot
    with pytest.warns(UserWarning, match=r"model.onnx has SHA-256"):
        healed = fetch_artifacts(_url(server), derive=derive)
    assert healed.source == "network" and made == ["tiny", "tiny"]


# -- an entry keyed by name: the same model from a new address is not a "source changed" ------


def test_the_same_model_from_a_new_address_loads_from_the_store_without_a_warning(model_dir):
    # A notebook re-run serves the same files on a new random port: one entry, no warning, and
    # the new server answers only conditional requests (304s, no body bytes).
    with serve_directory(model_dir.parent) as first_server:
        first = fetch_artifacts(_url(first_server), cache="m")
    with serve_directory(model_dir.parent) as server, warnings.catch_warnings():
        warnings.simplefilter("error")
        again = fetch_artifacts(_url(server), cache="m")
        statuses = {status for _, status in _bodies(server)}
    assert first.source == "network" and again.source == "cache"
    assert statuses == {304}
    assert again.entry.source_url == _url(server) != _url(first_server)
    assert again.artifacts.weight_files == first.artifacts.weight_files
    assert [e.name for e in ModelStore().list_models()] == ["m"]
    assert fetch_artifacts(_url(server), cache="m", strategy="cache-only").source == "cache"


def test_the_same_bytes_without_validators_are_recognised_by_their_hashes(model_dir):
    # A plain static server (python -m http.server, a CDN) may send no ETag our 304s could
    # match; identical SHA-256s still make it the same model.
    with serve_directory(model_dir.parent) as first_server:
        fetch_artifacts(_url(first_server), cache="m")
    entry = ModelStore().info("m")
    artifacts = ModelStore().read("m")
    ModelStore().write("m", artifacts, source_url=entry.source_url)  # no validators kept
    with serve_directory(model_dir.parent) as server, warnings.catch_warnings():
        warnings.simplefilter("error")
        again = fetch_artifacts(_url(server), cache="m")
        assert {status for _, status in _bodies(server)} == {200}
    assert again.source == "cache" and again.entry.source_url == _url(server)


def test_a_url_finds_the_entry_that_holds_its_model_under_any_name(server, capsys):
    from mnist_widgets.cli import main

    assert main(["cache", "fetch", _url(server), "--name", "u8"]) == 0
    server.clear_requests()
    got = fetch_artifacts(_url(server))  # no cache= name: the entry holding this URL
    assert (got.source, got.cache_url) == ("cache", "cache://u8")
    assert server.requests == []
    assert [e.name for e in ModelStore().list_models()] == ["u8"]


def _corrupt(entry) -> None:
    shard = entry.path / "group1-shard1of1.bin"
    shard.write_bytes(bytes(b ^ 0xFF for b in shard.read_bytes()))


def test_warnings_point_at_the_caller_s_line_from_any_depth(server):
    url = _url(server)
    calls = {
        "fetch_artifacts": lambda: fetch_artifacts(url),  # loader: 4 frames deep
        "read_artifacts": lambda: read_artifacts(url),  # sources first: 3 more
        "fetch_model": lambda: fetch_model(url, cache=cache_name_for(url)),  # keras_io
    }
    for how, call in calls.items():
        _corrupt(fetch_artifacts(url).entry)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            call()
        (warning,) = [w for w in caught if w.category.__name__ == "CacheCorruptWarning"]
        assert warning.filename == __file__, how
        assert "lambda: " in Path(__file__).read_text().splitlines()[warning.lineno - 1], how
