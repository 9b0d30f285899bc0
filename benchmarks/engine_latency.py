"""``Predictor.predict`` end to end on drawn canvases, per backend, each backend in its own process.

A process that has TensorFlow loaded slows every other engine in it (TF's thread pools compete), so
each backend runs in a fresh child process that imports only what that backend needs. The
children run in interleaved rounds (onnxruntime, numpy, ..., tensorflow, then again) so a change
in machine load hits every backend alike and the ratios of one run stay fair. Each child times
``Predictor.predict`` on real MNIST test digits re-drawn on a 280x280 canvas (``mnist_widgets.
drawn``), and the engine call alone on one preprocessed digit. The numpy engine also runs with
``OPENBLAS_NUM_THREADS=1``, tensorflow with ``TF_NUM_INTRAOP_THREADS=1``, and onnxruntime with two
intra-op threads instead of the engine's one.

Targets (issue 12): the default backend <= 0.4 ms median end to end and >= 2x faster than
``backend="tensorflow"``.

Run: ``python -m benchmarks.engine_latency [--model PATH] [--rounds N] [--repeats N]``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from ._common import markdown_table, pick_model, summarize, write_results

N_CANVASES = 50
TARGET_MS = 0.4
TARGET_RATIO = 2.0

# label -> (backend, extra environment)
VARIANTS: dict[str, tuple[str, dict[str, str]]] = {
    "onnxruntime (default)": ("onnxruntime", {}),
    "onnxruntime, 2 intra-op threads": ("onnxruntime", {"BENCH_ORT_THREADS": "2"}),
    "numpy": ("numpy", {}),
    "numpy, OPENBLAS_NUM_THREADS=1": ("numpy", {"OPENBLAS_NUM_THREADS": "1"}),
    "tensorflow (XLA)": ("tensorflow", {}),
    "tensorflow (XLA), TF_NUM_INTRAOP_THREADS=1": ("tensorflow", {"TF_NUM_INTRAOP_THREADS": "1"}),
}
DEFAULT, TENSORFLOW = "onnxruntime (default)", "tensorflow (XLA)"


def _child(model_dir: Path, backend: str, repeats: int) -> dict:
    """Runs in the child process: time one backend, print JSON."""
    import numpy as np

    from mnist_widgets import load_mnist
    from mnist_widgets.drawn import drawn_digits
    from mnist_widgets.predictor import Predictor
    from mnist_widgets.preprocessing import preprocess

    predictor = Predictor(str(model_dir), backend=backend)
    threads = int(os.environ.get("BENCH_ORT_THREADS", "0"))
    if threads:  # the same model on a session with more intra-op threads
        from mnist_widgets.engines.onnx import onnx_bytes
        from mnist_widgets.engines.ort import OnnxEngine, session_for
        from mnist_widgets.sources import read_artifacts

        graph = onnx_bytes(read_artifacts(model_dir), source=str(model_dir))
        session = session_for(graph, None, intra_op_threads=threads)
        old = predictor.engine
        predictor.engine = OnnxEngine(session, input_shape=old.input_shape, name=old.name)
    (_, _), (x_test, y_test) = load_mnist()
    canvases, _, _ = drawn_digits(x_test, y_test, n=N_CANVASES, seed=123)
    cycle = itertools.cycle(canvases)
    x1 = preprocess(canvases[0])[None, :, :, None].astype(np.float32)
    engine = predictor.engine
    for _ in range(max(50, repeats // 10)):  # warm-up: first-call costs, caches, thread pools
        predictor.predict(next(cycle))
        engine(x1)
    e2e, call = [], []
    for _ in range(repeats):  # interleaved, so both see the same load
        start = time.perf_counter()
        predictor.predict(next(cycle))
        e2e.append(time.perf_counter() - start)
        start = time.perf_counter()
        engine(x1)
        call.append(time.perf_counter() - start)
    return {
        "backend": predictor.backend,
        "e2e_s": e2e,
        "call_s": call,
        "tensorflow_loaded": "tensorflow" in sys.modules,
    }


def _run_child(model_dir: Path, backend: str, env: dict[str, str], repeats: int) -> dict:
    cmd = [sys.executable, "-m", "benchmarks.engine_latency", "--model", str(model_dir)]
    cmd += ["--child", backend, "--repeats", str(repeats)]
    proc = subprocess.run(
        cmd, env={**os.environ, **env}, capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{backend} child failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="TF.js model directory")
    parser.add_argument("--rounds", type=int, default=3, help="child processes per backend (3)")
    parser.add_argument("--repeats", type=int, default=2000, help="timed calls per child (2000)")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    model_dir, model_label = pick_model(args.model)
    if args.child:
        print(json.dumps(_child(model_dir, args.child, args.repeats)))
        return 0

    load_before = os.getloadavg()
    e2e: dict[str, list[float]] = {label: [] for label in VARIANTS}
    call: dict[str, list[float]] = {label: [] for label in VARIANTS}
    for r in range(args.rounds):
        for label, (backend, env) in VARIANTS.items():
            print(f"round {r + 1}/{args.rounds}: {label}", file=sys.stderr, flush=True)
            got = _run_child(model_dir, backend, env, args.repeats)
            if got["backend"] != backend or (got["tensorflow_loaded"] != (backend == "tensorflow")):
                raise RuntimeError(f"{label}: the child ran {got} instead")
            e2e[label] += got["e2e_s"]
            call[label] += got["call_s"]
    load_after = os.getloadavg()
    results = {
        label: {"end_to_end": summarize(sorted(e2e[label])), "call": summarize(sorted(call[label]))}
        for label in VARIANTS
    }
    tf_ms = results[TENSORFLOW]["end_to_end"]["median_ms"]
    rows = [
        [
            label,
            f"{r['end_to_end']['median_ms']:.3f} ms",
            f"{r['end_to_end']['p90_ms']:.3f} ms",
            f"{r['call']['median_ms']:.3f} ms",
            f"{tf_ms / r['end_to_end']['median_ms']:.1f}x",
        ]
        for label, r in results.items()
    ]
    table = markdown_table(
        ["backend", "Predictor.predict median", "p90", "engine call only", "vs tensorflow"], rows
    )
    ours = results[DEFAULT]["end_to_end"]["median_ms"]
    numpy_ms = results["numpy"]["end_to_end"]["median_ms"]
    ratio = tf_ms / ours
    meets = ours <= TARGET_MS and ratio >= TARGET_RATIO
    table += (
        f"\n\nModel: {model_label}. Each backend in its own process ({args.rounds} interleaved "
        f"rounds x {args.repeats} calls), {N_CANVASES} re-drawn MNIST test digits cycled, "
        f"warm-up excluded. Default backend: **{ours:.3f} ms** median end to end, "
        f'{ratio:.1f}x faster than `backend="tensorflow"` ({tf_ms:.3f} ms); numpy engine '
        f"{numpy_ms:.3f} ms. Target <= {TARGET_MS} ms and >= {TARGET_RATIO:.0f}x: "
        f"{'met' if meets else 'missed'}. 1-minute load average {load_before[0]:.1f} before, "
        f"{load_after[0]:.1f} after ({os.cpu_count()} cores)."
    )
    write_results(
        "engine_latency",
        {
            "model": model_label,
            "rounds": args.rounds,
            "repeats": args.repeats,
            "results": results,
            "default_ms": ours,
            "ratio_vs_tensorflow": ratio,
            "target_ms": TARGET_MS,
            "target_ratio": TARGET_RATIO,
            "met": meets,
            "load_average_1min": {"before": load_before[0], "after": load_after[0]},
        },
        table,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
