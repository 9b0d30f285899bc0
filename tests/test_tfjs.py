"""Our TF.js layers-model writer and reader in Python (TF.js itself: test_tfjs_node.py)."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
from _models import weight_bytes
from test_tfjs_graph import HOSTILE

from mnist_widgets.errors import ModelFormatError
from mnist_widgets.keras_io import load_layers_model, save_layers_model
from mnist_widgets.tfjs import ModelArtifacts, decode_model, encode_model
from mnist_widgets.tfjs.graph import check_artifacts
from mnist_widgets.tfjs.weights import dequantize, encode_weights, quantize


@pytest.fixture(scope="module")
def keras():
    from mnist_widgets._tf import keras

    return keras()


@pytest.fixture(scope="module")
def tiny(keras):
    """Functional model: Dense + BatchNormalization, with non-trivial BN statistics."""
    keras.utils.set_random_seed(1)
    inp = keras.Input((4,), name="x")
    y = keras.layers.Dense(3, name="dense")(inp)
    y = keras.layers.BatchNormalization(name="bn")(y)
    out = keras.layers.Dense(2, activation="softmax", name="out")(y)
    model = keras.Model(inp, out, name="tiny")
    model.get_layer("bn").moving_variance.assign(np.array([0.5, 2.0, 3.0], np.float32))
    return model


@pytest.fixture(scope="module")
def seed(seed_model_dir):
    """The article's model (tfjs-layers 0.8 files) read by our reader, once per module."""
    return load_layers_model(seed_model_dir)


def _decode_changed(tiny, change):
    artifacts = encode_model(tiny)
    model_json = copy.deepcopy(artifacts.model_json)
    files = dict(artifacts.weight_files)
    change(model_json, files)
    return decode_model(ModelArtifacts(model_json, files), source="tiny/model.json")


def _entries(model_json):
    return model_json["weightsManifest"][0]["weights"]


# -- round trips ----------------------------------------------------------------------------------


def test_float32_round_trip_is_bit_exact(tmp_path, seed, tiny):
    x = np.random.default_rng(0).random((64, 28, 28, 1), dtype=np.float32)
    for model, inputs in ((seed, x), (tiny, x[:, 0, :4, 0])):
        save_layers_model(model, tmp_path / model.name, shard_size_bytes=100_000)
        again = load_layers_model(tmp_path / model.name)
        assert [w.name for w in again.weights] == [w.name for w in model.weights]
        for a, b in zip(model.weights, again.weights, strict=True):
            assert np.array_equal(a.numpy(), b.numpy())
        assert np.array_equal(model.predict(inputs, verbose=0), again.predict(inputs, verbose=0))


def test_seed_model_scores_99_3_on_the_full_test_set(seed, mnist):
    (_, _), (x_test, y_test) = mnist
    probs = seed.predict((x_test.astype(np.float32) / 255.0)[..., None], batch_size=500, verbose=0)
    accuracy = (probs.argmax(1) == y_test).mean()
    assert accuracy >= 0.993, accuracy


def test_reads_tfjs_0_8_list_config_and_names_the_input_like_tfjs(seed):
    assert seed.layers[0].name == "conv2d_Conv2D1"
    assert seed.inputs[0].shape == (None, 28, 28, 1)
    assert seed.count_params() == 594_922


# -- quantization ---------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["uint8", "uint16"])
def test_affine_quantization_matches_converter_semantics(dtype):
    values = np.random.default_rng(2).normal(0.1, 1, 1000).astype(np.float32)
    q, spec = quantize(values, dtype)
    bits = 8 if dtype == "uint8" else 16
    assert q.dtype == np.dtype(dtype) and q.min() == 0
    assert spec["scale"] == pytest.approx((values.max() - values.min()) / (2**bits - 1))
    zero = -spec["min"] / spec["scale"]
    assert zero == round(zero)  # 0 is represented exactly
    restored = dequantize(q, spec, "float32")
    assert restored.dtype == np.float32
    assert np.abs(restored - values).max() <= spec["scale"] / 2 + 1e-6
    expected = (q.astype(np.float64) * spec["scale"] + spec["min"]).astype(np.float32)
    assert np.array_equal(restored, expected)  # TF.js: q*scale+min in double, stored as float32


def test_constant_tensor_quantizes_to_zeros_with_scale_one():
    q, spec = quantize(np.full(5, 0.75, np.float32), "uint8")
    assert q.tolist() == [0] * 5 and spec["scale"] == 1.0 and spec["min"] == 0.75


