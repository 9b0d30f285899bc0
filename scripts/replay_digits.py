"""Write mnist_widgets/replay.npz: the MNIST training digits fine-tuning replays (``mw.finetune``).

Usage: python scripts/replay_digits.py [--per-class 100] [--seed 0]

A seeded choice of ``--per-class`` digits of each class from MNIST's *training* set (never the
test set, which measures the result), stored as uint8 28x28 images with their labels and their
indices in the training set, so the file can be checked against MNIST itself. Fine-tuning runs
them through the base model to get the features it keeps the model's answers on, so the file
fits any model of the mnist-node shape, the shipped one or one of your own. MNIST is by Yann
LeCun, Corinna Cortes and Christopher J.C. Burges (CC BY-SA 3.0).
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import numpy as np

from mnist_widgets.data import load_mnist

OUT = Path(__file__).resolve().parents[1] / "mnist_widgets" / "replay.npz"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-class", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    (x_train, y_train), _ = load_mnist()
    rng = np.random.default_rng(args.seed)
    picked = [
        rng.choice(np.flatnonzero(y_train == digit), args.per_class, replace=False)
        for digit in range(10)
    ]
    # interleaved (0, 1, ..., 9, 0, 1, ...): the first k * 10 are k of each class
    index = np.stack(picked, axis=1).reshape(-1)
    buffer = io.BytesIO()
    np.savez_compressed(
        buffer, images=x_train[index], labels=y_train[index].astype(np.uint8), index=index
    )
    OUT.write_bytes(buffer.getvalue())
    print(f"wrote {OUT} ({OUT.stat().st_size:,} bytes, {len(index)} digits)")


if __name__ == "__main__":
    main()
