"""Compare candidate models on pen drawings without touching the MNIST test set.

Usage: python scripts/select_model.py MODEL [MODEL ...] [--seeds 100,101] [--rows N] [--pen F]
       [--explain] [--average] [--faithful]
       (MODEL: a TF.js directory or "shipped")

benchmarks/drawings_by_size.py measures the shipped model on MNIST *test* digits drawn as pen
strokes; choosing a model, a training recipe or a rendering parameter by that figure would tune on
the test set. This script makes the same kind of drawings (the benchmark's own tracer and mouse)
from the 9,000 *training* digits that seeded training holds out for validation (seed 1, as the
shipped model's commands use), once per drawing seed, and reports per model: MNIST validation
accuracy, accuracy on all the drawings and by drawing height (the benchmark's BANDS), how many
drawings it reads right and the first model reads wrong and the other way round (a paired count:
on 18,000 drawings one drawing is 0.006 %, but two models differ on only a few dozen), and MNIST
test accuracy (the card's constraint, not a selection score). The drawings are inked as the widget
inks strokes (:func:`~mnist_widgets.preprocessing.prepare_strokes`), at ``--pen``.

``--average`` adds a row for the models' probabilities averaged (an ensemble); ``--faithful``
splits each model's drawings by whether the digit's trace is faithful by the model-free test of
``scripts/trace_fidelity.py`` (what a perfect tracer would leave to the model).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository's benchmarks/

from trace_fidelity import evaluate, faithful  # scripts/, this script's directory

import mnist_widgets as mw
from benchmarks.drawings_by_size import BANDS, digit_strokes, mouse_drawings
from mnist_widgets.preprocessing import PEN_FRACTION, prepare_strokes
from mnist_widgets.training import split_rows

SEED = 1  # the training seed whose validation rows are held out (train()'s default 15 %: 9,000)


def read_digits(predictor: mw.Predictor, inputs: np.ndarray) -> np.ndarray:
    """The digits ``predictor`` reads in 28x28 ``inputs``, -1 where nothing was classified."""
    return _read(_probabilities(predictor, inputs))


def traces(digits: np.ndarray) -> np.ndarray:
    """MNIST digits (N, 28, 28 uint8) as the model sees their traces alone: the benchmark
    tracer's strokes inked by the widget's rendering as they are (no mouse)."""
    return np.stack([prepare_strokes(digit_strokes(d)).input for d in digits]).astype(np.float32)


def _probabilities(predictor: mw.Predictor, inputs: np.ndarray) -> np.ndarray:
    """(N, 10); all zeros for a drawing that is not classified."""
    return np.stack([p.probabilities for p in predictor.predict_batch(inputs, preprocessed=True)])


def _read(probabilities: np.ndarray) -> np.ndarray:
    """The digits read, -1 where nothing was classified."""
    return np.where(probabilities.any(axis=1), probabilities.argmax(axis=1), -1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", help='TF.js model directories, or "shipped"')
    parser.add_argument(
        "--seeds", default="100,101", help="drawing seeds, comma-separated: one set each (100,101)"
    )
    parser.add_argument(
        "--rows", type=int, default=None, help="held-out digits drawn per seed (all 9,000)"
    )
    parser.add_argument(
        "--pen", type=float, default=PEN_FRACTION, help=f"pen / drawing size ({PEN_FRACTION})"
    )
    parser.add_argument(
        "--explain",
        action="store_true",
        help="also say where the first model's errors come from (the digit, the trace, the mouse)",
    )
    parser.add_argument(
        "--average", action="store_true", help="also the models' probabilities averaged"
    )
    parser.add_argument(
        "--faithful",
        action="store_true",
        help="also each model's accuracy on drawings of faithful traces, and on the others",
    )
    args = parser.parse_args()
    (x, y), (x_test, y_test) = mw.load_mnist()
    held_out, _ = split_rows(len(x), SEED)
    x_held, x_test = (x[held_out] / 255).astype(np.float32), (x_test / 255).astype(np.float32)
    rows = held_out
    if args.rows is not None and args.rows < len(held_out):
        rows = held_out[np.random.default_rng(7).choice(len(held_out), args.rows, replace=False)]
    inputs, labels, heights = [], [], []
    for seed in (int(s) for s in args.seeds.split(",")):
        drawings, h = mouse_drawings(x[rows], seed=seed)
        inputs += [prepare_strokes(strokes, pen=args.pen).input for strokes in drawings]
        labels.append(y[rows])
        heights.append(h)
    drawn = np.stack(inputs).astype(np.float32)
    label, height = np.concatenate(labels), np.concatenate(heights)
    print(
        f"{len(label):,} drawings of held-out training digits (seeds {args.seeds}), pen {args.pen}"
    )
    print(
        "| model | MNIST validation | drawings | "
        + " | ".join(name for _, _, name in BANDS)
        + " | vs the first: fixed / broken | MNIST test |"
    )
    print("|---" * (len(BANDS) + 5) + "|")
    good = None
    if args.faithful:
        good = np.tile(faithful(evaluate(x[rows], y[rows])), len(labels))
    first = None
    summed = {"validation": 0.0, "drawn": 0.0, "test": 0.0}
    for name in [*args.models, *(["averaged"] if args.average else [])]:
        if name == "averaged":
            probs = {k: v / len(args.models) for k, v in summed.items()}
        else:
            predictor = mw.Predictor(None if name == "shipped" else name)
            probs = {
                "validation": _probabilities(predictor, x_held),
                "drawn": _probabilities(predictor, drawn),
                "test": _probabilities(predictor, x_test),
            }
            summed = {k: summed[k] + v for k, v in probs.items()}
        validation = np.mean(_read(probs["validation"]) == y[held_out])
        ok = _read(probs["drawn"]) == label
        first = ok if first is None else first
        by_band = [ok[(height >= lo) & (height < hi)].mean() for lo, hi, _ in BANDS]
        test = np.mean(_read(probs["test"]) == y_test)
        cells = [f"{validation:.2%}", f"{ok.mean():.2%}", *(f"{a:.2%}" for a in by_band)]
        cells += [f"+{int((ok & ~first).sum())} / -{int((first & ~ok).sum())}", f"{test:.2%}"]
        print(f"| {name} | " + " | ".join(cells) + " |", flush=True)
        if good is not None:
            print(
                f"  faithful traces ({int(good.sum()):,} drawings): {ok[good].mean():.2%}; "
                f"the others ({int((~good).sum()):,}): {ok[~good].mean():.2%}",
                flush=True,
            )
        if args.explain and name == args.models[0]:
            _explain(predictor, x[rows], y[rows], ok, len(labels))


def _explain(
    predictor: mw.Predictor, digits: np.ndarray, labels: np.ndarray, ok: np.ndarray, sets: int
) -> None:
    """Split the errors on the drawings by what already goes wrong before the mouse: the digit
    itself (misread undrawn) or its trace (the traced strokes inked as they are, no mouse)."""
    undrawn = read_digits(predictor, (digits / 255).astype(np.float32)) == labels
    trace_ok = read_digits(predictor, traces(digits)) == labels
    undrawn, trace_ok = np.tile(undrawn, sets), np.tile(trace_ok, sets)
    wrong = ~ok
    print(
        f"  its {int(wrong.sum())} errors: {int((wrong & ~undrawn).sum())} digits misread undrawn "
        f"too, {int((wrong & undrawn & ~trace_ok).sum())} more misread from their trace alone "
        f"(no mouse), {int((wrong & undrawn & trace_ok).sum())} only as drawn; the traces alone "
        f"read {trace_ok.mean():.2%}, the digits undrawn {undrawn.mean():.2%}",
        flush=True,
    )


if __name__ == "__main__":
    main()