def test_positive_only_tensor_is_not_nudged():
    q, spec = quantize(np.array([1.0, 2.0, 3.0], np.float32), "uint8")
    assert spec["min"] == 1.0 and q.tolist() == [0, 128, 255]


def test_float16_is_a_plain_cast_and_int32_dequantizes_with_round_half_up():
    q, spec = quantize(np.array([0.1, -2.5], np.float32), "float16")
    assert q.dtype == np.float16 and spec == {"dtype": "float16", "original_dtype": "float32"}
    spec = {"dtype": "uint8", "min": 0.0, "scale": 0.5}
    assert dequantize(np.array([1, 3], np.uint8), spec, "int32").tolist() == [1, 2]


def test_shards_cut_at_the_byte_limit():
    manifest, files = encode_weights([("a/k", np.zeros(10, np.float32))], shard_size_bytes=16)
    assert manifest[0]["paths"] == [
        "group1-shard1of3.bin",
        "group1-shard2of3.bin",
        "group1-shard3of3.bin",
    ]
    assert [len(files[p]) for p in manifest[0]["paths"]] == [16, 16, 8]
    assert "quantization" not in manifest[0]["weights"][0]  # never "quantization": null


def test_unknown_quantize_option_is_refused(tiny):
    with pytest.raises(ValueError, match=r"unknown quantize='int4'"):
        encode_model(tiny, quantize="int4")


# -- reading what others write --------------------------------------------------------------------


def _converter_model_json(manifest):
    """What tensorflowjs_converter writes for a Keras 2 functional model (format doc, section 6)."""
    dense = {"class_name": "GlorotUniform", "config": {"seed": None}}
    return {
        "format": "layers-model",
        "generatedBy": "keras v2.15.0",
        "convertedBy": "TensorFlow.js Converter v4.22.0",
        "modelTopology": {
            "keras_version": "2.15.0",
            "backend": "tensorflow",
            "model_config": {
                "class_name": "Functional",
                "config": {
                    "name": "model",
                    "layers": [
                        {
                            "class_name": "InputLayer",
                            "config": {
                                "batch_input_shape": [None, 4],
                                "dtype": "float32",
                                "sparse": False,
                                "name": "input_1",
                            },
                            "name": "input_1",
                            "inbound_nodes": [],
                        },
                        {
                            "class_name": "Dense",
                            "config": {
                                "name": "dense",
                                "trainable": True,
                                "dtype": "float32",
                                "units": 3,
                                "activation": "relu",
                                "use_bias": True,
                                "kernel_initializer": dense,
                                "bias_initializer": {"class_name": "Zeros", "config": {}},
                                "kernel_regularizer": {
                                    "class_name": "L1L2",
                                    "config": {"l1": 0.0, "l2": 0.01},
                                },
                                "bias_regularizer": None,
                                "activity_regularizer": None,
                                "kernel_constraint": None,
                                "bias_constraint": None,
                            },
                            "name": "dense",
                            "inbound_nodes": [[["input_1", 0, 0, {}]]],
                        },
                    ],
                    "input_layers": [["input_1", 0, 0]],
                    "output_layers": [["dense", 0, 0]],
                },
            },
            "training_config": {
                "loss": "mse",
                "optimizer_config": {"class_name": "Adam", "config": {}},
            },
        },
        "weightsManifest": manifest,
    }


@pytest.mark.parametrize("quant", [None, "float16", "uint8", "uint16"])
def test_reads_converter_output_for_keras2_models(quant):
    kernel = np.arange(12, dtype=np.float32).reshape(4, 3) / 10 - 0.5
    bias = np.array([0.1, -0.2, 0.3], np.float32)
    manifest, files = encode_weights(
        [("dense/kernel", kernel), ("dense/bias", bias)], quantize_dtype=quant, shard_size_bytes=20
    )
    model = decode_model(ModelArtifacts(_converter_model_json(manifest), files), source="conv")
    got = model.get_layer("dense").get_weights()
    tol = {None: 0, "float16": 1e-3, "uint16": 1e-4, "uint8": 1e-2}[quant]
    assert np.abs(got[0] - kernel).max() <= tol and np.abs(got[1] - bias).max() <= tol
    x = np.ones((1, 4), np.float32)
    assert np.allclose(model.predict(x, verbose=0), np.maximum(x @ got[0] + got[1], 0), atol=1e-6)


