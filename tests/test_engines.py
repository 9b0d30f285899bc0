"""The NumPy and ONNX engines against Keras, on every kind of model the suite has.

Each case is encoded with our writer (float32 and the quantized formats, sharded or not) and read
back by Keras (our reader, which dequantizes exactly as TF.js does): the engines must reproduce
those probabilities within 1e-5. TF.js itself is the reference in ``test_engines_node.py``.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest
from _models import WRITER_CASES

from mnist_widgets.engines import BACKENDS, available_backends, load_engine, resolve_backend
from mnist_widgets.errors import ModelFormatError
from mnist_widgets.sources import read_artifacts
from mnist_widgets.tfjs.codec import decode_model, encode_model
from mnist_widgets.tfjs.layers import ACTIVATIONS

TOL = 1e-5
ENGINES = ("numpy", "onnxruntime")


@pytest.fixture(scope="module")
def k():
    from mnist_widgets._tf import keras

    return keras()


@pytest.fixture(scope="module")
def images(mnist) -> np.ndarray:
    (_, _), (x_test, _) = mnist
    return (x_test[:64].astype(np.float32) / 255.0)[..., None]


def _with_bn_statistics(model, k, seed: int = 0):
    """Move BatchNormalization's statistics off their defaults so the layer really does work."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, k.layers.BatchNormalization):
            for var in layer.weights:
                n = var.shape
                if "variance" in var.name:
                    var.assign(rng.uniform(0.5, 2.0, n).astype(np.float32))
                else:
                    var.assign(rng.normal(0, 0.5, n).astype(np.float32))
    return model


def _sequential(k):
    """Every option the engines translate: strides, "same" padding, dilation, odd sizes."""
    k.utils.set_random_seed(1)
    return k.Sequential(
        [
            k.Input((28, 28, 1)),
            k.layers.Rescaling(2.0, offset=-1.0),
            k.layers.Conv2D(6, 3, strides=2, padding="same", activation="elu"),  # 14x14
            k.layers.BatchNormalization(),
            k.layers.Conv2D(5, 3, strides=(1, 2), padding="same", activation="tanh"),  # 14x7
            k.layers.MaxPooling2D(3, strides=2, padding="same"),  # 7x4
            k.layers.Conv2D(5, 3, dilation_rate=2, padding="same", use_bias=False),
            k.layers.Activation("softmax"),  # over channels of a 4-D tensor
            k.layers.AveragePooling2D(3, strides=2, padding="same"),  # 4x2, partial windows
            k.layers.Conv2D(4, (2, 1), activation="relu6"),  # 3x2, non-square kernel
            k.layers.MaxPooling2D((1, 2)),  # 3x1
            k.layers.ZeroPadding2D(((1, 0), (2, 1))),  # 4x4, zeros in both layouts (NCHW here)
            k.layers.Dense(7, activation="swish"),  # on a 4-D tensor: the last axis
            k.layers.Flatten(),
            k.layers.Dropout(0.3),
            k.layers.Dense(10, activation="softmax"),
        ],
        name="options_sequential",
    )


def _functional(k):
    """A functional model with BatchNormalization on the channel and on another axis."""
    k.utils.set_random_seed(2)
    inp = k.Input((28, 28, 1), name="pixels")
    y = k.layers.Reshape((28, 28))(inp)
    y = k.layers.Dense(12, activation="tanh")(y)  # on a 3-D tensor
    y = k.layers.Reshape((28, 12, 1))(y)
    y = k.layers.ZeroPadding2D((1, 2))(y)  # 30x16, on an NHWC tensor in ONNX
    y = k.layers.Conv2D(6, 5, strides=2, name="conv")(y)
    y = k.layers.BatchNormalization(name="bn")(y)
    y = k.layers.BatchNormalization(axis=1, center=False, name="bn_rows")(y)
    y = k.layers.Activation("relu")(y)
    y = k.layers.AveragePooling2D(2)(y)
    y = k.layers.Flatten()(y)
    y = k.layers.BatchNormalization(scale=False, name="bn_flat")(y)
    y = k.layers.Dense(16, activation="selu")(y)
    out = k.layers.Dense(10, activation="softmax", name="probs")(y)
    return k.Model(inp, out, name="bn_functional")


