"""The mnist-node CNN: architecture, parameter count, stable names."""

from __future__ import annotations

import numpy as np

from mnist_widgets.model import PARAM_COUNT, build_model, compile_model


def test_architecture_matches_mnist_node():
    model = build_model()
    assert model.count_params() == PARAM_COUNT == 594_922
    assert model.input_shape == (None, 28, 28, 1)
    assert model.output_shape == (None, 10)
    assert [layer.name for layer in model.layers] == [
        "conv2d_1",
        "conv2d_2",
        "max_pooling2d_1",
        "conv2d_3",
        "conv2d_4",
        "max_pooling2d_2",
        "flatten",
        "dropout_1",
        "dense_1",
        "dropout_2",
        "dense_2",
    ]
    convs = [layer for layer in model.layers if layer.name.startswith("conv2d")]
    assert [(c.filters, c.kernel_size, c.activation.__name__) for c in convs] == [
        (32, (3, 3), "relu"),
        (32, (3, 3), "relu"),
        (64, (3, 3), "relu"),
        (64, (3, 3), "relu"),
    ]
    assert [model.get_layer(n).rate for n in ("dropout_1", "dropout_2")] == [0.25, 0.5]
    assert model.get_layer("dense_1").units == 512
    assert model.get_layer("dense_2").activation.__name__ == "softmax"


def test_names_do_not_depend_on_how_many_models_were_built():
    first, second = build_model(), build_model()
    assert [w.path.split("/", 1)[1] for w in first.weights] == [
        w.path.split("/", 1)[1] for w in second.weights
    ]
    assert second.weights[0].path.endswith("conv2d_1/kernel")


def test_outputs_are_probabilities_and_model_compiles():
    model = compile_model(build_model())
    x = np.random.default_rng(0).random((3, 28, 28, 1), dtype=np.float32)
    probs = np.asarray(model(x, training=False))
    assert probs.shape == (3, 10)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    assert model.optimizer is not None and model.loss == "sparse_categorical_crossentropy"
