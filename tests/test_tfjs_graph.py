"""tfjs.graph: the typed layer graph, shape inference, manifest checks and weight decoding.

No TensorFlow here: shapes are compared with Keras in test_tfjs.py.
"""

from __future__ import annotations

import copy
import json
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from _models import functional_model_json, tiny_model_json, weight_bytes

from mnist_widgets.errors import ModelFormatError
from mnist_widgets.tfjs.artifacts import ModelArtifacts
from mnist_widgets.tfjs.graph import (
    Layer,
    ModelGraph,
    WeightSpec,
    check_artifacts,
    check_manifest,
    load_weights,
    parse_graph,
)
from mnist_widgets.tfjs.weights import encode_weights

REPO = Path(__file__).resolve().parents[1]
CNN_SHAPES = [
    (None, 28, 28, 1),
    (None, 26, 26, 32),
    (None, 24, 24, 32),
    (None, 12, 12, 32),
    (None, 10, 10, 64),
    (None, 8, 8, 64),
    (None, 4, 4, 64),
    (None, 1024),
    (None, 1024),
    (None, 512),
    (None, 512),
    (None, 10),
]


def _artifacts(directory: Path) -> ModelArtifacts:
    raw = (directory / "model.json").read_bytes()
    paths = {p for g in json.loads(raw)["weightsManifest"] for p in g["paths"]}
    files = {p: (directory / p).read_bytes() for p in paths}
    return ModelArtifacts.from_json_bytes(raw, files, source=str(directory))


def _sequential(*layers: dict, name: str = "m") -> dict:
    config = {"name": name, "layers": list(layers)}
    return {"modelTopology": {"class_name": "Sequential", "config": config}, "weightsManifest": []}


def _layer(class_name: str, name: str | None = None, **config) -> dict:
    return {"class_name": class_name, "config": {"name": name or class_name.lower(), **config}}


def _input(*shape: int | None) -> dict:
    return _layer("InputLayer", "in", batch_input_shape=[None, *shape])


# -- the models we ship and read ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("directory", "first"),
    [("tests/fixtures/seed-model", "conv2d_Conv2D1_input"), ("models/mnist", "input")],
)
def test_seed_and_shipped_models_have_the_mnist_node_cnn_graph(directory, first):
    artifacts = _artifacts(REPO / directory)
    graph = check_artifacts(artifacts, source=directory)
    assert graph.kind == "sequential"
    assert graph.inputs == (first,) and graph.outputs == (graph.layers[-1].name,)
    assert [layer.output_shape for layer in graph.layers] == CNN_SHAPES
    assert [layer.class_name for layer in graph.layers][:3] == ["InputLayer", "Conv2D", "Conv2D"]
    assert graph.parameters == 594_922
    conv = graph.layers[1]
    assert conv.inputs == (first,) and conv.input_shape == (None, 28, 28, 1)
    assert conv.config["kernel_size"] == (3, 3) and conv.config["padding"] == "valid"
    assert conv.config["activation"] == "relu" and conv.config["data_format"] == "channels_last"
    assert conv.weights == (
        WeightSpec(f"{conv.name}/kernel", (3, 3, 1, 32)),
        WeightSpec(f"{conv.name}/bias", (32,)),
    )
    weights = load_weights(graph, artifacts, source=directory)
    flat = np.frombuffer(b"".join(artifacts.weight_files.values()), "<f4")
    assert list(weights) == [spec.name for spec in graph.weights]
    assert all(w.dtype == np.float32 for w in weights.values())
    assert np.array_equal(np.concatenate([w.ravel() for w in weights.values()]), flat)


def test_tfjs_saved_sequential_gets_an_implied_input_layer():
    graph = parse_graph(tiny_model_json(inputs=5, units=2), source="tiny")
    inp, dense = graph.layers
    assert (inp.name, inp.class_name, inp.output_shape) == (
        "dense_Dense1_input",
        "InputLayer",
        (None, 5),
    )
    assert dense.inputs == ("dense_Dense1_input",) and dense.output_shape == (None, 2)
    assert dense.config["units"] == 2 and dense.config["activation"] == "softmax"
    assert [w.shape for w in dense.weights] == [(5, 2), (2,)]


