"""The TF.js layers format, proven against real @tensorflow/tfjs 4.22.0 under Node (both ways).

One Node process per direction: ``predict.js`` loads every model we wrote over HTTP from
127.0.0.1 with ``tf.loadLayersModel`` and prints its probabilities; ``train_save.js`` trains and
saves models with TF.js itself for our reader.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from _models import WRITER_CASES
from _node import read_json_lines

from mnist_widgets.keras_io import load_layers_model, save_layers_model
from mnist_widgets.tfjs import encode_model

pytestmark = pytest.mark.node

N_IMAGES = 200  # the pure-JS CPU backend needs ~30 ms per image for the seed CNN
FLOAT32_TOL = 1e-5


def _images(mnist, n: int = N_IMAGES) -> tuple[np.ndarray, np.ndarray]:
    (_, _), (x_test, y_test) = mnist
    x = (x_test[:n].astype(np.float32) / 255.0).reshape(n, 28, 28, 1)
    return x, y_test[:n].astype(np.int64)


def _small_models():
    """A Sequential and a functional model with BatchNormalization and non-trivial BN statistics."""
    from mnist_widgets._tf import keras

    k = keras()
    k.utils.set_random_seed(3)
    seq = k.Sequential(
        [
            k.Input((28, 28, 1)),
            k.layers.Rescaling(2.0, offset=-1.0),
            k.layers.Conv2D(8, 3, activation="relu", kernel_regularizer="l2"),
            k.layers.BatchNormalization(),
            k.layers.MaxPooling2D(),
            k.layers.ZeroPadding2D(((1, 2), (0, 3))),
            k.layers.Conv2D(8, 3, padding="same", activation="tanh"),
            k.layers.AveragePooling2D(2),
            k.layers.Flatten(),
            k.layers.Dropout(0.3),
            k.layers.Dense(10, activation="softmax"),
        ],
        name="small_sequential",
    )
    inp = k.Input((28, 28, 1), name="pixels")
    y = k.layers.Reshape((28, 28, 1))(inp)
    y = k.layers.Conv2D(6, 5, strides=2, name="conv")(y)
    y = k.layers.BatchNormalization(name="bn")(y)
    y = k.layers.Activation("relu")(y)
    y = k.layers.Flatten()(y)
    y = k.layers.Dense(16, activation="selu")(y)
    out = k.layers.Dense(10, activation="softmax", name="probs")(y)
    fun = k.Model(inp, out, name="small_functional")
    rng = np.random.default_rng(0)
    for model in (seq, fun):
        for layer in model.layers:
            if isinstance(layer, k.layers.BatchNormalization):
                n = layer.moving_mean.shape[0]
                layer.moving_mean.assign(rng.normal(0, 0.5, n).astype(np.float32))
                layer.moving_variance.assign(rng.uniform(0.5, 2.0, n).astype(np.float32))
                layer.gamma.assign(rng.uniform(0.5, 1.5, n).astype(np.float32))
                layer.beta.assign(rng.normal(0, 0.2, n).astype(np.float32))
    return seq, fun


@pytest.fixture(scope="module")
def writer_run(tmp_path_factory, mnist, seed_model_dir, node_tfjs):
    """Save every case with our writer; load all in one TF.js process; Keras and TF.js probs."""
    root = tmp_path_factory.mktemp("ours")
    x, _ = _images(mnist)
    x.tofile(root / "inputs.f32")
    seq, fun = _small_models()
    from mnist_widgets.model import build_model  # the CNN our training CLI ships

    models = {
        "seed": load_layers_model(seed_model_dir),
        "cnn": build_model(),
        "seq": seq,
        "fun": fun,
    }
    keras_probs, dequant_probs = {}, {}
    for name, which, quantize, shard in WRITER_CASES:
        save_layers_model(models[which], root / name, quantize=quantize, shard_size_bytes=shard)
        keras_probs[name] = models[which].predict(x, verbose=0)
        # what the quantized file really holds: our reader dequantizes exactly as TF.js does
        dequant_probs[name] = load_layers_model(root / name).predict(x, verbose=0)
    shutil.copytree(seed_model_dir, root / "seed-original")  # the fixture as TF.js 0.8 saved it
    names = ["seed-original", *(c[0] for c in WRITER_CASES)]
    out = node_tfjs("predict.js", root, root / "inputs.f32", *x.shape, *names)
    tfjs = {
        line["model"]: np.asarray(line["probs"], np.float32).reshape(line["shape"])
        for line in read_json_lines(out)
    }
    return {"root": root, "keras": keras_probs, "dequant": dequant_probs, "tfjs": tfjs}


@pytest.mark.parametrize("name", [c[0] for c in WRITER_CASES if c[2] is None])
def test_float32_files_load_in_tfjs_with_keras_probabilities(writer_run, name):
    tfjs, ours = writer_run["tfjs"][name], writer_run["keras"][name]
    assert tfjs.shape == (N_IMAGES, 10)
    assert np.abs(tfjs - ours).max() <= FLOAT32_TOL
    assert np.allclose(tfjs.sum(axis=1), 1.0, atol=1e-5)


def _paths(writer_run, name: str) -> list[str]:
    model_json = json.loads((writer_run["root"] / name / "model.json").read_text())
    return model_json["weightsManifest"][0]["paths"]


def test_multi_shard_cases_really_are_sharded(writer_run):
    assert _paths(writer_run, "seed-uint8") == ["group1-shard1of2.bin", "group1-shard2of2.bin"]
    assert len(_paths(writer_run, "seq-f32")) > 5  # 1000-byte shards: tensors span shard files
    assert len(_paths(writer_run, "fun-uint16")) > 5
    assert _paths(writer_run, "seed-f32") == ["group1-shard1of1.bin"]


@pytest.mark.parametrize(
    ("name", "vs_float32"),
    [
        ("seed-uint8", 0.05),
        ("seq-float16", 1e-3),
        ("seq-uint8", 0.05),
        ("fun-float16", 1e-3),
        ("fun-uint16", 1e-3),
    ],
)
def test_quantized_files_load_in_tfjs(writer_run, name, vs_float32):
    """TF.js must reproduce the *dequantized* model to 1e-5: the sharp check of our bytes.

    Against the float32 model only the quantization error remains, bounded loosely. Per-tensor
    affine quantization moves each weight by at most scale/2 = range / (2 (2^bits - 1)): 0.2 % of
    the tensor's range for uint8, 256x less for uint16; float16 keeps a relative error <= 2^-11.
    Softmax outputs move by at most a quarter of the logit change. Measured on 200 MNIST test
    images (2026-11, seed model / small models): uint8 1.7e-3 / 1.3e-3, float16 2e-5, uint16
    1e-5 / 3e-6. Bounds: 0.05 for uint8 and 1e-3 for the 16-bit formats (>= 25x margin), and the
    predicted digit agrees on >= 97 % of images (small random models have near-ties).
    """
    tfjs = writer_run["tfjs"][name]
    assert np.abs(tfjs - writer_run["dequant"][name]).max() <= FLOAT32_TOL
    float32 = writer_run["keras"][name]
    gap = np.abs(tfjs - float32).max()
    assert 0 < gap <= vs_float32  # > 0: the weights really were quantized
    assert (tfjs.argmax(1) == float32.argmax(1)).mean() >= 0.97


@pytest.fixture(scope="module")
def tfjs_saved(tmp_path_factory, mnist, node_tfjs):
    """Models trained and saved by TF.js itself (``model.save``: weights.bin, no InputLayer)."""
    root = tmp_path_factory.mktemp("tfjs-saved")
    x, y = _images(mnist)
    x.tofile(root / "inputs.f32")  # TF.js trains on the first 128, predicts on all
    (root / "labels.json").write_text(json.dumps(y.tolist()))
    out = node_tfjs(
        "train_save.js",
        root,
        root / "inputs.f32",
        len(x),
        root / "labels.json",
        "sequential",
        "functional",
    )
    probs = {
        line["model"]: np.asarray(line["probs"], np.float32).reshape(line["shape"])
        for line in read_json_lines(out)
    }
    return root, x, probs


@pytest.mark.parametrize("kind", ["sequential", "functional"])
def test_models_saved_by_tfjs_load_with_our_reader(tfjs_saved, kind):
    root, x, probs = tfjs_saved
    model_json = json.loads((root / kind / "model.json").read_text())
    assert "model_config" not in model_json["modelTopology"]  # TF.js's own topology shape
    assert model_json["weightsManifest"][0]["paths"] == ["weights.bin"]
    ours = load_layers_model(root / kind).predict(x, verbose=0)
    assert np.abs(ours - probs[kind]).max() <= FLOAT32_TOL
    # The comparison means something: two training steps leave outputs that differ from image
    # to image by far more than the tolerance (a std threshold of 0.01 flaked: TF.js is unseeded).
    assert ours.std(axis=0).max() > 100 * FLOAT32_TOL


def test_seed_model_reproduces_tfjs_probabilities(writer_run, mnist):
    """The article's model as TF.js loads it from its original files vs our reader + Keras."""
    _, y = _images(mnist)
    tfjs = writer_run["tfjs"]["seed-original"]
    ours = writer_run["keras"]["seed-f32"]  # the fixture read by our reader, predicted by Keras
    assert np.abs(ours - tfjs).max() <= FLOAT32_TOL
    assert (ours.argmax(1) == y).mean() >= 0.97  # a trained model on real digits


