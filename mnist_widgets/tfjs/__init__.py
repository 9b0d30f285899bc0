"""The TensorFlow.js layers-model format: our own writer and reader, checked against TF.js 4.22.

* :mod:`.artifacts` - ``model.json`` + weight files in memory, validation (no TensorFlow)
* :mod:`.weights` - byte packing, sharding, quantization (NumPy only)
* :mod:`.topology` - Keras 3 config <-> the Keras-2-style topology TF.js loads (pure dicts)
* :mod:`.layers` - the allowlist of layer classes the reader builds
* :mod:`.codec` - ``encode_model`` / ``decode_model``; :mod:`.saving` - save/load by path or URL

Importing this package does not import TensorFlow.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_getattr
from .artifacts import ModelArtifacts

_EXPORTS = {
    "save_layers_model": "saving",
    "load_layers_model": "saving",
    "encode_model": "codec",
    "decode_model": "codec",
}

__all__ = [
    "ModelArtifacts",
    "decode_model",
    "encode_model",
    "load_layers_model",
    "save_layers_model",
]


__getattr__ = lazy_getattr(__name__, _EXPORTS)


if TYPE_CHECKING:  # pragma: no cover
    from .codec import decode_model, encode_model
    from .saving import load_layers_model, save_layers_model
