"""``mnist-widgets export``: .keras file or TF.js model -> TF.js layers files."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mnist_widgets.cli import main
from mnist_widgets.keras_io import load_layers_model


# Keras 3.15's own .keras writer trips a NumPy 2 deprecation; not ours to fix
@pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")
def test_exports_a_keras_file_quantized_and_sharded(tmp_path, capsys):
    from mnist_widgets._tf import keras

    k = keras()
    model = k.Sequential(
        [k.Input((6,)), k.layers.Dense(50), k.layers.Dense(3, activation="softmax")]
    )
    model.save(tmp_path / "m.keras")
    out = tmp_path / "web"
    assert (
        main(
            [
                "export",
                str(tmp_path / "m.keras"),
                "--out",
                str(out),
                "--quantize",
                "uint8",
                "--shard-size",
                "100",
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "uint8 weights, 503 parameters" in printed and "group1-shard1of6.bin" in printed
    manifest = json.loads((out / "model.json").read_text())["weightsManifest"][0]
    assert len(manifest["paths"]) == 6  # 503 uint8 bytes in 100-byte shards
    x = np.random.default_rng(0).random((5, 6), dtype=np.float32)
    again = load_layers_model(out).predict(x, verbose=0)
    assert np.abs(again - model.predict(x, verbose=0)).max() < 0.02


def test_re_exports_a_tfjs_model(tmp_path, seed_model_dir, capsys):
    assert (
        main(
            ["export", str(seed_model_dir), "--out", str(tmp_path / "f16"), "--quantize", "float16"]
        )
        == 0
    )
    assert "594,922 parameters" in capsys.readouterr().out
    assert (tmp_path / "f16" / "group1-shard1of1.bin").stat().st_size == 594_922 * 2


def test_missing_model_is_one_clean_error_line(tmp_path, capsys):
    assert main(["export", str(tmp_path / "nope.keras"), "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("mnist-widgets export: error: no Keras file at") and err.count("\n") == 1
    assert not (tmp_path / "o").exists()


def test_export_names_the_shipped_model_in_one_word(tmp_path, capsys):
    from mnist_widgets import shipped_model_dir
    from mnist_widgets.sources import read_artifacts

    assert main(["export", "shipped", "--format", "onnx", "--out", str(tmp_path / "onnx")]) == 0
    assert (tmp_path / "onnx" / "model.onnx").stat().st_size > 100_000
    assert main(["export", "shipped", "--out", str(tmp_path / "tfjs"), "--quantize", "uint8"]) == 0
    assert "uint8 weights" in capsys.readouterr().out
    shipped = read_artifacts(shipped_model_dir())
    assert (
        read_artifacts(tmp_path / "tfjs").model_json["modelTopology"]
        == (shipped.model_json["modelTopology"])
    )


def test_help_texts_name_both_export_formats(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    top = capsys.readouterr().out
    assert "TF.js" in top and "ONNX" in top
    with pytest.raises(SystemExit):
        main(["export", "--help"])
    assert "shipped" in capsys.readouterr().out
