"""Routing model artifacts by location through one table; atomic local writes (no TensorFlow)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from mnist_widgets import sources as io
from mnist_widgets.errors import MnistWidgetsError, ModelFormatError
from mnist_widgets.loader import NetworkOptions
from mnist_widgets.tfjs.artifacts import ModelArtifacts


def _artifacts(fill: bytes = b"\x01", shards: int = 2) -> ModelArtifacts:
    paths = [f"group1-shard{i}of{shards}.bin" for i in range(1, shards + 1)]
    model_json = {
        "format": "layers-model",
        "modelTopology": {"class_name": "Sequential", "config": {"name": "s", "layers": []}},
        "weightsManifest": [
            {
                "paths": paths,
                "weights": [{"name": "d/kernel", "shape": [2, shards], "dtype": "float32"}],
            }
        ],
    }
    return ModelArtifacts(model_json, {p: fill * 8 for p in paths})


def test_write_then_read_directory_model_json_and_file_url(tmp_path):
    dest = tmp_path / "model"
    assert io.write_artifacts(_artifacts(), dest) == str(dest)
    assert sorted(p.name for p in dest.iterdir()) == [
        "group1-shard1of2.bin",
        "group1-shard2of2.bin",
        "model.json",
    ]
    for src in (dest, str(dest / "model.json"), dest.as_uri(), f"file://{dest}/model.json"):
        read = io.read_artifacts(src)
        assert read.model_json == _artifacts().model_json
        assert read.weight_files == _artifacts().weight_files
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp dirs left


def test_replacing_a_model_drops_old_shards_and_keeps_unrelated_files(tmp_path):
    dest = tmp_path / "model"
    io.write_artifacts(_artifacts(shards=3), dest)
    (dest / "README.md").write_text("model card")
    io.write_artifacts(_artifacts(b"\x02", shards=1), dest / "model.json")
    assert sorted(p.name for p in dest.iterdir()) == [
        "README.md",
        "group1-shard1of1.bin",
        "model.json",
    ]
    assert (dest / "README.md").read_text() == "model card"
    assert io.read_artifacts(dest).weight_files["group1-shard1of1.bin"] == b"\x02" * 8


@pytest.mark.parametrize("exchange", [True, False], ids=["renameat2", "two-renames"])
def test_replace_works_with_and_without_atomic_exchange(tmp_path, monkeypatch, exchange):
    if not exchange:
        monkeypatch.setattr(io, "_exchange", lambda a, b: False)
    dest = tmp_path / "model"
    io.write_artifacts(_artifacts(), dest)
    io.write_artifacts(_artifacts(b"\x05"), dest)
    assert io.read_artifacts(dest).weight_files["group1-shard1of2.bin"] == b"\x05" * 8
    assert [p.name for p in tmp_path.iterdir()] == ["model"]
    mask = os.umask(0o022)
    os.umask(mask)
    assert dest.stat().st_mode & 0o777 == 0o777 & ~mask  # the user's umask, not mkdtemp's 0700


def test_a_crash_mid_write_leaves_the_old_model_untouched(tmp_path, monkeypatch):
    dest = tmp_path / "model"
    io.write_artifacts(_artifacts(), dest)
    before = {p.name: p.read_bytes() for p in dest.iterdir()}
    calls = []

    def dying_write(path, data):
        calls.append(path)
        if len(calls) == 2:
            raise OSError("disk full")
        path.write_bytes(data)

    monkeypatch.setattr(io, "write_synced", dying_write)
    with pytest.raises(OSError, match="disk full"):
        io.write_artifacts(_artifacts(b"\x09"), dest)
    assert {p.name: p.read_bytes() for p in dest.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["model"]  # the temp dir was cleaned up


def test_refuses_to_replace_a_non_model_directory(tmp_path):
    (tmp_path / "notes.txt").write_text("precious")
    with pytest.raises(MnistWidgetsError, match=r"not empty and holds no model\.json"):
        io.write_artifacts(_artifacts(), tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_refuses_inconsistent_artifacts_before_writing(tmp_path):
    good = _artifacts()  # ModelArtifacts checks itself when made: a bad one never exists
    files = {**good.weight_files, "group1-shard2of2.bin": b"\x01"}
    with pytest.raises(
        ModelFormatError, match="hold 9 bytes but weightsManifest\\[0\\] declares 16"
    ):
        io.write_artifacts(ModelArtifacts(good.model_json, files), tmp_path / "model")
    assert not (tmp_path / "model").exists()


def test_missing_model_says_what_was_expected(tmp_path):
    with pytest.raises(
        ModelFormatError, match=r"no model at .*expected a directory containing model\.json"
    ):
        io.read_artifacts(tmp_path / "nothing")


def test_missing_shard_file_is_named(tmp_path):
    io.write_artifacts(_artifacts(), tmp_path / "m")
    (tmp_path / "m" / "group1-shard2of2.bin").unlink()
    with pytest.raises(ModelFormatError, match=r"weight file 'group1-shard2of2\.bin' is missing"):
        io.read_artifacts(tmp_path / "m")


def test_hostile_path_in_a_local_model_is_refused_before_reading(tmp_path):
    io.write_artifacts(_artifacts(), tmp_path / "m")
    (tmp_path / "secret.bin").write_bytes(b"\x00" * 16)
    model_json = json.loads((tmp_path / "m" / "model.json").read_text())
    model_json["weightsManifest"][0]["paths"] = ["../secret.bin"]
    (tmp_path / "m" / "model.json").write_text(json.dumps(model_json))
    with pytest.raises(ModelFormatError, match=r"refusing weight path '\.\./secret\.bin'"):
        io.read_artifacts(tmp_path / "m")


@pytest.mark.parametrize("url", ["ftp://host/model.json", "s3://bucket/model", "indexeddb://m"])
def test_unknown_schemes_list_the_supported_ones(url):
    with pytest.raises(
        ModelFormatError, match=r"unsupported location .*use .*file://.*http\(s\)://.*cache://"
    ):
        io.read_artifacts(url)


def test_http_is_read_only_and_options_are_http_only(tmp_path):
    with pytest.raises(ModelFormatError, match="read-only"):
        io.write_artifacts(_artifacts(), "https://example.invalid/m/")
    with pytest.raises(TypeError, match="apply to http"):
        io.read_artifacts(tmp_path, options=NetworkOptions(timeout=3))


def test_cache_urls_round_trip_through_the_model_store():
    assert io.write_artifacts(_artifacts(), "cache://tiny") == "cache://tiny"
    assert io.read_artifacts("cache://tiny").weight_files == _artifacts().weight_files


def test_sources_does_not_import_tensorflow():
    # In a fresh interpreter: in this one another test may have imported TensorFlow already.
    code = (
        "import sys, mnist_widgets.sources as s; "
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, sorted(sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_one_table_routes_every_scheme():
    assert set(io.KNOWN_LOCATIONS) == {"", "file", "http", "https", "cache"}
    assert io.KNOWN_LOCATIONS["http"] is io.KNOWN_LOCATIONS["https"]
    assert io.KNOWN_LOCATIONS["http"].write is None  # read only


def test_no_scheme_ladders_outside_the_table():
    # Issue 11: scheme dispatch lives in sources.KNOWN_LOCATIONS (and _http.check_url) only.
    import re
    from pathlib import Path

    import mnist_widgets

    ladder = re.compile(
        r"""if\s+scheme\b|scheme\s+(==|in)\s|startswith\(\(?\s*["'](https?|cache|file):"""
    )
    offenders = [
        f"{path.name}: {line.strip()}"
        for path in Path(mnist_widgets.__file__).parent.rglob("*.py")
        # store.parse_name strips the cache:// of its own names; that is no routing
        if path.name not in ("sources.py", "_http.py", "store.py")
        for line in path.read_text().splitlines()
        if not line.lstrip().startswith(">>>") and ladder.search(line)
    ]
    assert offenders == []
