"""Save and load TF.js layers models by path or URL (``file``, ``http(s)``, ``cache://``)."""

from __future__ import annotations

import os
from typing import Any

from ..io import read_artifacts, write_artifacts
from .artifacts import DEFAULT_SHARD_BYTES
from .codec import decode_model, encode_model


def save_layers_model(
    model: Any,
    dest: str | os.PathLike,
    *,
    quantize: str | None = None,
    shard_size_bytes: int = DEFAULT_SHARD_BYTES,
) -> str:
    """Save a Keras model as TF.js ``model.json`` + ``group1-shardNofM.bin`` files, atomically.

    Parameters
    ----------
    model
        A built Sequential or functional Keras model of allowlisted layers.
    dest
        A directory, ``file://`` URL or ``cache://NAME``.
    quantize
        ``None``, ``"float16"``, ``"uint8"`` or ``"uint16"``: store weights in fewer bytes, with
        the TF.js converter's semantics (uint8 makes the MNIST CNN about 4x smaller).
    shard_size_bytes
        Maximum size of one weight file (the converter's default, 4 MiB).

    Returns
    -------
    str
        Where the model was written.

    Examples
    --------
    >>> save_layers_model(model, "models/mnist", quantize="uint8")  # doctest: +SKIP
    'models/mnist'
    """
    artifacts = encode_model(model, quantize=quantize, shard_size_bytes=shard_size_bytes)
    return write_artifacts(artifacts, dest)


def load_layers_model(src: str | os.PathLike, **options: Any) -> Any:
    """Load a TF.js layers model (ours, TF.js-saved, or converter output) as a ``keras.Model``.

    Parameters
    ----------
    src
        A model directory, ``model.json`` path, ``file://``, ``http(s)://`` or ``cache://NAME``.
    **options
        For ``http(s)://``: passed to :func:`mnist_widgets.loader.download_artifacts`.

    Examples
    --------
    >>> model = load_layers_model("models/mnist")  # doctest: +SKIP
    >>> model.predict(images).argmax(axis=1)  # doctest: +SKIP
    """
    return decode_model(read_artifacts(src, **options), source=str(src))