def test_functional_graph_is_in_topological_order_whatever_the_config_order():
    model_json = functional_model_json()
    layers = model_json["modelTopology"]["model_config"]["config"]["layers"]
    layers.reverse()  # out, hidden, x
    graph = parse_graph(model_json, source="fun")
    assert graph.kind == "functional"
    assert [layer.name for layer in graph.layers] == ["x", "hidden", "out"]
    assert graph.layer("out").inputs == ("hidden",)
    assert graph.inputs == ("x",) and graph.outputs == ("out",)
    assert graph.layer("out").output_shape == (None, 2)


def test_graph_records_are_frozen():
    graph = parse_graph(tiny_model_json(), source="tiny")
    assert isinstance(graph, ModelGraph) and isinstance(graph.layers[1], Layer)
    with pytest.raises(AttributeError):
        graph.layers[1].name = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        graph.layers[1].config["units"] = 7  # type: ignore[index]


# -- shape inference, one class at a time ---------------------------------------------------------


@pytest.mark.parametrize(
    ("layer", "input_shape", "output_shape", "weights"),
    [
        (_layer("Conv2D", filters=4, kernel_size=3), (9, 9, 2), (7, 7, 4), [(3, 3, 2, 4), (4,)]),
        (
            _layer(
                "Conv2D", filters=4, kernel_size=[3, 1], padding="same", strides=2, use_bias=False
            ),
            (9, 8, 2),
            (5, 4, 4),
            [(3, 1, 2, 4)],
        ),
        (
            _layer("Conv2D", filters=1, kernel_size=3, dilation_rate=2),
            (9, 9, 1),
            (5, 5, 1),
            [(3, 3, 1, 1), (1,)],
        ),
        (
            _layer("Conv2D", filters=2, kernel_size=5, strides=[2, 3]),
            (28, 28, 1),
            (12, 8, 2),
            [(5, 5, 1, 2), (2,)],
        ),
        (_layer("MaxPooling2D", pool_size=[2, 2], strides=None), (9, 9, 3), (4, 4, 3), []),
        (_layer("MaxPooling2D", pool_size=3, strides=2, padding="same"), (9, 8, 3), (5, 4, 3), []),
        (_layer("AveragePooling2D"), (8, 8, 1), (4, 4, 1), []),
        (_layer("Flatten"), (4, 4, 64), (1024,), []),
        (_layer("Dense", units=5), (3, 7), (3, 5), [(7, 5), (5,)]),
        (_layer("Dropout", rate=0.5), (6,), (6,), []),
        (_layer("BatchNormalization", axis=[3]), (4, 4, 6), (4, 4, 6), [(6,)] * 4),
        (_layer("BatchNormalization", center=False, scale=False), (6,), (6,), [(6,)] * 2),
        (_layer("Activation", activation="tanh"), (6,), (6,), []),
        (_layer("Reshape", target_shape=[2, -1, 1]), (4, 3), (2, 6, 1), []),
        (_layer("Rescaling", scale=1 / 255), (28, 28, 1), (28, 28, 1), []),
        (_layer("ZeroPadding2D"), (4, 5, 2), (6, 7, 2), []),  # TF.js's default: 1 all round
        (_layer("ZeroPadding2D", padding=[2, 0]), (4, 5, 2), (8, 5, 2), []),
        (_layer("ZeroPadding2D", padding=[[0, 3], [1, 2]]), (4, None, 2), (7, None, 2), []),
    ],
)
def test_shape_inference(layer, input_shape, output_shape, weights):
    graph = parse_graph(_sequential(_input(*input_shape), layer), source="m")
    built = graph.layers[1]
    assert built.input_shape == (None, *input_shape)
    assert built.output_shape == (None, *output_shape)
    assert [w.shape for w in built.weights] == weights


@pytest.mark.parametrize("padding", [-1, [1, 2, 3], [[1, 2], [3]], [[1, -2], [0, 0]], "same", 1.5])
def test_zero_padding_amounts_are_checked(padding):
    layer = _layer("ZeroPadding2D", "pad", padding=padding)
    with pytest.raises(ModelFormatError, match=r"'pad' \(ZeroPadding2D\): field 'padding' must be"):
        parse_graph(_sequential(_input(4, 4, 1), layer), source="m")


def test_batch_normalization_weights_are_in_keras_order():
    graph = parse_graph(_sequential(_input(3), _layer("BatchNormalization", "bn")), source="m")
    assert [w.name for w in graph.layers[1].weights] == [
        "bn/gamma",
        "bn/beta",
        "bn/moving_mean",
        "bn/moving_variance",
    ]
    assert graph.layers[1].config["axis"] == 1  # -1 normalised against the input rank