def _models(k, seed_model_dir):
    from mnist_widgets.model import build_model

    return {
        "seed": decode_model(read_artifacts(seed_model_dir)),
        "cnn": build_model(),
        "seq": _with_bn_statistics(_sequential(k), k, 0),
        "fun": _with_bn_statistics(_functional(k), k, 1),
    }


@pytest.fixture(scope="module")
def cases(k, seed_model_dir, images):
    """name -> (artifacts, Keras probabilities of the model those artifacts decode into)."""
    models = _models(k, seed_model_dir)
    out = {}
    for name, which, quantize, shard in WRITER_CASES:
        artifacts = encode_model(models[which], quantize=quantize, shard_size_bytes=shard)
        # the reference holds the same (dequantized) weights the engines read
        out[name] = (artifacts, decode_model(artifacts).predict(images, verbose=0))
    seed = read_artifacts(seed_model_dir)  # the fixture's own files (tfjs-layers 0.8's format)
    out["seed-original"] = (seed, decode_model(seed).predict(images, verbose=0))
    return out


@pytest.mark.parametrize("backend", ENGINES)
@pytest.mark.parametrize("name", ["seed-original", *(c[0] for c in WRITER_CASES)])
def test_engine_matches_keras(cases, images, name, backend):
    artifacts, expected = cases[name]
    engine = load_engine(artifacts, backend, source=name)
    assert engine.backend == backend
    got = engine(images)
    assert got.dtype == np.float32 and got.shape == expected.shape == (len(images), 10)
    assert np.abs(got - expected).max() <= TOL
    one = engine(images[:1])  # the single-image path (preallocated buffers) agrees too
    assert np.abs(one - expected[:1]).max() <= TOL
    assert expected.std() > 1e-3  # the model does something: the comparison means something


def test_quantized_cases_differ_from_float32(cases):
    # the quantized weights really were dequantized, not silently read as float32
    for quantized, float32 in [("seq-uint8", "seq-f32"), ("fun-uint16", "fun-f32")]:
        assert np.abs(cases[quantized][1] - cases[float32][1]).max() > 0


@pytest.mark.parametrize("backend", ENGINES)
def test_repeated_calls_do_not_share_output_buffers(cases, images, backend):
    artifacts, _ = cases["seq-f32"]
    engine = load_engine(artifacts, backend, source="seq")
    first = engine(images[:1])
    kept = first.copy()
    engine(images[1:2])
    engine(images[:37])  # a batch size between the internal chunk sizes
    np.testing.assert_array_equal(first, kept)


@pytest.fixture(scope="module")
def activation_models(k):
    """One small model per activation TF.js and our reader accept (Conv2D and Dense carry it)."""
    k.utils.set_random_seed(4)
    out = {}
    for tfjs_name, keras_name in ACTIVATIONS.items():
        model = k.Sequential(
            [
                k.Input((28, 28, 1)),
                k.layers.Conv2D(3, 3, strides=3, activation=keras_name),
                k.layers.Flatten(),
                k.layers.Dense(10, activation=keras_name),
            ],
            name=f"act_{tfjs_name}",
        )
        out[tfjs_name] = encode_model(model)
    return out


@pytest.mark.parametrize("backend", ENGINES)
@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_every_activation_matches_keras(activation_models, images, activation, backend):
    artifacts = activation_models[activation]
    x = images[:8] * 6 - 3  # both signs and the saturating range of every activation
    expected = decode_model(artifacts).predict(x, verbose=0)
    got = load_engine(artifacts, backend, source=activation)(x)
    assert np.abs(got - expected).max() <= TOL * max(1.0, float(np.abs(expected).max()))


