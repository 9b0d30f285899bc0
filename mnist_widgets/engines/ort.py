"""The ``"onnxruntime"`` engine: an ONNX graph of the model run by onnxruntime (CPU).

Needs numpy and onnxruntime only. The graph comes prebuilt where it can (the model store keeps one
beside each version, the shipped model ships one); :func:`session_for` runs it when its
:func:`~._plan.model_key` says it was built from these very files, and returns ``None``
otherwise, so that the caller builds one with :mod:`.onnx` (which imports the ``onnx`` package).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from ._plan import INPUT, KEY_PROP, OUTPUT, check_batch

__all__ = ["OnnxEngine", "session_for", "session_options"]


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
        self, session: ort.InferenceSession, *, input_shape: tuple[int, ...], name: str
    ) -> None:
        self.session = session
        self.input_shape = input_shape
        self.name = name

    def __call__(self, batch: npt.ArrayLike) -> npt.NDArray[np.float32]:
        (out,) = self.session.run([OUTPUT], {INPUT: check_batch(self.input_shape, batch)})
        return np.asarray(out, np.float32)

    def __repr__(self) -> str:
        return f"OnnxEngine(model={self.name!r})"
