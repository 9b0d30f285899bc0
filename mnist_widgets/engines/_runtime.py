"""What running an engine needs, without the graph or the plan (a start stays cheap).

The ONNX graph's input and output names and metadata keys, :func:`model_key` (which files a
prebuilt graph was built from), the memory budget and the batch checks every engine makes. A
prebuilt ONNX graph whose key matches its model runs with this module, :mod:`.ort`, NumPy and
onnxruntime only: neither :mod:`mnist_widgets.tfjs.graph` nor :mod:`._plan` is imported.
"""

from __future__ import annotations

import hashlib

import numpy as np
import numpy.typing as npt

from ..tfjs.artifacts import ModelArtifacts

__all__ = [
    "IMAGE_BYTES_PROP",
    "INPUT",
    "KEY_PROP",
    "MEMORY_BUDGET_BYTES",
    "OUTPUT",
    "check_batch",
    "chunk_images",
    "model_key",
]

#: The ONNX graph's input and output names.
INPUT, OUTPUT = "input", "output"
#: The ONNX metadata key holding :func:`model_key` of the files a graph was built from.
KEY_PROP = "mnist_widgets.model_key"
#: The ONNX metadata key holding the working memory per image (``_plan.image_bytes``).
IMAGE_BYTES_PROP = "mnist_widgets.image_bytes"
#: Changes whenever the ONNX translation does, so graphs stored by an older one are rebuilt.
_TRANSLATION = "onnx-1"

#: Memory one engine call may use for one chunk of its batch (NumPy keeps the buffers of up to
#: three batch sizes, so at most about twice this). A batch is run in chunks that fit it.
MEMORY_BUDGET_BYTES = 256 * 2**20


def chunk_images(image_bytes: int, most: int) -> int:
    """How many images one pass of an engine may take: at most ``most``, within the budget."""
    return max(1, min(most, MEMORY_BUDGET_BYTES // max(1, image_bytes)))


def check_batch(input_shape: tuple[int, ...], batch: npt.ArrayLike) -> npt.NDArray[np.float32]:
    """``batch`` as a C-contiguous float32 array of the model's input shape (or ValueError)."""
    x = np.ascontiguousarray(batch, dtype=np.float32)
    if x.shape[1:] != input_shape:
        dims = ", ".join(map(str, input_shape))
        raise ValueError(f"the model takes inputs of shape (n, {dims}), got {x.shape}")
    return x


def model_key(artifacts: ModelArtifacts) -> str:
    """What identifies a model's ONNX graph: SHA-256 of the translation, model.json and weights.

    A graph built from other files (or by another translation) has another key, so a stored or
    shipped ``model.onnx`` that no longer fits its model is never run.
    """
    parts = [_TRANSLATION.encode(), artifacts.model_json_bytes()]
    parts += [artifacts.weight_files[path] for path in artifacts.paths]
    digest = hashlib.sha256(",".join(str(len(p)) for p in parts).encode())  # lengths first:
    for part in parts:  # no two splits of the same bytes hash alike
        digest.update(part)
    return digest.hexdigest()