def test_encoded_topology_is_keras2_style():
    """The details TF.js 4.22 needs (tfjs-layers-format.md section 2), checked on our own output."""
    seq, fun = (encode_model(m).model_json for m in _small_models())
    text = json.dumps(seq) + json.dumps(fun)
    assert '"batch_input_shape"' in text and '"batch_shape"' not in text
    assert "DTypePolicy" not in text and '"quantization": null' not in text
    assert '"class_name": "L1L2"' in text and '"class_name": "L2"' not in text
    layers = fun["modelTopology"]["model_config"]["config"]["layers"]
    conv = next(layer for layer in layers if layer["name"] == "conv")
    ((ref,),) = conv["inbound_nodes"]  # [[[layer, node_index, tensor_index, kwargs]]]
    assert ref[0].startswith("reshape") and ref[1:] == [0, 0, {}]
    bn = next(layer for layer in layers if layer["name"] == "bn")
    assert bn["config"]["axis"] == -1  # an int: TF.js fails on [-1]
    assert all(
        "/" in w["name"] and not w["name"].startswith("small_")
        for w in fun["weightsManifest"][0]["weights"]
    )


def test_model_saved_by_tfjs_in_a_browser_loads_with_our_reader(tmp_path, mnist, node_tfjs):
    """``model.save("downloads://my-model")`` writes ["./my-model.weights.bin"] (issue 10.15)."""
    x, _ = _images(mnist, 20)
    x.tofile(tmp_path / "inputs.f32")
    out = node_tfjs("browser_save.js", tmp_path / "saved", "my-model", tmp_path / "inputs.f32", 20)
    (line,) = read_json_lines(out)
    assert line["paths"] == ["./my-model.weights.bin"]  # TF.js's own handler wrote this
    tfjs = np.asarray(line["probs"], np.float32).reshape(line["shape"])
    ours = load_layers_model(tmp_path / "saved" / "my-model.json").predict(x, verbose=0)
    assert np.abs(ours - tfjs).max() <= FLOAT32_TOL


