"""The TensorFlow.js layers-model format: our own writer and reader, checked against TF.js 4.22.

* :mod:`.artifacts` - ``model.json`` + weight files in memory, validated when made (no TensorFlow)
* :mod:`.weights` - byte packing, sharding, quantization (NumPy only)
* :mod:`.topology` - Keras 3 config <-> the Keras-2-style topology TF.js loads (pure dicts)
* :mod:`.layers` - the allowlist of layer classes, and their Keras constructors
* :mod:`.graph` - the checked, typed layer graph with shapes and weights (NumPy only)
* :mod:`.codec` - ``encode_model`` / ``decode_model`` (Keras model <-> artifacts)

The format only: nothing here fetches, caches or runs a model, and this package imports nothing
of ``mnist_widgets`` but the leaf helpers (``errors``, ``_fs``, ``_tf``). Importing it does not
import TensorFlow (``codec`` asks ``_tf`` for Keras when a model is encoded or decoded), nor
``codec`` itself until ``encode_model`` or ``decode_model`` is first used (running a model needs
neither), nor ``graph`` until one of its names is (a prebuilt ONNX graph runs without it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_getattr
from .artifacts import MODEL_JSON, ModelArtifacts

__all__ = [
    "MODEL_JSON",
    "Layer",
    "ModelArtifacts",
    "ModelGraph",
    "WeightSpec",
    "check_artifacts",
    "check_manifest",
    "decode_model",
    "encode_model",
    "load_weights",
    "parse_graph",
]

_EXPORTS = {
    "decode_model": "codec",
    "encode_model": "codec",
    "Layer": "graph",
    "ModelGraph": "graph",
    "WeightSpec": "graph",
    "check_artifacts": "graph",
    "check_manifest": "graph",
    "load_weights": "graph",
    "parse_graph": "graph",
}
__getattr__ = lazy_getattr(__name__, _EXPORTS)

if TYPE_CHECKING:  # pragma: no cover - what __getattr__ resolves, for type checkers
    from .codec import decode_model, encode_model
    from .graph import (
        Layer,
        ModelGraph,
        WeightSpec,
        check_artifacts,
        check_manifest,
        load_weights,
        parse_graph,
    )