def _two_outputs(k):
    inp = k.Input((28, 28, 1))
    flat = k.layers.Flatten()(inp)
    a = k.layers.Dense(10, activation="softmax", name="a")(flat)
    b = k.layers.Dense(10, activation="softmax", name="b")(flat)
    return k.Model(inp, [a, b], name="two_heads")


@pytest.mark.parametrize("backend", ENGINES)
def test_layers_may_be_called_input_and_output(k, images, backend):
    inp = k.Input((28, 28, 1), name="pixels")
    y = k.layers.Flatten(name="input")(inp)
    out = k.layers.Dense(10, activation="softmax", name="output")(y)
    artifacts = encode_model(k.Model(inp, out, name="names"))
    got = load_engine(artifacts, backend, source="names")(images)
    assert np.abs(got - decode_model(artifacts).predict(images, verbose=0)).max() <= TOL


@pytest.mark.parametrize("backend", ENGINES)
def test_what_an_engine_cannot_run_fails_at_load(k, backend):
    artifacts = encode_model(_two_outputs(k))
    with pytest.raises(ModelFormatError, match=r"two_heads.*1 inputs and 2 outputs"):
        load_engine(artifacts, backend, source="two.json")


def test_input_of_another_shape_is_refused(cases):
    engine = load_engine(cases["seed-f32"][0], "numpy", source="seed")
    with pytest.raises(ValueError, match=r"\(n, 28, 28, 1\).*\(1, 784\)"):
        engine(np.zeros((1, 784), np.float32))


def test_backend_names():
    assert resolve_backend("auto") == "onnxruntime"  # installed here
    assert set(BACKENDS) == {"onnxruntime", "numpy", "tensorflow"}
    assert available_backends() == BACKENDS  # all three installed here
    with pytest.raises(
        ValueError, match=r"unknown backend 'torch'.*onnxruntime, numpy, tensorflow"
    ):
        resolve_backend("torch")


