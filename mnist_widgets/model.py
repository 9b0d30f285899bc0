"""The tfjs-examples ``mnist-node`` CNN, layer for layer, with stable layer names.

Layer names are fixed (``conv2d_1`` .. ``dense_2``) rather than left to Keras's global counters, so
the TF.js weight names in an exported ``model.json`` (``conv2d_1/kernel`` ...) are the same in every
process, however many models were built before.
"""

from __future__ import annotations

from typing import Any

from ._tf import keras

INPUT_SHAPE = (28, 28, 1)
NUM_CLASSES = 10
PARAM_COUNT = 594_922  # as printed by mnist-node's model.summary()
LEARNING_RATE = 1e-3


def build_model(*, name: str = "mnist_node_cnn") -> Any:
    """Build the (uncompiled) mnist-node CNN: 28x28x1 floats in [0, 1] -> 10 class probabilities.

    ``Conv2D(32,3) -> Conv2D(32,3) -> MaxPool(2) -> Conv2D(64,3) -> Conv2D(64,3) -> MaxPool(2) ->
    Flatten -> Dropout(0.25) -> Dense(512) -> Dropout(0.5) -> Dense(10, softmax)``, ReLU throughout.
    Returned uncompiled; :func:`compile_model` (or :func:`mnist_widgets.train`) compiles it.

    Returns
    -------
    keras.Sequential
        594,922 parameters, output shape ``(None, 10)``.

    Examples
    --------
    >>> model = build_model()  # doctest: +SKIP
    >>> model.count_params()  # doctest: +SKIP
    594922
    """
    k = keras()
    layers = k.layers
    return k.Sequential(
        [
            k.Input(shape=INPUT_SHAPE, name="input"),
            layers.Conv2D(32, 3, activation="relu", name="conv2d_1"),
            layers.Conv2D(32, 3, activation="relu", name="conv2d_2"),
            layers.MaxPooling2D(2, name="max_pooling2d_1"),
            layers.Conv2D(64, 3, activation="relu", name="conv2d_3"),
            layers.Conv2D(64, 3, activation="relu", name="conv2d_4"),
            layers.MaxPooling2D(2, name="max_pooling2d_2"),
            layers.Flatten(name="flatten"),
            layers.Dropout(0.25, name="dropout_1"),
            layers.Dense(512, activation="relu", name="dense_1"),
            layers.Dropout(0.5, name="dropout_2"),
            layers.Dense(NUM_CLASSES, activation="softmax", name="dense_2"),
        ],
        name=name,
    )


def compile_model(
    model: Any, *, learning_rate: Any = LEARNING_RATE, label_smoothing: float = 0.0
) -> Any:
    """Compile ``model`` with Adam, cross-entropy and accuracy.

    Parameters
    ----------
    learning_rate
        A float or a ``keras.optimizers.schedules.LearningRateSchedule``.
    label_smoothing
        0 (default): sparse categorical cross-entropy on integer labels. Above 0: categorical
        cross-entropy with label smoothing, which needs one-hot labels (Keras's sparse loss has no
        smoothing).

    Returns
    -------
    The same model, compiled (for chaining).
    """
    k = keras()
    if label_smoothing:
        loss = k.losses.CategoricalCrossentropy(label_smoothing=label_smoothing)
    else:
        loss = "sparse_categorical_crossentropy"
    model.compile(
        optimizer=k.optimizers.Adam(learning_rate=learning_rate), loss=loss, metrics=["accuracy"]
    )
    return model