# -- hostile topologies (issue 10.3 and 10.10) ----------------------------------------------------


def _huge_dense() -> dict:
    model_json = tiny_model_json(inputs=40_000, units=40_000)
    return model_json


def _huge_conv() -> dict:
    conv = _layer("Conv2D", "conv", filters=100_000, kernel_size=[100, 100])
    model_json = _sequential(_input(200, 200, 1), conv)
    model_json["weightsManifest"] = [
        {
            "paths": ["w.bin"],
            "weights": [
                {"name": "conv/kernel", "shape": [100, 100, 1, 100_000], "dtype": "float32"},
                {"name": "conv/bias", "shape": [100_000], "dtype": "float32"},
            ],
        }
    ]
    return model_json


@pytest.mark.parametrize(
    ("make", "largest"), [(_huge_dense, "dense_Dense1/kernel"), (_huge_conv, "conv")]
)
def test_a_few_hundred_bytes_declaring_gigabytes_are_refused_before_any_allocation(make, largest):
    model_json = make()
    assert len(json.dumps(model_json)) < 1200
    tracemalloc.start()
    start = time.perf_counter()
    with pytest.raises(
        ModelFormatError, match=r"more than the .* allowed|holds [\d,]+ values"
    ) as e:
        check_manifest(parse_graph(model_json, source="m.json"), model_json, source="m.json")
    elapsed = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert elapsed < 0.5 and peak < 1_000_000
    assert largest in str(e.value)


def test_the_parameter_cap_can_be_raised():
    model_json = tiny_model_json(inputs=400, units=300)
    graph = parse_graph(model_json, source="m")
    with pytest.raises(ModelFormatError, match=r"declares 120,300 parameters"):
        check_manifest(graph, model_json, source="m", max_parameters=100_000)
    check_manifest(graph, model_json, source="m", max_parameters=200_000)


def _functional_with(change) -> dict:
    model_json = functional_model_json()
    change(model_json["modelTopology"]["model_config"]["config"])
    return model_json


def _set(path: str, value):
    """A change to the tiny Sequential's Dense config (dotted path)."""

    def change(model_json):
        node = model_json["modelTopology"]["config"]["layers"][0]["config"]
        *parents, last = path.split(".")
        for key in parents:
            node = node.setdefault(key, {})
        node[last] = value
        return model_json

    return lambda: change(tiny_model_json())


def _conv_after_flatten():
    return _sequential(
        _input(28, 28, 1),
        _layer("Flatten", "flat"),
        _layer("Conv2D", "conv", filters=2, kernel_size=3),
    )


def _duplicate_names():
    return _sequential(_input(4), _layer("Dense", "d", units=3), _layer("Dense", "d", units=2))


def _tensor_index_out_of_range():
    def change(config):
        config["layers"][2]["inbound_nodes"] = [[["hidden", 0, 1, {}]]]

    return _functional_with(change)


def _node_index_out_of_range():
    def change(config):
        config["output_layers"] = [["out", 3, 0]]

    return _functional_with(change)


def _deep(depth: int):
    nested: dict = {}
    node = nested
    for _ in range(depth):
        node["a"] = {}
        node = node["a"]
    return _set("kernel_initializer", {"class_name": "Zeros", "config": nested})()