def test_auto_is_numpy_where_onnxruntime_is_missing(cases, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import onnxruntime -> ImportError
    assert resolve_backend("auto") == "numpy"
    assert load_engine(cases["seed-f32"][0], source="seed").backend == "numpy"


# -- ONNX export -------------------------------------------------------------------------------


def test_to_onnx_loads_in_onnxruntime_with_the_same_probabilities(cases, images):
    import onnx
    import onnxruntime as ort

    from mnist_widgets.engines.onnx import OPSET, to_onnx

    artifacts, expected = cases["fun-f32"]
    data = to_onnx(artifacts)
    model = onnx.load_from_string(data)
    onnx.checker.check_model(model)
    assert model.opset_import[0].version == OPSET
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    (inp,), (out,) = session.get_inputs(), session.get_outputs()
    assert (inp.name, inp.shape) == ("input", ["n", 28, 28, 1])
    assert (out.name, out.shape) == ("output", ["n", 10])
    (got,) = session.run(None, {"input": images})
    assert np.abs(got - expected).max() <= TOL


def test_save_onnx_from_a_location_a_keras_model_or_artifacts(tmp_path, k, cases, images):
    from mnist_widgets.engines.onnx import save_onnx

    artifacts, expected = cases["seq-f32"]
    keras_model = decode_model(artifacts)
    written = [
        save_onnx(artifacts, tmp_path / "a"),
        save_onnx(keras_model, tmp_path / "b" / "seq.onnx"),
    ]
    assert written == [tmp_path / "a" / "model.onnx", tmp_path / "b" / "seq.onnx"]
    import onnx

    graphs = [onnx.load_from_string(path.read_bytes()) for path in written]
    keys = [{p.key: p.value for p in g.metadata_props} for g in graphs]
    assert keys[0] != keys[1]  # the same model in other files (shards): its own model key
    for g in graphs:
        del g.metadata_props[:]
    assert graphs[0].SerializeToString() == graphs[1].SerializeToString()  # the same graph
    import onnxruntime as ort

    (got,) = ort.InferenceSession(str(written[1])).run(None, {"input": images})
    assert np.abs(got - expected).max() <= TOL


def test_export_command_writes_model_onnx(tmp_path, seed_model_dir, cases, images, capsys):
    import onnxruntime as ort

    from mnist_widgets.cli import main

    assert main(["export", str(seed_model_dir), "--format", "onnx", "--out", str(tmp_path)]) == 0
    assert "model.onnx" in capsys.readouterr().out
    session = ort.InferenceSession(str(tmp_path / "model.onnx"))
    (got,) = session.run(None, {"input": images})
    assert np.abs(got - cases["seed-original"][1]).max() <= TOL


def test_export_onnx_refuses_tfjs_only_options(tmp_path, seed_model_dir, capsys):
    from mnist_widgets.cli import main

    args = ["export", str(seed_model_dir), "--format", "onnx", "--out", str(tmp_path)]
    assert main([*args, "--quantize", "uint8"]) == 1
    assert "--quantize" in capsys.readouterr().err
    assert not (tmp_path / "model.onnx").exists()


# -- the shipped model on all of MNIST's test set ----------------------------------------------


@pytest.mark.slow
def test_shipped_model_gives_identical_digits_in_every_backend(mnist):
    from mnist_widgets import shipped_model_dir

    (_, _), (x_test, _) = mnist
    x = (x_test.astype(np.float32) / 255.0)[..., None]
    artifacts = read_artifacts(shipped_model_dir())
    probs = {b: load_engine(artifacts, b, source="shipped")(x) for b in BACKENDS}
    assert len(x) == 10_000
    reference = probs["tensorflow"]
    for backend in ENGINES:
        np.testing.assert_array_equal(probs[backend].argmax(1), reference.argmax(1))
        assert np.abs(probs[backend] - reference).max() <= TOL


def test_the_shipped_model_onnx_is_a_fresh_build():
    """``models/mnist/model.onnx`` spares every start the ``onnx`` import; it must be exactly
    what a build from the shipped files gives. After replacing the shipped model, regenerate it:
    ``mnist-widgets export models/mnist --format onnx --out models/mnist``."""
    from mnist_widgets import shipped_model_dir
    from mnist_widgets.engines.onnx import onnx_bytes

    directory = shipped_model_dir()
    fresh = onnx_bytes(read_artifacts(directory), source=str(directory))
    shipped = (directory / "model.onnx").read_bytes()
    assert shipped == fresh, (
        "models/mnist/model.onnx is stale; run: "
        "mnist-widgets export models/mnist --format onnx --out models/mnist"
    )


def test_a_prebuilt_graph_of_another_model_is_never_run(cases, images):
    from mnist_widgets.engines.onnx import to_onnx

    artifacts, expected = cases["seq-f32"]
    other = to_onnx(cases["cnn-f32"][0])
    for onnx in (other, b"not an onnx graph", to_onnx(artifacts)):
        got = load_engine(artifacts, "onnxruntime", source="seq", onnx=onnx)(images)
        assert np.abs(got - expected).max() <= TOL


def test_each_graph_class_has_a_step_and_each_step_type_an_op_in_both_engines():
    from mnist_widgets.engines import _plan
    from mnist_widgets.engines.numpy import _OPS
    from mnist_widgets.engines.onnx import _EMIT
    from mnist_widgets.tfjs.graph import _INFER
    from mnist_widgets.tfjs.layers import LAYER_KEYS

    assert set(_INFER) | {"InputLayer"} == set(LAYER_KEYS)
    assert set(_plan.STEPS) == set(_INFER)
    step_types = set(_plan.Step.__subclasses__())
    assert set(_OPS) == set(_EMIT) == step_types
