"""Hostile inputs, second round (issue 20): non-finite weights, memory per model, local files,
raw exceptions, symlinked store entries.

Memory cases run in a child process under ``RLIMIT_AS`` (:func:`run_limited`), so a regression
fails the test instead of exhausting the machine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from mnist_widgets.cli import main
from mnist_widgets.errors import ModelFormatError
from mnist_widgets.predictor import Predictor
from mnist_widgets.tfjs.artifacts import ModelArtifacts
from mnist_widgets.tfjs.weights import encode_weights

REPO = Path(__file__).resolve().parents[1]
BACKENDS = ["numpy", "onnxruntime"]
INPUT = [None, 28, 28, 1]


# -- helpers ---------------------------------------------------------------------------------------


def _layers_json(layers: list[dict[str, Any]], manifest: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "format": "layers-model",
        "modelTopology": {
            "class_name": "Sequential",
            "config": {"name": "m", "layers": layers},
            "keras_version": "tfjs-layers 4.22.0",
            "backend": "tensor_flow.js",
        },
        "weightsManifest": manifest,
    }


def digit_model(
    kernel: np.ndarray | None = None, *, quantize: str | None = None
) -> tuple[dict[str, Any], dict[str, bytes]]:
    """Input 28x28x1 -> Flatten -> Dense(10, softmax): model.json and its weight files."""
    rng = np.random.default_rng(0)
    if kernel is None:
        kernel = rng.normal(0, 0.05, (784, 10)).astype(np.float32)
    layers = [
        {"class_name": "InputLayer", "config": {"name": "in", "batch_input_shape": INPUT}},
        {"class_name": "Flatten", "config": {"name": "flat"}},
        {"class_name": "Dense", "config": {"name": "dense", "units": 10, "activation": "softmax"}},
    ]
    named = [("dense/kernel", kernel), ("dense/bias", np.zeros(10, np.float32))]
    manifest, files = encode_weights(named, quantize_dtype=quantize)
    return _layers_json(layers, manifest), files


def write_model(directory: Path, model_json: dict[str, Any], files: dict[str, bytes]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "model.json").write_text(json.dumps(model_json))
    for name, data in files.items():
        (directory / name).write_bytes(data)
    return directory


def one_canvas() -> np.ndarray:
    canvas = np.zeros((280, 280), np.uint8)
    canvas[40:240, 132:150] = 255
    return canvas


def run_limited(code: str, *, limit_mb: int = 1024, timeout: float = 60) -> str:
    """Run ``code`` in a child Python whose address space is capped at ``limit_mb``; its stdout.

    The child has this checkout first on its path; a MemoryError or a kill shows as a failure.
    """
    prelude = textwrap.dedent(
        f"""
        import resource
        resource.setrlimit(resource.RLIMIT_AS, ({limit_mb} << 20, {limit_mb} << 20))
        """
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), str(REPO / "tests")]))
    env["OPENBLAS_NUM_THREADS"] = env["OMP_NUM_THREADS"] = "1"  # thread stacks cost address space
    proc = subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )
    assert proc.returncode == 0, f"child failed ({proc.returncode}):\n{proc.stderr[-3000:]}"
    return proc.stdout


# -- 1. non-finite weights and scores --------------------------------------------------------------


def _poisoned(kind: str) -> tuple[dict[str, Any], dict[str, bytes]]:
    kernel = np.random.default_rng(1).normal(0, 0.05, (784, 10)).astype(np.float32)
    if kind in ("float32-nan", "float32-inf"):
        kernel[400, 3] = np.nan if kind == "float32-nan" else -np.inf
        return digit_model(kernel)
    if kind in ("float16-inf", "float16-nan"):
        model_json, files = digit_model(kernel, quantize="float16")
        (name,) = files
        halves = np.frombuffer(files[name], "<f2").copy()
        halves[400 * 10 + 3] = np.inf if kind == "float16-inf" else np.nan
        return model_json, {name: halves.tobytes()}
    # uint8 / uint16 with a finite scale (or min) that overflows float32 once dequantized
    dtype, field = kind.split("-")
    model_json, files = digit_model(kernel, quantize=dtype)
    spec = model_json["weightsManifest"][0]["weights"][0]["quantization"]
    spec[field] = 1e38 if field == "scale" else -3e39
    return model_json, files


@pytest.mark.parametrize(
    "kind",
    ["float32-nan", "float32-inf", "float16-inf", "float16-nan", "uint8-scale", "uint16-min"],
)
@pytest.mark.parametrize("backend", BACKENDS)
def test_non_finite_weights_are_refused_after_decoding_naming_the_weight(kind, backend):
    model_json, files = _poisoned(kind)
    artifacts = ModelArtifacts(model_json, files)  # the files themselves are well formed
    with pytest.raises(ModelFormatError, match=r"weight 'dense/kernel' holds [\d,]+ non-finite"):
        Predictor(artifacts, backend=backend)


def test_non_finite_weights_are_refused_by_the_keras_decoder_too():
    pytest.importorskip("tensorflow")
    from mnist_widgets.tfjs.codec import decode_model

    match = r"'dense/kernel' holds 1 non-finite values \(NaN\)"
    with pytest.raises(ModelFormatError, match=match):
        decode_model(ModelArtifacts(*_poisoned("float32-nan")))


def _overflowing_model() -> tuple[dict[str, Any], dict[str, bytes]]:
    """Finite weights whose scores overflow float32 on any inked image (3e38 per ink pixel)."""
    return digit_model(np.full((784, 10), 3e38, np.float32))


@pytest.mark.parametrize("backend", BACKENDS)
def test_scores_that_are_not_finite_are_an_error_never_a_digit(backend):
    predictor = Predictor(ModelArtifacts(*_overflowing_model()), backend=backend)
    with pytest.raises(ModelFormatError, match="scores for image 0 of the batch are not finite"):
        predictor.predict(one_canvas())
    with pytest.raises(ModelFormatError, match="not finite"):
        predictor.predict_batch([one_canvas()])


def test_cli_predict_with_non_finite_scores_prints_one_line_and_fails(tmp_path, capsys):
    model = write_model(tmp_path / "model", *_overflowing_model())
    image = tmp_path / "one.png"
    Image.fromarray(one_canvas()).save(image)
    code = main(["predict", str(image), "--model", str(model), "--backend", "numpy"])
    captured = capsys.readouterr()
    assert code == 1 and captured.out == ""
    assert captured.err.count("\n") == 1 and "not finite" in captured.err


def test_cli_predict_with_nan_weights_prints_one_line_and_fails(tmp_path, capsys):
    model = write_model(tmp_path / "model", *_poisoned("float32-nan"))
    image = tmp_path / "one.png"
    Image.fromarray(one_canvas()).save(image)
    code = main(["predict", str(image), "--model", str(model)])
    captured = capsys.readouterr()
    assert code == 1 and captured.out == ""
    assert captured.err.count("\n") == 1 and "'dense/kernel'" in captured.err
