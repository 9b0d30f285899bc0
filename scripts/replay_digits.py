"""Write mnist_widgets/replay.npz: the MNIST training digits fine-tuning replays (``mw.finetune``).

Usage: python scripts/replay_digits.py [--per-class 100] [--seed 0]
       python scripts/replay_digits.py --features-only   (after the shipped model changed)
       python scripts/replay_digits.py --features-only --model DIR --out PATH
           (the bundled digits with DIR's features, written to PATH: lite/build.py does this for
           the site's uint8 model)

A seeded choice of ``--per-class`` digits of each class from MNIST's *training* set (never the
test set, which measures the result), stored as uint8 28x28 images with their labels and their
indices in the training set, so the file can be checked against MNIST itself. Fine-tuning runs
them through the base model to get the features whose answers it keeps; for the shipped model
those features are bundled too (uint8, with the model body's digest), so a first fine-tuning in
the browser need not compute them; any other model computes its own. ``--features-only`` keeps
the digits and recomputes the features for the current shipped model (tests/test_finetuning.py
says when that is due). MNIST is by Yann LeCun, Corinna Cortes and Christopher J.C. Burges
(CC BY-SA 3.0).
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import numpy as np

from mnist_widgets.data import load_mnist
from mnist_widgets.finetuning import bundle_features
from mnist_widgets.predictor import Predictor

OUT = Path(__file__).resolve().parents[1] / "mnist_widgets" / "replay.npz"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-class", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--features-only", action="store_true")
    parser.add_argument("--model", default=None, help="the model whose features (the shipped)")
    parser.add_argument("--out", type=Path, default=OUT, help=f"where to write ({OUT.name})")
    args = parser.parse_args()
    if args.out != OUT and not args.features_only:
        parser.error("--out needs --features-only (new digits go to the package's replay.npz)")
    if args.features_only:
        with np.load(OUT, allow_pickle=False) as npz:
            digits = {k: npz[k] for k in ("images", "labels", "index")}
    else:
        (x_train, y_train), _ = load_mnist()
        rng = np.random.default_rng(args.seed)
        picked = [
            rng.choice(np.flatnonzero(y_train == digit), args.per_class, replace=False)
            for digit in range(10)
        ]
        # interleaved (0, 1, ..., 9, 0, 1, ...): the first k * 10 are k of each class
        index = np.stack(picked, axis=1).reshape(-1)
        digits = {"images": x_train[index], "labels": y_train[index].astype(np.uint8)}
        digits["index"] = index
    if not args.features_only:
        buffer = io.BytesIO()
        np.savez_compressed(buffer, **digits)  # first the digits alone: bundle_features reads them
        OUT.write_bytes(buffer.getvalue())
        from mnist_widgets import finetuning

        finetuning._replay.cache_clear()
    features = bundle_features(Predictor(args.model, backend="numpy"))  # default: the shipped
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **digits, **features)
    args.out.write_bytes(buffer.getvalue())
    n = len(digits["index"])
    print(f"wrote {args.out} ({args.out.stat().st_size:,} bytes, {n} digits and their features)")


if __name__ == "__main__":
    main()
