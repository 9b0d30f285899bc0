"""Weight bytes: packing, sharding, quantization and decoding, exactly as TF.js 4.22 reads them.

NumPy only. Everything is little-endian and packed back to back in manifest order with no
alignment; a group's byte stream is cut into ``group<g>-shard<i>of<n>.bin`` files at
``shard_size_bytes``, so one tensor may span two shards. Quantization follows the official
converter (``tensorflowjs/quantization.py``) and dequantization follows ``io_utils.ts``; decoding a
model's weights is :func:`~.graph.load_weights`.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from ..errors import ModelFormatError
from .artifacts import DEFAULT_SHARD_BYTES, QUANTIZE_CHOICES, normal_path, weight_nbytes

#: How each manifest dtype and quantization dtype is laid out in the weight bytes.
STORED_DTYPES: dict[str, np.dtype[Any]] = {
    "float32": np.dtype("<f4"),
    "int32": np.dtype("<i4"),
    "bool": np.dtype("u1"),
    "complex64": np.dtype("<c8"),
    "float16": np.dtype("<f2"),
    "uint8": np.dtype("u1"),
    "uint16": np.dtype("<u2"),
}


def quantize(values: np.ndarray, dtype: str) -> tuple[np.ndarray, dict[str, Any]]:
    """Quantize a float32 tensor like the TF.js converter; return the stored array and its spec.

    ``uint8``/``uint16``: ``scale = (max - min) / (2**bits - 1)``; when 0 lies in ``[min, max]``
    ``min`` is nudged so that 0 is represented exactly; ``q = round((clip(x) - min) / scale)``.
    A constant tensor becomes all zeros with ``scale = 1``. ``float16`` is a plain cast.

    Examples
    --------
    >>> q, spec = quantize(np.array([-1.0, 0.0, 1.0], np.float32), "uint8")
    >>> q.tolist(), spec["dtype"], spec["min"] == -128 * spec["scale"]
    ([0, 128, 255], 'uint8', True)
    """
    if dtype == "float16":
        return values.astype("<f2"), {"dtype": "float16", "original_dtype": "float32"}
    if dtype not in ("uint8", "uint16"):
        msg = (
            f"unknown quantization {dtype!r}; expected None or one of {', '.join(QUANTIZE_CHOICES)}"
        )
        raise ValueError(msg)
    qtype = STORED_DTYPES[dtype]
    lo, hi = float(values.min()), float(values.max())
    if lo == hi:
        q = np.zeros(values.shape, qtype)
        scale = 1.0
    else:
        qmax = np.iinfo(qtype).max
        scale = (hi - lo) / qmax
        if lo <= 0 <= hi:  # nudge so that 0 maps to an integer (zero padding stays exactly 0)
            lo = -float(np.round(-lo / scale)) * scale
            hi = qmax * scale + lo
        clipped = np.clip(values.astype(np.float64), lo, hi)
        q = np.round((clipped - lo) / scale).astype(qtype)
    return q, {"dtype": dtype, "min": lo, "scale": scale, "original_dtype": "float32"}


def dequantize(stored: np.ndarray, spec: dict[str, Any], dtype: str) -> np.ndarray:
    """Undo :func:`quantize` as TF.js does: ``q * scale + min`` in double, stored as ``dtype``."""
    if spec["dtype"] == "float16":
        return stored.astype(np.float32)
    value = stored.astype(np.float64) * float(spec["scale"]) + float(spec["min"])
    if dtype == "int32":  # Math.round: halves round up
        return np.floor(value + 0.5).astype(np.int32)
    return value.astype(np.float32)


def encode_weights(
    named: Iterable[tuple[str, np.ndarray]],
    *,
    quantize_dtype: str | None = None,
    shard_size_bytes: int = DEFAULT_SHARD_BYTES,
) -> tuple[list[dict[str, Any]], dict[str, bytes]]:
    """Pack named tensors into one manifest group and its shard files.

    Returns
    -------
    manifest, files
        ``weightsManifest`` (one group) and ``{shard name: bytes}``.
    """
    if shard_size_bytes < 1:
        raise ValueError(f"shard_size_bytes must be a positive integer, got {shard_size_bytes!r}")
    if quantize_dtype is not None and quantize_dtype not in QUANTIZE_CHOICES:
        msg = f"unknown quantize={quantize_dtype!r}; expected None or one of {QUANTIZE_CHOICES}"
        raise ValueError(msg)
    entries, chunks = [], []
    for name, array in named:
        values = np.asarray(array)
        dtype = _manifest_dtype(name, values)
        entry: dict[str, Any] = {"name": name, "shape": list(values.shape), "dtype": dtype}
        if quantize_dtype and dtype == "float32":
            stored, entry["quantization"] = quantize(values.astype(np.float32), quantize_dtype)
        else:
            stored = values.astype(STORED_DTYPES[dtype])
        entries.append(entry)
        chunks.append(np.ascontiguousarray(stored).tobytes())
    data = b"".join(chunks)
    count = max(1, math.ceil(len(data) / shard_size_bytes))
    paths = [f"group1-shard{i}of{count}.bin" for i in range(1, count + 1)]
    files = {
        p: data[i * shard_size_bytes : (i + 1) * shard_size_bytes] for i, p in enumerate(paths)
    }
    return [{"paths": paths, "weights": entries}], files


def _manifest_dtype(name: str, values: np.ndarray) -> str:
    kind = values.dtype
    if kind == np.bool_:
        return "bool"
    if np.issubdtype(kind, np.floating) and kind.itemsize <= 4:
        return "float32"
    if np.issubdtype(kind, np.integer) and kind.itemsize <= 4:
        return "int32"
    msg = f"weight {name!r} has dtype {kind}; the TF.js format stores float32, int32 or bool"
    raise ModelFormatError(msg)


def replace_weights(
    model_json: dict[str, Any],
    weight_files: Mapping[str, bytes],
    replacements: Mapping[str, np.ndarray],
) -> tuple[dict[str, Any], dict[str, bytes]]:
    """New values for some weights, everything else byte for byte: ``(model_json, files)``.

    Each replaced weight keeps its name, shape, dtype and storage (a quantized weight is quantized
    again with the same dtype, and a new ``min``/``scale``), so every group keeps its byte count
    and its files keep their names and sizes; the other weights' bytes are not touched (no
    dequantize/requantize round trip). ``model_json`` is copied, never changed in place.

    Raises
    ------
    ModelFormatError
        A replacement names no weight of the manifest, or has another shape.

    Examples
    --------
    >>> manifest = [{"paths": ["w.bin"], "weights": [
    ...     {"name": "d/kernel", "shape": [2], "dtype": "float32"},
    ...     {"name": "d/bias", "shape": [1], "dtype": "float32"}]}]
    >>> files = {"w.bin": np.array([1, 2, 3], "<f4").tobytes()}
    >>> _, new = replace_weights({"weightsManifest": manifest}, files, {"d/bias": np.array([9.0])})
    >>> np.frombuffer(new["w.bin"], "<f4").tolist()
    [1.0, 2.0, 9.0]
    """
    manifest = copy.deepcopy(model_json["weightsManifest"])
    left = dict(replacements)
    files: dict[str, bytes] = {}
    for group in manifest:
        paths = [normal_path(p) for p in group["paths"]]
        stream = bytearray(b"".join(weight_files[p] for p in paths))
        offset = 0
        for entry in group["weights"]:
            size = weight_nbytes(entry)
            if entry["name"] in left:
                stored = _encode_like(entry, np.asarray(left.pop(entry["name"])))
                stream[offset : offset + size] = stored
            offset += size
        start = 0
        for path in paths:  # the same cuts: every file keeps its size
            end = start + len(weight_files[path])
            files[path] = bytes(stream[start:end])
            start = end
    if left:
        msg = f"no weight named {sorted(left)[0]!r} in the model's weightsManifest"
        raise ModelFormatError(msg)
    return {**model_json, "weightsManifest": manifest}, files


def _encode_like(entry: dict[str, Any], values: np.ndarray) -> bytes:
    """``values`` stored as ``entry`` stores its weight; ``entry``'s quantization is updated."""
    if list(values.shape) != list(entry["shape"]):
        msg = (
            f"weight {entry['name']!r} has shape {tuple(entry['shape'])}, the replacement "
            f"{values.shape}"
        )
        raise ModelFormatError(msg)
    quant = entry.get("quantization")
    if quant:
        stored, entry["quantization"] = quantize(values.astype(np.float32), quant["dtype"])
    else:
        stored = values.astype(STORED_DTYPES[entry["dtype"]])
    return np.ascontiguousarray(stored).tobytes()
