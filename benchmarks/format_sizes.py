"""Model size and accuracy by weight format: float32 vs float16 / uint16 / uint8 quantization.

Loads the article's seed model through our TF.js reader (no training), saves it in each format
with ``save_layers_model``, and measures bytes on disk, accuracy on the full MNIST test set (read
back through ``load_layers_model``, i.e. with the weights TF.js would see), and the median save and
load times. float32 is the baseline for the ratios.

Run: ``python -m benchmarks.format_sizes``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from ._common import SEED_MODEL, markdown_table, median_seconds, summarize, write_results

FORMATS = [None, "float16", "uint16", "uint8"]
REPEATS = 7


def _dir_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.iterdir() if f.is_file())


def main() -> None:
    from mnist_widgets.data import load_mnist
    from mnist_widgets.keras_io import load_layers_model, save_layers_model

    (_, _), (x_test, y_test) = load_mnist()
    x = (x_test.astype(np.float32) / 255.0)[..., None]
    model = load_layers_model(SEED_MODEL)
    work = Path(tempfile.mkdtemp(prefix="format-sizes-"))
    results = []
    try:
        for fmt in FORMATS:
            name = fmt or "float32"
            dest = work / name
            save = summarize(
                median_seconds(
                    lambda d=dest, q=fmt: save_layers_model(model, d, quantize=q), repeats=REPEATS
                )
            )
            load = summarize(median_seconds(lambda d=dest: load_layers_model(d), repeats=REPEATS))
            probs = load_layers_model(dest).predict(x, batch_size=500, verbose=0)
            results.append(
                {
                    "format": name,
                    "bytes": _dir_bytes(dest),
                    "files": sorted(os.listdir(dest)),
                    "accuracy": float((probs.argmax(1) == y_test).mean()),
                    "errors": int((probs.argmax(1) != y_test).sum()),
                    "save": save,
                    "load": load,
                }
            )
            print(name, results[-1]["bytes"], results[-1]["accuracy"], flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    base = results[0]
    rows = [
        [
            r["format"],
            f"{r['bytes'] / 1e6:.3f} MB",
            f"{r['bytes'] / base['bytes']:.2f}x",
            f"{100 * r['accuracy']:.2f} % ({r['errors']} errors)",
            f"{r['save']['median_ms']:.0f} ms",
            f"{r['load']['median_ms']:.0f} ms",
        ]
        for r in results
    ]
    table = markdown_table(
        ["weights", "on disk", "vs float32", "MNIST test accuracy (10,000)", "save", "load"], rows
    )
    note = (
        "\n\nSeed model (594,922 parameters) read through our TF.js reader; accuracy of each "
        "file as read back (dequantized exactly as TF.js does); save/load are medians of "
        f"{REPEATS} runs (load includes building the Keras model)."
    )
    extra = {"repeats": REPEATS, "load_average_after": os.getloadavg(), "results": results}
    write_results("format_sizes", extra, table + note)


if __name__ == "__main__":
    main()