def test_optimizer_weights_saved_by_tfjs_are_skipped(tiny):
    def add_optimizer_state(model_json, files):
        entry = {"name": "iter", "shape": [], "dtype": "int32", "group": "optimizer"}
        _entries(model_json).append(entry)
        files["group1-shard1of1.bin"] += b"\x07\x00\x00\x00"

    model = _decode_changed(tiny, add_optimizer_state)
    assert np.array_equal(model.get_layer("bn").moving_variance.numpy(), [0.5, 2.0, 3.0])


def test_reads_tfjs_index_weight_names(tiny):
    """TF.js's other naming: '<layer>/<index>' into the layer's weights (trainable first)."""

    def to_index(model_json, files):
        for entry in _entries(model_json):
            layer, weight = entry["name"].split("/")
            order = (
                ["kernel", "bias"]
                if layer != "bn"
                else ["gamma", "beta", "moving_mean", "moving_variance"]
            )
            entry["name"] = f"{layer}/{order.index(weight)}"

    model = _decode_changed(tiny, to_index)
    assert np.array_equal(model.get_layer("bn").moving_variance.numpy(), [0.5, 2.0, 3.0])


# -- errors ---------------------------------------------------------------------------------------


def test_unsupported_layer_class_is_named_with_the_supported_ones(tiny):
    def add_lambda(model_json, files):
        layers = model_json["modelTopology"]["model_config"]["config"]["layers"]
        layers[1]["class_name"] = "Lambda"

    with pytest.raises(
        ModelFormatError,
        match=r"layer class 'Lambda' is not supported; supported classes: InputLayer, Conv2D, "
        r"Dense",
    ):
        _decode_changed(tiny, add_lambda)


def test_missing_weight_is_named(tiny):
    def drop_bias(model_json, files):
        entries = _entries(model_json)
        entries[:] = [e for e in entries if e["name"] != "out/bias"]
        files["group1-shard1of1.bin"] = files["group1-shard1of1.bin"][:-8]

    with pytest.raises(
        ModelFormatError, match=r"weights \['out/bias'\] are missing from weightsManifest"
    ):
        _decode_changed(tiny, drop_bias)


def test_extra_weight_is_named(tiny):
    def add_extra(model_json, files):
        _entries(model_json).append({"name": "tiny/out/kernel", "shape": [1], "dtype": "float32"})
        files["group1-shard1of1.bin"] += b"\x00" * 4

    with pytest.raises(
        ModelFormatError,
        match=r"weights \['tiny/out/kernel'\] that match no layer weight.*no model-name prefix",
    ):
        _decode_changed(tiny, add_extra)


def test_shape_mismatch_with_the_layer_is_named(tiny):
    def reshape(model_json, files):
        next(e for e in _entries(model_json) if e["name"] == "dense/kernel")["shape"] = [3, 4]

    with pytest.raises(
        ModelFormatError,
        match=r"'dense/kernel' has shape \[3, 4\] in the manifest but layer 'dense' \(Dense\) "
        r"expects \[4, 3\]",
    ):
        _decode_changed(tiny, reshape)


def test_keras3_inbound_nodes_are_refused_with_the_expected_form(tiny):
    def keras3_nodes(model_json, files):
        layers = model_json["modelTopology"]["model_config"]["config"]["layers"]
        layers[1]["inbound_nodes"] = [{"args": [], "kwargs": {}}]

    with pytest.raises(
        ModelFormatError, match=r"inbound_nodes in an unsupported form.*Keras 2 nesting"
    ):
        _decode_changed(tiny, keras3_nodes)


def test_unknown_activation_is_refused_on_read(tiny):
    def leaky(model_json, files):
        model_json["modelTopology"]["model_config"]["config"]["layers"][3]["config"][
            "activation"
        ] = "leaky_relu"

    with pytest.raises(
        ModelFormatError, match=r"activation 'leaky_relu' is not supported; use one of linear, relu"
    ):
        _decode_changed(tiny, leaky)


def test_writer_refuses_what_tfjs_would_silently_change(keras):
    model = keras.Sequential([keras.Input((8, 8, 4)), keras.layers.Conv2D(4, 3, groups=2)])
    with pytest.raises(
        ModelFormatError, match=r"Conv2D\(groups=2\) is not supported by TF.js 4.22"
    ):
        encode_model(model)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, activation="leaky_relu")])
    with pytest.raises(
        ModelFormatError, match=r"activation 'leaky_relu' has no TF.js 4.22 equivalent"
    ):
        encode_model(model)
    model = keras.Sequential([keras.Input((3,)), keras.layers.LayerNormalization()])
    with pytest.raises(ModelFormatError, match=r"'LayerNormalization' is not supported"):
        encode_model(model)