HOSTILE = [
    (
        _conv_after_flatten,
        r"layer 'conv' \(Conv2D\): its input from layer 'flat' has shape "
        r"\(None, 784\) \(rank 2\); Conv2D needs rank 4",
    ),
    (
        _set("kernel_initializer", {"class_name": "VarianceScaling", "config": {"mode": "fan_x"}}),
        r"layer 'dense_Dense1' \(Dense\): field 'kernel_initializer.mode' must be one of 'fan_in'",
    ),
    (
        _set("kernel_regularizer", {"class_name": "L1L2", "config": {"l2": "0.01"}}),
        r"layer 'dense_Dense1' \(Dense\): field 'kernel_regularizer.l2' must be a finite number",
    ),
    (_duplicate_names, r"layer 'd' \(Dense\): field 'name' is also used by layer 1"),
    (
        _tensor_index_out_of_range,
        r"layer 'out' \(Dense\): field 'inbound_nodes'.* asks for output "
        r"tensor 1 of layer 'hidden'",
    ),
    (_node_index_out_of_range, r"field 'output_layers'.* asks for node 3 of layer 'out'"),
    (
        _set("batch_input_shape", [None, -4]),
        r"layer 'dense_Dense1' \(Dense\): field "
        r"'batch_input_shape' must be a list \[batch or null, dim, ...\] whose dimensions",
    ),
    (
        lambda: _deep(5000),
        r"layer 'dense_Dense1', field 'kernel_initializer.config.a.a.a.a...' "
        r"nests deeper than 64 levels",
    ),
    (
        _set("units", 2.5),
        r"layer 'dense_Dense1' \(Dense\): field 'units' must be a positive integer",
    ),
    (_set("activation", "leaky_relu"), r"field 'activation': activation 'leaky_relu' is not"),
    (_set("use_bias", "yes"), r"field 'use_bias' must be true or false, got 'yes'"),
]


@pytest.mark.parametrize(("make", "message"), HOSTILE)
def test_hostile_topologies_are_format_errors_naming_the_layer_and_field(make, message):
    model_json = make()
    files = weight_bytes(model_json)
    with pytest.raises(ModelFormatError, match=message):
        check_artifacts(ModelArtifacts(model_json, files, "m.json"), source="m.json")


# -- weights ---------------------------------------------------------------------------------------


def _with_weights(model_json: dict, named, **kwargs) -> ModelArtifacts:
    manifest, files = encode_weights(named, **kwargs)
    model_json = copy.deepcopy(model_json)
    model_json["weightsManifest"] = manifest
    return ModelArtifacts(model_json, files)


@pytest.mark.parametrize("quant", ["uint8", "uint16", "float16"])
def test_quantized_weights_dequantize_exactly_as_tfjs(quant):
    kernel = np.linspace(-1, 2, 12, dtype=np.float32).reshape(4, 3)
    bias = np.array([0.5, -0.25, 0.125], np.float32)
    artifacts = _with_weights(
        tiny_model_json(),
        [("dense_Dense1/kernel", kernel), ("dense_Dense1/bias", bias)],
        quantize_dtype=quant,
    )
    graph = check_artifacts(artifacts, source="m")
    weights = load_weights(graph, artifacts, source="m")
    entry = artifacts.model_json["weightsManifest"][0]["weights"][0]
    stored = np.frombuffer(
        artifacts.weight_files["group1-shard1of1.bin"],
        {"uint8": "u1", "uint16": "<u2", "float16": "<f2"}[quant],
        count=12,
    )
    if quant == "float16":
        expected = stored.astype(np.float32)
    else:  # TF.js io_utils: values[i] = v * scale + min, a double stored in a Float32Array
        q = entry["quantization"]
        expected = (stored.astype(np.float64) * q["scale"] + q["min"]).astype(np.float32)
    assert weights["dense_Dense1/kernel"].dtype == np.float32
    assert np.array_equal(weights["dense_Dense1/kernel"].ravel(), expected)


def test_index_names_map_to_the_spec_names():
    kernel, bias = np.ones((4, 3), np.float32), np.arange(3, dtype=np.float32)
    artifacts = _with_weights(
        tiny_model_json(), [("dense_Dense1/0", kernel), ("dense_Dense1/1", bias)]
    )
    weights = load_weights(check_artifacts(artifacts, source="m"), artifacts, source="m")
    assert set(weights) == {"dense_Dense1/kernel", "dense_Dense1/bias"}
    assert np.array_equal(weights["dense_Dense1/bias"], bias)


@pytest.mark.parametrize(
    ("dtype", "array"),
    [
        ("int32", np.ones((4, 3), np.int32)),
        ("bool", np.ones((4, 3), bool)),
    ],
)
def test_layer_weights_tfjs_cannot_assign_are_refused(dtype, array):
    """TF.js decodes int32/bool/complex64 tensors, then Variable.assign throws on the dtype."""
    bias = np.zeros(3, np.float32)
    artifacts = _with_weights(
        tiny_model_json(), [("dense_Dense1/kernel", array), ("dense_Dense1/bias", bias)]
    )
    with pytest.raises(
        ModelFormatError, match=rf"'dense_Dense1/kernel' has dtype '{dtype}' but layer"
    ):
        check_artifacts(artifacts, source="m")


