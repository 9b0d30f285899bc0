"""ModelArtifacts and the manifest checks every loader shares (no TensorFlow)."""

from __future__ import annotations

import json
import re

import pytest

from mnist_widgets.errors import ModelFormatError
from mnist_widgets.tfjs.artifacts import (
    ModelArtifacts,
    check_weight_files,
    expected_weight_bytes,
    parse_model_json,
    weight_paths,
)


def _model_json(**entry_overrides) -> dict:
    weights = [
        {"name": "dense/kernel", "shape": [3, 2], "dtype": "float32"},
        {"name": "dense/bias", "shape": [2], "dtype": "float32", **entry_overrides},
    ]
    return {
        "modelTopology": {},
        "weightsManifest": [{"paths": ["a.bin", "b.bin"], "weights": weights}],
    }


def _raw(model_json: dict) -> bytes:
    return json.dumps(model_json).encode()


def test_valid_model_json_round_trips_through_bytes():
    model_json = parse_model_json(_raw(_model_json()), source="m.json")
    artifacts = ModelArtifacts(model_json, {"a.bin": b"x" * 20, "b.bin": b"y" * 12})
    assert parse_model_json(artifacts.model_json_bytes(), source="again") == model_json
    assert artifacts.total_bytes == len(artifacts.model_json_bytes()) + 32
    assert weight_paths(model_json, source="m.json") == ["a.bin", "b.bin"]
    assert expected_weight_bytes(model_json) == 32


def test_malformed_json_names_the_file():
    with pytest.raises(ModelFormatError, match=r"site/model\.json is not valid JSON.*HTML page"):
        parse_model_json(b"<html>404</html>", source="site/model.json")


@pytest.mark.parametrize("raw", [b'{"modelTopology": NaN}', b"[" * 100_000, b"\xff\xfe"])
def test_non_json_constants_deep_nesting_and_bad_utf8_are_malformed(raw):
    with pytest.raises(ModelFormatError, match=r"m\.json is not valid JSON"):
        parse_model_json(raw, source="m.json")


def test_missing_key_is_named_with_the_keys_present():
    with pytest.raises(
        ModelFormatError, match=r"missing key 'weightsManifest' \(keys present: modelTopology\)"
    ):
        parse_model_json(b'{"modelTopology": {}}', source="m.json")


def test_entry_missing_shape_is_named():
    model_json = _model_json()
    del model_json["weightsManifest"][0]["weights"][1]["shape"]
    with pytest.raises(ModelFormatError, match=r"weight 'dense/bias' .* missing key 'shape'"):
        parse_model_json(_raw(model_json), source="m.json")


def test_unknown_dtype_lists_the_valid_ones():
    with pytest.raises(
        ModelFormatError, match=r"'dense/bias' has unknown dtype 'float64'; expected one of float32"
    ):
        parse_model_json(_raw(_model_json(dtype="float64")), source="m.json")


def test_unknown_quantization_dtype_is_refused():
    with pytest.raises(ModelFormatError, match=r"unknown quantization dtype 'int4'"):
        parse_model_json(_raw(_model_json(quantization={"dtype": "int4"})), source="m.json")


def test_uint8_quantization_needs_min_and_scale():
    with pytest.raises(ModelFormatError, match=r"uint8 quantization needs a finite 'scale'"):
        parse_model_json(_raw(_model_json(quantization={"dtype": "uint8", "min": 0})), source="m")


def test_quantized_entries_count_their_stored_bytes():
    model_json = _model_json(quantization={"dtype": "uint8", "min": -1.0, "scale": 0.01})
    assert expected_weight_bytes(parse_model_json(_raw(model_json), source="m")) == 24 + 2


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/etc/passwd", "absolute"),
        ("//evil.example/w.bin", "absolute or names another host"),
        ("../secret.bin", r"'\.\.' segment"),
        ("shards/../../x.bin", r"'\.\.' segment"),
        ("a\\b.bin", "backslash"),
        ("http://evil.example/w.bin", "URL scheme"),
        ("file:///etc/passwd", "URL scheme"),
        ("C:x.bin", "URL scheme"),
        ("", "empty"),
        ("w\x00.bin", "NUL"),
    ],
)
def test_hostile_weight_paths_are_refused(path, reason):
    model_json = _model_json()
    model_json["weightsManifest"][0]["paths"] = [path]
    with pytest.raises(ModelFormatError, match=f"refusing weight path .*{reason}"):
        weight_paths(model_json, source="m.json")


def test_subdirectory_paths_are_allowed():
    model_json = _model_json()
    model_json["weightsManifest"][0]["paths"] = ["shards/group1-shard1of1.bin"]
    assert weight_paths(model_json, source="m") == ["shards/group1-shard1of1.bin"]


