"""Start-up per backend: a cold process to its first prediction, and store hit vs HTTP to a ready
predictor.

1. **Cold start.** A fresh ``python`` process runs ``import mnist_widgets``,
   ``Predictor("cache://mnist", backend=B)`` (the shipped model, already in a temporary model
   store) and one ``predict`` on a drawn canvas. Timed from the parent (process start to exit:
   the interpreter's own start-up included) and inside the child (first line to the prediction).
   Backends alternate run by run, so load changes hit them alike.
2. **Ready predictor.** In one child process per backend (runtime already imported, model files
   warm in the OS cache), interleaved: ``Predictor("cache://mnist")`` (a store hit: read, hash
   checks, engine build) vs ``Predictor.from_url(URL, strategy="network-only")`` (HTTP from
   ``mnist-widgets serve`` in its own process, then the same engine build).

Targets (issue 12): the default backend's cold start <= 1.0 s and >= 4x faster than
``backend="tensorflow"``.

Run: ``python -m benchmarks.engine_startup [--model PATH] [--runs N]``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from ._common import markdown_table, pick_model, start_server, summarize, write_results

BACKENDS = ("onnxruntime", "numpy", "tensorflow")
DEFAULT = "onnxruntime"
TARGET_S = 1.0
TARGET_RATIO = 4.0
NAME = "mnist"

_COLD = """
import time
t0 = time.perf_counter()
import sys
import numpy as np
import mnist_widgets as mw
canvas = np.zeros((280, 280), np.uint8)
canvas[40:240, 132:150] = 255
p = mw.Predictor("cache://{name}", backend="{backend}")
digit = p.predict(canvas).digit
t1 = time.perf_counter()
import json
print(json.dumps({{"seconds": t1 - t0, "digit": digit, "backend": p.backend,
                  "tensorflow": "tensorflow" in sys.modules}}))
"""


def _cold(backend: str, env: dict[str, str]) -> dict:
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", _COLD.format(name=NAME, backend=backend)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"cold start ({backend}) failed:\n{proc.stderr[-3000:]}")
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    if got["backend"] != backend or got["tensorflow"] != (backend == "tensorflow"):
        raise RuntimeError(f"cold start ({backend}) ran {got}")
    return {"wall_s": wall, **got}


def _ready_child(url: str, backend: str, runs: int) -> dict:
    """Runs in a child process: time store hit vs HTTP to a ready predictor, interleaved."""
    from mnist_widgets.predictor import Predictor

    routes = {
        "store hit (cache://)": lambda: Predictor(f"cache://{NAME}", backend=backend),
        "HTTP (network-only)": lambda: Predictor.from_url(
            url, backend=backend, strategy="network-only", progress=False
        ),
    }
    for fn in routes.values():  # warm-up: imports, connection pools, tracing
        fn()
    times: dict[str, list[float]] = {label: [] for label in routes}
    for _ in range(runs):
        for label, fn in routes.items():
            start = time.perf_counter()
            fn()
            times[label].append(time.perf_counter() - start)
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="TF.js model directory")
    parser.add_argument("--runs", type=int, default=7, help="cold starts per backend (7)")
    parser.add_argument("--ready-runs", type=int, default=15, help="ready-predictor runs (15)")
    parser.add_argument("--child", nargs=2, metavar=("URL", "BACKEND"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(_ready_child(args.child[0], args.child[1], args.ready_runs)))
        return 0
    model_dir, model_label = pick_model(args.model)

    from mnist_widgets.sources import read_artifacts
    from mnist_widgets.store import ModelStore

    store_dir = tempfile.mkdtemp(prefix="mnist-widgets-bench-")
    env = {**os.environ, "MNIST_WIDGETS_CACHE": store_dir}
    ModelStore(store_dir).write(NAME, read_artifacts(model_dir))
    server, url = start_server(model_dir)
    load_before = os.getloadavg()[0]
    try:
        cold: dict[str, list[dict]] = {b: [] for b in BACKENDS}
        for run in range(args.runs):
            for backend in BACKENDS:
                print(f"cold start {run + 1}/{args.runs}: {backend}", file=sys.stderr, flush=True)
                cold[backend].append(_cold(backend, env))
        ready = {}
        for backend in BACKENDS:
            print(f"ready predictor: {backend}", file=sys.stderr, flush=True)
            cmd = [sys.executable, "-m", "benchmarks.engine_startup", "--child", url, backend]
            cmd += ["--ready-runs", str(args.ready_runs)]
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
            ready[backend] = json.loads(proc.stdout.strip().splitlines()[-1])
    finally:
        server.terminate()
        server.wait(timeout=10)
        shutil.rmtree(store_dir, ignore_errors=True)
    load_after = os.getloadavg()[0]

    cold_s = {
        b: {
            "wall": summarize(sorted(r["wall_s"] for r in runs)),
            "in_process": summarize(sorted(r["seconds"] for r in runs)),
        }
        for b, runs in cold.items()
    }
    ready_ms = {b: {k: summarize(sorted(v)) for k, v in t.items()} for b, t in ready.items()}
    tf_wall = cold_s["tensorflow"]["wall"]["median_ms"]
    rows = []
    for b in BACKENDS:
        wall, inner = cold_s[b]["wall"], cold_s[b]["in_process"]
        hit = ready_ms[b]["store hit (cache://)"]["median_ms"]
        http = ready_ms[b]["HTTP (network-only)"]["median_ms"]
        rows.append(
            [
                f"{b} (default)" if b == DEFAULT else b,
                f"{wall['median_ms'] / 1000:.2f} s",
                f"{inner['median_ms'] / 1000:.2f} s",
                f"{tf_wall / wall['median_ms']:.1f}x",
                f"{hit:.1f} ms",
                f"{http:.1f} ms",
            ]
        )
    table = markdown_table(
        [
            "backend",
            "cold process -> first prediction",
            "of which after interpreter start",
            "vs tensorflow",
            "store hit -> ready",
            "HTTP -> ready",
        ],
        rows,
    )
    default = cold_s[DEFAULT]["wall"]["median_ms"] / 1000
    ratio = tf_wall / 1000 / default
    meets = default <= TARGET_S and ratio >= TARGET_RATIO
    table += (
        f"\n\nModel: {model_label}, read from a model store. Cold start: medians of {args.runs} "
        "fresh processes per backend, interleaved, from process start to the first `predict` "
        f"returning. Default backend **{default:.2f} s**, {ratio:.1f}x faster than "
        f'`backend="tensorflow"`; target <= {TARGET_S:.1f} s and >= {TARGET_RATIO:.0f}x: '
        f"{'met' if meets else 'missed'}. Ready predictor: medians of {args.ready_runs} "
        "interleaved runs in one warm process per backend; HTTP from `mnist-widgets serve` on "
        f"127.0.0.1 in its own process. 1-minute load average {load_before:.1f} -> "
        f"{load_after:.1f} on {os.cpu_count()} cores."
    )
    write_results(
        "engine_startup",
        {
            "model": model_label,
            "runs": args.runs,
            "ready_runs": args.ready_runs,
            "cold_start": cold_s,
            "cold_start_runs": cold,
            "ready_predictor": ready_ms,
            "default_s": default,
            "ratio_vs_tensorflow": ratio,
            "target_s": TARGET_S,
            "target_ratio": TARGET_RATIO,
            "met": meets,
            "load_average_1min": {"before": load_before, "after": load_after},
        },
        table,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
