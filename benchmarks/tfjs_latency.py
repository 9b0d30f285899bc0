"""TensorFlow.js under Node (the article's runtime) vs our Predictor, same model, same images.

TF.js runs its pure-JS CPU backend (``@tensorflow/tfjs@4.22.0``; a browser would use WebGL when
available; tfjs-node cannot be installed offline). Both sides classify the same preprocessed MNIST
test digits one at a time, and must agree on every digit.

Run: ``python -m benchmarks.tfjs_latency`` (needs ``make node``).
"""

from __future__ import annotations

import itertools
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from mnist_widgets import load_mnist, shipped_model_dir
from mnist_widgets.predictor import Predictor

from ._common import markdown_table, median_seconds, summarize, write_results

JS_DIR = Path(__file__).resolve().parents[1] / "tests" / "js"
N_IMAGES = 50
REPEATS = 4  # passes over the images after a warm-up pass


def main() -> int:
    node = shutil.which("node")
    if node is None or not (JS_DIR / "node_modules" / "@tensorflow" / "tfjs").is_dir():
        print("needs Node.js and tests/js/node_modules: run `make node`", file=sys.stderr)
        return 1
    model_dir = shipped_model_dir()
    (_, _), (x_test, _) = load_mnist()
    images = (x_test[:N_IMAGES] / 255.0).astype(np.float32)

    with tempfile.TemporaryDirectory() as tmp:
        inputs = Path(tmp) / "inputs.f32"
        inputs.write_bytes(images.tobytes())
        out = subprocess.run(
            [node, "bench_predict.js", str(model_dir), str(inputs), str(N_IMAGES), str(REPEATS)],
            cwd=JS_DIR,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    js = json.loads(out.strip().splitlines()[-1])

    predictor = Predictor(str(model_dir))
    ours_digits = [p.digit for p in predictor.predict_batch(images, preprocessed=True)]
    if ours_digits != js["digits"]:
        print(f"TF.js and the {predictor.backend} engine disagree on some digits", file=sys.stderr)
        return 1
    cycle = itertools.cycle(images)  # the same images TF.js saw, in the same order

    def one() -> None:
        predictor.predict(next(cycle), preprocessed=True)

    ours = summarize(median_seconds(one, repeats=N_IMAGES * REPEATS, warmup=N_IMAGES))
    tfjs = summarize([ms / 1000 for ms in js["predict_ms"]])
    load = summarize([ms / 1000 for ms in js["load_ms"]])
    ratio = tfjs["median_ms"] / ours["median_ms"]
    table = markdown_table(
        ["runtime", "predict one digit (median)", "p90", "vs ours"],
        [
            [
                f"TF.js 4.22 under Node, `{js['backend']}` backend",
                f"{tfjs['median_ms']:.2f} ms",
                f"{tfjs['p90_ms']:.2f} ms",
                f"{ratio:.1f}x slower",
            ],
            [
                f"mnist-widgets `Predictor` ({predictor.backend} engine, preprocessed input)",
                f"{ours['median_ms']:.3f} ms",
                f"{ours['p90_ms']:.3f} ms",
                "1.0x",
            ],
        ],
    )
    table += (
        f"\n\nTF.js model load over local HTTP: {load['median_ms']:.0f} ms median of 3. "
        f"Both agree on all {N_IMAGES} digits."
    )
    write_results(
        "tfjs_latency",
        {"model": str(model_dir), "tfjs": tfjs, "tfjs_load": load, "ours": ours, "ratio": ratio},
        table,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
