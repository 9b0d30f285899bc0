"""Compare candidate models on pen drawings without touching the MNIST test set.

Usage: python scripts/select_model.py MODEL [MODEL ...]     (MODEL: a TF.js directory or "shipped")

benchmarks/drawings_by_size.py measures the shipped model on MNIST *test* digits drawn as pen
strokes; choosing a model or a training recipe by that figure would tune on the test set. This
script makes the same kind of drawings from the 9,000 *training* digits that seeded training
holds out for validation (seed 1, as the shipped model's commands use) and reports, per model:
MNIST validation accuracy, accuracy on 1,500 such drawings (and on those under 60 px), and MNIST
test accuracy (the card's constraint, not a selection score). The drawings are inked as the
widget inks strokes.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository's benchmarks/

import mnist_widgets as mw
from benchmarks.drawings_by_size import mouse_drawings
from mnist_widgets.preprocessing import prepare_strokes

SEED = 1  # the training seed whose validation rows are held out
VALIDATION = 9000  # 15 % of 60,000: train()'s default validation split
DRAWINGS = 1500


def _accuracy(predictor: mw.Predictor, inputs: np.ndarray, labels: np.ndarray) -> float:
    digits = [p.digit for p in predictor.predict_batch(inputs, preprocessed=True)]
    return float(np.mean(np.asarray(digits) == labels))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", help='TF.js model directories, or "shipped"')
    args = parser.parse_args()
    (x, y), (x_test, y_test) = mw.load_mnist()
    held_out = np.sort(np.random.default_rng(SEED).permutation(len(x))[:VALIDATION])
    rows = held_out[np.random.default_rng(7).choice(len(held_out), DRAWINGS, replace=False)]
    drawings, heights = mouse_drawings(x[rows], seed=100)
    inputs = np.stack([prepare_strokes(strokes).input for strokes in drawings]).astype(np.float32)
    small = heights < 60
    print("| model | MNIST validation | drawings | drawings < 60 px | MNIST test |")
    print("|---|---|---|---|---|")
    for name in args.models:
        predictor = mw.Predictor(None if name == "shipped" else name)
        cells = [
            _accuracy(predictor, (x[held_out] / 255).astype(np.float32), y[held_out]),
            _accuracy(predictor, inputs, y[rows]),
            _accuracy(predictor, inputs[small], y[rows][small]),
            _accuracy(predictor, (x_test / 255).astype(np.float32), y_test),
        ]
        print(f"| {name} | " + " | ".join(f"{c:.2%}" for c in cells) + " |", flush=True)


if __name__ == "__main__":
    main()