def test_model_json_written_is_compact_json_tfjs_reads(tmp_path, tiny):
    save_layers_model(tiny, tmp_path / "m", quantize="uint8")
    model_json = json.loads((tmp_path / "m" / "model.json").read_text())
    assert model_json["format"] == "layers-model"
    assert model_json["generatedBy"].startswith("keras v3.")
    assert model_json["convertedBy"].startswith("mnist-widgets ")
    assert all(e["quantization"]["dtype"] == "uint8" for e in _entries(model_json))


@pytest.mark.parametrize("target_shape", ["missing", None])
def test_reshape_without_target_shape_is_a_format_error(keras, target_shape):
    model = keras.Sequential(
        [keras.Input((4,)), keras.layers.Reshape((2, 2), name="r"), keras.layers.Flatten()]
    )
    artifacts = encode_model(model)
    model_json = copy.deepcopy(artifacts.model_json)
    layers = model_json["modelTopology"]["model_config"]["config"]["layers"]
    config = next(layer["config"] for layer in layers if layer["class_name"] == "Reshape")
    if target_shape == "missing":
        del config["target_shape"]
    else:
        config["target_shape"] = None
    with pytest.raises(
        ModelFormatError, match=r"layer 'r' \(Reshape\): field 'target_shape' must be a list"
    ):
        decode_model(ModelArtifacts(model_json, dict(artifacts.weight_files)), source="r.json")


# -- the graph against Keras ----------------------------------------------------------------------


def test_graph_shapes_and_weights_match_what_keras_builds(keras, tiny):
    k = keras
    every_class = k.Sequential(
        [
            k.Input((17, 15, 2)),
            k.layers.Rescaling(1 / 255, offset=0.5),
            k.layers.Conv2D(3, (3, 2), strides=2, padding="same", activation="swish"),
            k.layers.Conv2D(4, 3, dilation_rate=2, use_bias=False),
            k.layers.BatchNormalization(center=False),
            k.layers.MaxPooling2D(3, strides=1, padding="same"),
            k.layers.AveragePooling2D((2, 1)),
            k.layers.Activation("relu6"),
            k.layers.Reshape((-1, 4)),
            k.layers.Dense(5),
            k.layers.Flatten(),
            k.layers.Dropout(0.5),
            k.layers.Dense(10, activation="softmax"),
        ],
        name="every_class",
    )
    for model in (every_class, tiny):
        artifacts = encode_model(model)
        graph = check_artifacts(artifacts, source=model.name)
        again = decode_model(artifacts, source=model.name)
        assert graph.parameters == model.count_params() == again.count_params()
        for layer in graph.layers[1:]:  # Keras 3 Sequentials do not list their InputLayer
            built = again.get_layer(layer.name)
            assert tuple(built.output.shape) == layer.output_shape, layer.name
            assert [tuple(w.shape) for w in built.weights] == [w.shape for w in layer.weights]


@pytest.mark.parametrize(("make", "message"), HOSTILE)
def test_hostile_topologies_are_format_errors_before_keras_builds_anything(make, message):
    """Issue 10.10: each was a raw TypeError/ValueError/IndexError/RecursionError from Keras."""
    model_json = make()
    with pytest.raises(ModelFormatError, match=message):
        decode_model(ModelArtifacts(model_json, weight_bytes(model_json)), source="m.json")


@pytest.mark.parametrize("dtype", ["int32", "bool", "complex64"])
def test_layer_weights_of_a_dtype_tfjs_cannot_assign_are_refused(tiny, dtype):
    """TF.js decodes them, then Variable.assign throws: they are refused, never cast silently."""

    def retype(model_json, files):
        entry = next(e for e in _entries(model_json) if e["name"] == "out/bias")
        entry["dtype"] = dtype
        size = {"int32": 4, "bool": 1, "complex64": 8}[dtype] * 2
        data = files["group1-shard1of1.bin"]
        files["group1-shard1of1.bin"] = data[:-8] + bytes(size)

    with pytest.raises(ModelFormatError, match=rf"'out/bias' has dtype '{dtype}' but layer 'out'"):
        _decode_changed(tiny, retype)
