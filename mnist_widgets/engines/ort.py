"""The ``"onnxruntime"`` engine: an ONNX graph of the model run by onnxruntime (CPU).

Needs numpy and onnxruntime only. The graph comes prebuilt where it can (the model store keeps one
beside each version, the shipped model ships one); :func:`session_for` runs it when its
:func:`~._runtime.model_key` says it was built from these very files, and returns ``None``
otherwise, so that the caller builds one with :mod:`.onnx` (which imports the ``onnx`` package).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from .._fs import read_regular
from ..errors import ModelFormatError
from ._runtime import INPUT, KEY_PROP, OUTPUT, check_batch, chunk_images

__all__ = ["OnnxEngine", "OnnxFileEngine", "session_for", "session_options"]


def session_options(intra_op_threads: int = 1) -> ort.SessionOptions:
    """onnxruntime options used for predictions: one intra-op thread, one inter-op, full graph
    optimisation. One image is ~20 MFLOP: ``benchmarks/engine_latency.py`` measures a second
    intra-op thread as 0.035 ms faster on an idle 2-core machine and no faster under load, where
    it competes with the kernel and the browser, so the default stays at one."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = intra_op_threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3  # errors only
    return options


def session_for(
    onnx: bytes, key: str | None, *, intra_op_threads: int = 1
) -> ort.InferenceSession | None:
    """A session running ``onnx`` if it was built for the model ``key`` names (any, if ``None``);
    ``None`` for a graph of another model or translation, or bytes onnxruntime cannot read."""
    try:
        session = ort.InferenceSession(
            onnx, sess_options=session_options(intra_op_threads), providers=["CPUExecutionProvider"]
        )
    except Exception:  # onnxruntime raises its own Fail/InvalidGraph/...: rebuilt by the caller
        return None
    built_for = session.get_modelmeta().custom_metadata_map.get(KEY_PROP)
    return session if key is None or built_for == key else None


class OnnxEngine:
    """Run an onnxruntime session of a model's graph; ``engine(batch)`` -> float32 outputs.

    Parameters
    ----------
    session
        From :func:`session_for` (input ``"input"``, output ``"output"``).
    input_shape
        The model's input shape without the batch axis, e.g. ``(28, 28, 1)``.
    name
        The model's name (for ``repr``).
    """

    backend = "onnxruntime"

    def __init__(
        self,
        session: ort.InferenceSession,
        *,
        input_shape: tuple[int, ...],
        name: str,
        image_bytes: int = 0,
    ) -> None:
        self.session = session
        self.input_shape = input_shape
        self.name = name
        # onnxruntime holds a whole call's activations at once: big batches go in chunks that
        # fit the memory budget (``image_bytes``: :func:`~._plan.image_bytes`, 0 if not known)
        self._chunk = chunk_images(image_bytes, 1 << 30)

    def __call__(self, batch: npt.ArrayLike) -> npt.NDArray[np.float32]:
        x = check_batch(self.input_shape, batch)
        step = self._chunk
        parts = [
            self.session.run([OUTPUT], {INPUT: x[i : i + step]})[0] for i in range(0, len(x), step)
        ]
        return np.asarray(parts[0] if len(parts) == 1 else np.concatenate(parts), np.float32)

    def __repr__(self) -> str:
        return f"OnnxEngine(model={self.name!r})"


class OnnxFileEngine:
    """Run a ``model.onnx`` file (``mnist-widgets export --format onnx``'s, or any model with one
    float32 input ``(n, 28, 28, 1)`` and one output) in onnxruntime; ``engine(batch)`` -> outputs.

    Raises
    ------
    ModelFormatError
        The file is missing, not an ONNX model onnxruntime can load, or has another input shape.
    """

    backend = "onnxruntime"

    def __init__(self, path: str | os.PathLike[str], *, intra_op_threads: int = 1) -> None:
        self.path = Path(path)
        try:  # a regular file only (a FIFO would block), within protobuf's own 2 GiB limit
            data = read_regular(
                self.path, what="ONNX model", error=ModelFormatError, max_bytes=2**31 - 1
            )
        except OSError as exc:
            msg = f"cannot read the ONNX model {str(self.path)!r}: {exc.strerror or exc}"
            raise ModelFormatError(msg) from exc
        try:
            self._session = ort.InferenceSession(
                data,
                sess_options=session_options(intra_op_threads),
                providers=["CPUExecutionProvider"],
            )
        except Exception as exc:  # onnxruntime raises its own untyped exceptions for a bad file
            msg = f"{str(self.path)!r} is not an ONNX model onnxruntime can run: {exc}"
            raise ModelFormatError(msg) from exc
        inputs, outputs = self._session.get_inputs(), self._session.get_outputs()
        shape = tuple(inputs[0].shape) if len(inputs) == 1 else ()
        if len(inputs) != 1 or len(outputs) != 1 or tuple(shape[1:]) != (28, 28, 1):
            msg = (
                f"{str(self.path)!r} takes inputs {[tuple(i.shape) for i in inputs]}; expected one "
                "input of shape (n, 28, 28, 1) and one output (as `mnist-widgets export --format "
                "onnx` writes)"
            )
            raise ModelFormatError(msg)
        self._input, self._output = inputs[0].name, outputs[0].name

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        (out,) = self._session.run([self._output], {self._input: batch.astype(np.float32)})
        return np.asarray(out, dtype=np.float32)

    def __repr__(self) -> str:
        return f"OnnxFileEngine({str(self.path)!r})"
