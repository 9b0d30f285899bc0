"""The TensorFlow path: ``Predictor(backend="tensorflow")`` vs ``model.predict`` and ``model(x)``.

(``engine_latency.py`` compares the backends, each in its own process.)

All in one process and one run: the same model, drawn canvases (real MNIST test digits re-drawn by
``mnist_widgets.drawn``), warm-up calls excluded. The calls are timed in interleaved rounds so a
change in machine load (the 2 cores are shared) hits every row alike and the ratios stay fair; the
load average is recorded. Target: <= 1 ms median end to end.

Run: ``python -m benchmarks.predict_latency [--model PATH]`` (default: the shipped model, or the
article's seed model in tests/fixtures when the shipped one is not there yet).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

from mnist_widgets import load_mnist
from mnist_widgets.drawn import drawn_digits
from mnist_widgets.predictor import Predictor
from mnist_widgets.preprocessing import preprocess

from ._common import markdown_table, median_seconds, pick_model, summarize, write_results

N_CANVASES = 50
REPEATS = 2000  # end-to-end and preprocessing calls timed
SLOW_REPEATS = {"model(x)": 300, "model.predict(x)": 100}
ROUNDS = 10
ONE_THREAD = "Predictor.predict (XLA), end to end, TF_NUM_INTRAOP_THREADS=1 (own process)"


def _e2e_only(model_dir: Path) -> dict[str, float]:
    predictor = Predictor(str(model_dir), backend="tensorflow")
    (_, _), (x_test, y_test) = load_mnist()
    canvases, _, _ = drawn_digits(x_test, y_test, n=N_CANVASES, seed=123)
    cycle = itertools.cycle(canvases)
    times = median_seconds(lambda: predictor.predict(next(cycle)), repeats=REPEATS, warmup=200)
    return summarize(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="TF.js model directory")
    parser.add_argument("--e2e-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    model_dir, model_label = pick_model(args.model)
    if args.e2e_only:  # child process: print one median for the one-thread comparison
        print(json.dumps(_e2e_only(model_dir)))
        return 0

    from mnist_widgets._tf import tensorflow
    from mnist_widgets.keras_io import load_layers_model

    tf = tensorflow()
    model = load_layers_model(model_dir)
    (_, _), (x_test, y_test) = load_mnist()
    canvases, _, _ = drawn_digits(x_test, y_test, n=N_CANVASES, seed=123)
    cycle = itertools.cycle(canvases)
    x1 = preprocess(canvases[0])[None, :, :, None]

    xla = Predictor(model)
    plain = Predictor(model, jit_compile=False)
    batch = tf.constant(x1)
    rows = {
        "Predictor.predict (XLA), end to end": lambda: xla.predict(next(cycle)),
        "Predictor.predict (no XLA), end to end": lambda: plain.predict(next(cycle)),
        "preprocess only": lambda: preprocess(next(cycle)),
        "compiled model call only (XLA)": lambda: xla.engine._fn(batch).numpy(),
        "model(x)": lambda: model(x1, training=False).numpy(),
        "model.predict(x)": lambda: model.predict(x1, verbose=0),
    }
    load_before = os.getloadavg()
    for name, fn in rows.items():  # warm-up, untimed
        for _ in range(max(10, SLOW_REPEATS.get(name, REPEATS) // 20)):
            fn()
    times: dict[str, list[float]] = {name: [] for name in rows}
    for _ in range(ROUNDS):
        for name, fn in rows.items():
            per_round = SLOW_REPEATS.get(name, REPEATS) // ROUNDS
            times[name] += median_seconds(fn, repeats=per_round, warmup=0)
    load_after = os.getloadavg()
    results = {name: summarize(sorted(t)) for name, t in times.items()}
    # TensorFlow reads its thread count once per process, so this row needs its own process.
    child = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.predict_latency",
            "--model",
            str(model_dir),
            "--e2e-only",
        ],
        env={**os.environ, "TF_NUM_INTRAOP_THREADS": "1"},
        capture_output=True,
        text=True,
        check=True,
    )
    results[ONE_THREAD] = json.loads(child.stdout.strip().splitlines()[-1])
    for name, r in results.items():
        print(f"{name}: {r['median_ms']:.3f} ms", file=sys.stderr)

    ours = results["Predictor.predict (XLA), end to end"]["median_ms"]
    table_rows = [
        [
            name,
            f"{r['median_ms']:.3f} ms",
            f"{r['p90_ms']:.3f} ms",
            r["runs"],
            "1.0x" if r["median_ms"] == ours else f"{r['median_ms'] / ours:.1f}x",
        ]
        for name, r in results.items()
    ]
    table = markdown_table(["call", "median", "p90", "runs", "vs Predictor.predict"], table_rows)
    table += (
        f"\n\nModel: {model_label}. Canvases: {N_CANVASES} re-drawn MNIST test digits, cycled. "
        f"`Predictor.predict` end to end: **{ours:.3f} ms** median "
        f"({'meets' if ours <= 1.0 else 'misses'} the 1 ms target); "
        f"`model.predict` is {results['model.predict(x)']['median_ms'] / ours:.0f}x slower, "
        f"a plain `model(x)` {results['model(x)']['median_ms'] / ours:.1f}x. Warm-up calls "
        f"excluded. 1-minute load average {load_before[0]:.1f} before, {load_after[0]:.1f} after "
        f"({os.cpu_count()} cores). "
        "With one TensorFlow intra-op thread (`TF_NUM_INTRAOP_THREADS=1`, set before "
        f"TensorFlow starts) the end-to-end median is {results[ONE_THREAD]['median_ms']:.3f} ms: "
        "on a shared 2-core machine, splitting a one-image call over two threads costs more than "
        "it saves."
    )
    write_results(
        "predict_latency",
        {
            "model": model_label,
            "results": results,
            "ratio_model_predict": results["model.predict(x)"]["median_ms"] / ours,
            "ratio_model_call": results["model(x)"]["median_ms"] / ours,
            "target_ms": 1.0,
            "loadavg_before": load_before,
            "loadavg_after": load_after,
        },
        table,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