def test_complex64_layer_weights_are_refused():
    model_json = tiny_model_json()
    model_json["weightsManifest"][0]["weights"][1]["dtype"] = "complex64"
    files = weight_bytes(model_json)
    with pytest.raises(ModelFormatError, match=r"'dense_Dense1/bias' has dtype 'complex64'"):
        check_artifacts(ModelArtifacts(model_json, files), source="m")


def test_optimizer_state_is_skipped_but_its_bytes_are_counted():
    model_json = tiny_model_json()
    model_json["weightsManifest"][0]["weights"].insert(
        0, {"name": "iter", "shape": [], "dtype": "int32", "group": "optimizer"}
    )
    files = weight_bytes(model_json)
    artifacts = ModelArtifacts(model_json, files)
    weights = load_weights(check_artifacts(artifacts, source="m"), artifacts, source="m")
    data = files["group1-shard1of1.bin"]
    assert np.array_equal(weights["dense_Dense1/kernel"].ravel(), np.frombuffer(data, "<f4", 12, 4))


def test_weights_of_a_browser_saved_model_are_found_by_dot_slash_path():
    model_json = tiny_model_json(paths=["./model.weights.bin"])
    artifacts = ModelArtifacts(model_json, weight_bytes(model_json))
    assert artifacts.paths == ["model.weights.bin"]
    weights = load_weights(check_artifacts(artifacts, source="m"), artifacts, source="m")
    assert weights["dense_Dense1/kernel"].shape == (4, 3)


# -- every mutation is a clean answer ------------------------------------------------------------

_ODD_VALUES = [
    None,
    -1,
    0,
    1,
    2,
    3.5,
    "x",
    "same",
    "channels_first",
    [],
    [1],
    [2, 2],
    [-1, 3],
    [None, 3],
    {},
    {"class_name": "Zeros"},
    {"class_name": "X", "config": 1},
    True,
    [[["x", 0, 0, {}]]],
    [["a"]],
    10**20,
    "fan_in",
    float("inf"),
]


def _paths(obj, path=()):
    items = (
        obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, list) else ()
    )
    for key, value in items:
        yield (*path, key)
        yield from _paths(value, (*path, key))


def test_random_mutations_of_real_models_load_or_are_format_errors():
    """Our own hostile suite: 600 random edits of real model.json files, a fixed seed.

    Each edit replaces, deletes or adds one value anywhere in the file (types included: a list
    where a number was, a string where a list was, inf, 10**20). The reader either accepts the
    result (then its weights decode) or raises ModelFormatError: never another exception.
    """
    import random

    rng = random.Random(20261201)
    bases = [
        json.loads((REPO / d / "model.json").read_text())
        for d in ("tests/fixtures/seed-model", "models/mnist")
    ] + [functional_model_json(), tiny_model_json()]
    bases = [(model_json, weight_bytes(model_json)) for model_json in bases]
    outcomes = {"loaded": 0, "refused": 0}
    for _ in range(600):
        base, files = rng.choice(bases)
        model_json = copy.deepcopy(base)
        root = model_json if rng.random() < 0.3 else model_json["modelTopology"]
        for _ in range(rng.randint(1, 3)):
            paths = list(_paths(root))
            if not paths:
                break
            *parents, last = rng.choice(paths)
            parent = root
            for key in parents:
                parent = parent[key]
            roll = rng.random()
            if roll < 0.7:
                parent[last] = copy.deepcopy(rng.choice(_ODD_VALUES))
            elif isinstance(parent, dict) and roll < 0.85:
                del parent[last]
            elif isinstance(parent, dict):
                parent["extra"] = rng.choice(_ODD_VALUES)
        try:
            artifacts = ModelArtifacts(model_json, files, "m.json")
            graph = check_artifacts(artifacts, source="m.json")
            load_weights(graph, artifacts, source="m.json")
        except ModelFormatError:
            outcomes["refused"] += 1
        else:
            outcomes["loaded"] += 1
    assert outcomes["loaded"] > 50 and outcomes["refused"] > 300  # both kinds really happened


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda m: m["weightsManifest"][0]["weights"][0].update(dtype=["float32"]),
            r"unknown dtype \['float32'\]",
        ),
        (
            lambda m: m["weightsManifest"][0]["weights"][0].update(quantization={"dtype": []}),
            r"unknown quantization dtype \[\]",
        ),
        (
            lambda m: m["modelTopology"]["config"]["layers"][0]["config"].update(rate=float("nan")),
            r"model.json cannot be written as JSON \(Out of range float values",
        ),
        (
            lambda m: m["modelTopology"].update(config="layers"),
            r"the model's 'config' must be an object, got 'layers'",
        ),
        (
            lambda m: m["modelTopology"]["config"]["layers"][0].update(class_name=["Dense"]),
            r"layer 0 must be an object with 'class_name'",
        ),
        (
            lambda m: m["modelTopology"]["config"]["layers"][0]["config"].update(
                dtype={"config": 1}
            ),
            r"field 'dtype': dtype \{'config': 1\} is not supported",
        ),
    ],
)
def test_values_of_the_wrong_type_are_format_errors(change, message):
    model_json = tiny_model_json()
    files = weight_bytes(model_json)
    change(model_json)
    with pytest.raises(ModelFormatError, match=message):
        check_artifacts(ModelArtifacts(model_json, files), source="m")