def test_missing_weight_file_is_named():
    with pytest.raises(
        ModelFormatError, match=r"weight file 'b\.bin' named in weightsManifest\[0\] is missing"
    ):
        check_weight_files(_model_json(), {"a.bin": b"x" * 32}, source="m.json")


def test_shard_bytes_not_matching_the_manifest_say_both_counts():
    with pytest.raises(
        ModelFormatError, match=r"a\.bin, b\.bin hold 31 bytes but .* declares 32 bytes"
    ):
        check_weight_files(_model_json(), {"a.bin": b"x" * 20, "b.bin": b"y" * 11}, source="m")


def test_a_weight_whose_bytes_do_not_match_shape_times_dtype():
    """Declaring bias as [3] (12 bytes) when the files hold [2] (8 bytes) is caught by size."""
    model_json = _model_json(shape=[3])
    with pytest.raises(
        ModelFormatError, match=r"hold 32 bytes but weightsManifest\[0\] declares 36"
    ):
        check_weight_files(model_json, {"a.bin": b"x" * 20, "b.bin": b"y" * 12}, source="m")


def test_a_leading_dot_slash_names_the_same_file():
    """TF.js's browser downloads:// writes paths ["./NAME.weights.bin"] (issue 10.15)."""
    model_json = _model_json()
    model_json["weightsManifest"][0]["paths"] = ["./a.bin", "b.bin", "./b.bin"]
    assert weight_paths(model_json, source="m") == ["a.bin", "b.bin"]
    model_json["weightsManifest"][0]["paths"] = ["./a.bin", "./b.bin"]
    for files in (
        {"a.bin": b"x" * 20, "b.bin": b"y" * 12},
        {"./a.bin": b"x" * 20, "b.bin": b"y" * 12},
    ):
        artifacts = ModelArtifacts(model_json, files)
        assert artifacts.paths == ["a.bin", "b.bin"] and set(artifacts.weight_files) == {
            "a.bin",
            "b.bin",
        }


@pytest.mark.parametrize("path", ["./../a.bin", "././a.bin", ".//a.bin", "./", "./sub/../../a.bin"])
def test_a_dot_slash_does_not_open_a_way_out(path):
    model_json = _model_json()
    model_json["weightsManifest"][0]["paths"] = [path]
    with pytest.raises(ModelFormatError, match=rf"refusing weight path '{re.escape(path)}'"):
        weight_paths(model_json, source="m")


def test_artifacts_are_frozen_and_checked_once_when_made():
    model_json = parse_model_json(_raw(_model_json()), source="m.json")
    artifacts = ModelArtifacts.from_json_bytes(
        _raw(_model_json()), {"a.bin": b"x" * 20, "b.bin": b"y" * 12}, source="m.json"
    )
    assert artifacts.model_json == model_json
    assert artifacts.model_json_bytes() is artifacts.model_json_bytes()  # made once
    with pytest.raises(AttributeError):
        artifacts.model_json = {}  # type: ignore[misc]
    with pytest.raises(TypeError):
        artifacts.weight_files["a.bin"] = b""  # type: ignore[index]
    with pytest.raises(ModelFormatError, match=r"site/m\.json: weight file 'b\.bin' .* missing"):
        ModelArtifacts.from_json_bytes(
            _raw(_model_json()), {"a.bin": b"x" * 32}, source="site/m.json"
        )


def test_artifacts_keep_their_own_copy_of_model_json():
    model_json = _model_json()
    artifacts = ModelArtifacts(model_json, {"a.bin": b"x" * 20, "b.bin": b"y" * 12})
    model_json["weightsManifest"][0]["paths"].append("../../etc/passwd")  # after the check
    assert artifacts.paths == ["a.bin", "b.bin"]
    assert artifacts.model_json["weightsManifest"][0]["paths"] == ["a.bin", "b.bin"]
    assert json.loads(artifacts.model_json_bytes()) == artifacts.model_json


def test_model_json_is_checked_once_from_bytes_to_artifacts(monkeypatch):
    from mnist_widgets.tfjs import artifacts as module

    checked = []
    real = module.check_model_json

    def counting(model_json, *, source):
        checked.append(source)
        return real(model_json, source=source)

    monkeypatch.setattr(module, "check_model_json", counting)
    files = {"a.bin": b"x" * 20, "b.bin": b"y" * 12}
    ModelArtifacts.from_json_bytes(_raw(_model_json()), files, source="parsed.json")
    assert checked == ["parsed.json"]  # parse_model_json checked it; the constructor trusts that
    ModelArtifacts(_model_json(), files, "a-dict")  # any other dict is checked when made
    assert checked == ["parsed.json", "a-dict"]