def _retyped(dtype: str, quantization: dict | None = None) -> tuple[dict, dict[str, bytes]]:
    """The tiny Dense model with its bias stored as ``dtype`` (maybe quantized)."""
    from _models import tiny_model_json

    model_json = tiny_model_json()
    entry = model_json["weightsManifest"][0]["weights"][1]
    entry["dtype"] = dtype
    if quantization:
        entry["quantization"] = quantization
    size = {"float32": 4, "int32": 4, "bool": 1, "complex64": 8, "uint8": 1}
    stored = size[quantization["dtype"] if quantization else dtype]
    data = np.ones(12, "<f4").tobytes() + bytes(3 * stored)
    return model_json, {"group1-shard1of1.bin": data}


RETYPED = {
    "int32": ("int32", None),
    "bool": ("bool", None),
    "complex64": ("complex64", None),
    "int32-uint8": ("int32", {"dtype": "uint8", "min": 0.0, "scale": 1.0}),
}


def test_we_refuse_exactly_the_layer_weight_dtypes_tfjs_refuses(tmp_path, node_tfjs):
    """TF.js decodes int32/bool/complex64 weights, then Variable.assign throws on the dtype."""
    from mnist_widgets.errors import ModelFormatError
    from mnist_widgets.tfjs import ModelArtifacts, check_artifacts

    for name, (dtype, quantization) in RETYPED.items():
        model_json, files = _retyped(dtype, quantization)
        (tmp_path / name).mkdir()
        (tmp_path / name / "model.json").write_text(json.dumps(model_json))
        (tmp_path / name / "group1-shard1of1.bin").write_bytes(files["group1-shard1of1.bin"])
        with pytest.raises(ModelFormatError, match=rf"has dtype '{dtype}' but layer"):
            check_artifacts(ModelArtifacts(model_json, files), source=name)
    out = node_tfjs("try_load.js", tmp_path, *RETYPED)
    results = {line["model"]: line for line in read_json_lines(out)}
    assert set(results) == set(RETYPED)
    for name, line in results.items():
        assert not line["loaded"], name
        assert "must match" in line["error"], (name, line["error"])  # dtype of the new value ...


def test_quantized_bool_and_complex64_are_refused_when_read_as_tfjs_refuses_them(
    tmp_path, node_tfjs
):
    """TF.js's decodeWeight: uint8/uint16 quantization only for float32 or int32 weights."""
    from mnist_widgets.errors import ModelFormatError
    from mnist_widgets.tfjs import ModelArtifacts

    cases = {"bool-uint8": "bool", "complex64-uint8": "complex64"}
    for name, dtype in cases.items():
        model_json, files = _retyped(dtype, {"dtype": "uint8", "min": 0.0, "scale": 1.0})
        (tmp_path / name).mkdir()
        (tmp_path / name / "model.json").write_text(json.dumps(model_json))
        (tmp_path / name / "group1-shard1of1.bin").write_bytes(files["group1-shard1of1.bin"])
        with pytest.raises(
            ModelFormatError, match=rf"only applies to float32 or int32, not {dtype}"
        ):
            ModelArtifacts(model_json, files)
    out = node_tfjs("try_load.js", tmp_path, *cases)
    for line in read_json_lines(out):
        assert not line["loaded"] and "Unsupported dtype in weight" in line["error"], line