def test_functional_endpoints_of_the_wrong_type_are_format_errors():
    model_json = functional_model_json()
    model_json["modelTopology"]["model_config"]["config"]["input_layers"] = 3.5
    with pytest.raises(ModelFormatError, match=r"field 'input_layers' must be a list of \[layer"):
        parse_graph(model_json, source="m")


def test_free_spatial_sizes_propagate_and_layers_that_need_them_say_so():
    conv = _layer("Conv2D", "conv", filters=4, kernel_size=3, padding="same", strides=2)
    layers = [_input(None, None, 1), conv, _layer("MaxPooling2D", "pool")]
    graph = parse_graph(_sequential(*layers), source="m")
    assert [layer.output_shape for layer in graph.layers] == [
        (None, None, None, 1),
        (None, None, None, 4),
        (None, None, None, 4),
    ]
    assert graph.layer("conv").weights[0].shape == (3, 3, 1, 4)
    with pytest.raises(
        ModelFormatError,
        match=r"layer 'flat' \(Flatten\): its input from layer "
        r"'pool' has shape \(None, None, None, 4\), whose axis 1 is unknown",
    ):
        parse_graph(_sequential(*layers, _layer("Flatten", "flat")), source="m")
    with pytest.raises(ModelFormatError, match=r"'conv' \(Conv2D\).*whose channel count"):
        parse_graph(_sequential(_input(8, 8, None), conv), source="m")


def test_a_cycle_is_named_and_a_long_reversed_chain_is_sorted_in_linear_time():
    model_json = functional_model_json()
    config = model_json["modelTopology"]["model_config"]["config"]
    config["layers"][1]["inbound_nodes"] = [[["out", 0, 0, {}]]]  # hidden <- out <- hidden
    with pytest.raises(ModelFormatError, match=r"layers \['hidden', 'out'\] form a cycle"):
        parse_graph(model_json, source="m")
    chain = [config["layers"][0]]
    for i in range(20_000):
        layer = {"class_name": "Dropout", "name": f"d{i}", "config": {"name": f"d{i}"}}
        layer["inbound_nodes"] = [[[f"d{i - 1}" if i else "x", 0, 0, {}]]]
        chain.append(layer)
    config["layers"] = chain[::-1]  # every layer listed before its producer
    config["output_layers"] = [["d19999", 0, 0]]
    start = time.perf_counter()
    graph = parse_graph(model_json, source="m")
    assert time.perf_counter() - start < 5  # the old fixed-point loop needed ~n^2/2 steps
    assert [layer.name for layer in graph.layers[:3]] == ["x", "d0", "d1"]


@pytest.mark.parametrize(
    "layer",
    [
        _layer("MaxPooling2D", "pool", pool_size=[10**9, 10**9], strides=1, padding="same"),
        _layer("Conv2D", "conv", filters=1, kernel_size=3, dilation_rate=10**6, padding="same"),
    ],
)
def test_a_same_padded_window_far_larger_than_its_input_is_refused(layer):
    """No weights and a 28x28 output, but an engine would pad the input to 10**18 values."""
    model_json = _sequential(_input(28, 28, 1), layer)
    with pytest.raises(ModelFormatError, match=r"with padding 'same' its window .* pads the input"):
        parse_graph(model_json, source="m")
