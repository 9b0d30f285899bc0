"""Accuracy on drawn digits: our MNIST-style preprocessing vs the article's 10x10 pooling.

All 10,000 MNIST test digits are re-drawn onto a 280x280 canvas the way a user draws in the widget
(``mnist_widgets.drawn``: slant, 0.5x-1.6x scale, random position, random stroke thickness; the
same generator as ``tests/test_predictor.py``), then classified by one model three ways:
``Predictor.predict`` (crop, 20 px box, centre of mass, strokes far from MNIST's width re-inked),
the same without the stroke-width step (``preprocess(normalise_strokes=False)``, as before it
existed) and ``pool_like_article`` (the article's app: average-pool the whole canvas to 28x28).
The untouched test set gives the model's ceiling.

Run: ``python -m benchmarks.drawn_digits [--model PATH] [--n 10000]``.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from mnist_widgets import load_mnist
from mnist_widgets.drawn import drawn_digits
from mnist_widgets.predictor import Predictor
from mnist_widgets.preprocessing import pool_like_article, preprocess

from ._common import markdown_table, pick_model, write_results

CHUNK = 1000  # canvases generated at a time (10,000 at once would take 784 MB)
SCALES = [
    (0.5, 0.8, "small (0.5-0.8x)"),
    (0.8, 1.3, "medium (0.8-1.3x)"),
    (1.3, 1.61, "large (1.3-1.6x)"),
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="TF.js model directory")
    parser.add_argument("--n", type=int, default=10_000, help="test digits to re-draw (10000)")
    args = parser.parse_args(argv)
    model_dir, model_label = pick_model(args.model)
    predictor = Predictor(str(model_dir))
    (_, _), (x_test, y_test) = load_mnist()
    n = min(args.n, len(x_test))

    ours, plain, pooled, scales = [], [], [], []
    for start in range(0, n, CHUNK):
        stop = min(start + CHUNK, n)
        canvases, _, styles = drawn_digits(
            x_test[start:stop], y_test[start:stop], CHUNK, seed=start
        )
        ours += [p.digit for p in predictor.predict_batch(canvases)]
        kept = [preprocess(c, normalise_strokes=False) for c in canvases]
        plain += [p.digit for p in predictor.predict_batch(kept, preprocessed=True)]
        small = [pool_like_article(c) for c in canvases]
        pooled += [p.digit for p in predictor.predict_batch(small, preprocessed=True)]
        scales += [s.scale for s in styles]
    labels = y_test[:n]
    ours_ok = np.array(ours) == labels
    plain_ok = np.array(plain) == labels
    pooled_ok = np.array(pooled) == labels
    scales_arr = np.array(scales)
    raw = predictor.predict_batch((x_test[:n] / 255.0).astype(np.float32), preprocessed=True)
    ceiling = float(np.mean(np.array([p.digit for p in raw]) == labels))

    rows = [
        ["all", n, f"{ours_ok.mean():.2%}", f"{plain_ok.mean():.2%}", f"{pooled_ok.mean():.2%}"]
    ]
    by_scale = {}
    for lo, hi, name in SCALES:
        sel = (scales_arr >= lo) & (scales_arr < hi)
        by_scale[name] = {
            "n": int(sel.sum()),
            "ours": float(ours_ok[sel].mean()),
            "without_stroke_normalisation": float(plain_ok[sel].mean()),
            "article_pooling": float(pooled_ok[sel].mean()),
        }
        rows.append(
            [
                name,
                int(sel.sum()),
                f"{ours_ok[sel].mean():.2%}",
                f"{plain_ok[sel].mean():.2%}",
                f"{pooled_ok[sel].mean():.2%}",
            ]
        )
    table = markdown_table(
        [
            "drawn digits",
            "count",
            "our preprocessing",
            "... without stroke re-inking",
            "article's 10x10 pooling",
        ],
        rows,
    )
    table += (
        f"\n\nModel: {model_label}; on the untouched MNIST test digits it scores {ceiling:.2%}. "
        f"Errors: {int((~ours_ok).sum())} with our preprocessing "
        f"({int(sum(d is None for d in ours))} not classified), {int((~plain_ok).sum())} without "
        f"stroke re-inking, {int((~pooled_ok).sum())} with the article's pooling."
    )
    write_results(
        "drawn_digits",
        {
            "model": model_label,
            "n": n,
            "accuracy_ours": float(ours_ok.mean()),
            "accuracy_without_stroke_normalisation": float(plain_ok.mean()),
            "accuracy_article_pooling": float(pooled_ok.mean()),
            "accuracy_mnist_test_untouched": ceiling,
            "by_scale": by_scale,
        },
        table,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
