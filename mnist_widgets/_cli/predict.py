"""``mnist-widgets predict IMAGE... [--model URL_OR_PATH] [--backend B]``: read digits from images.

Images are read by :func:`mnist_widgets.images.load_image`: one with transparency like a browser
canvas (the alpha channel is the ink), any other as grayscale (dark ink on light paper is inverted,
as :mod:`mnist_widgets.preprocessing` documents); a file declaring too many pixels is refused.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..engines import BACKENDS
from ._types import positive_int


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "predict",
        help="recognise the digit in image files (PNG, JPEG, ...)",
        description=(
            "Print the predicted digit and the top probabilities for each IMAGE. Drawings on a "
            "transparent background use their alpha channel as ink; other images are read as "
            "grayscale (dark ink on white is inverted)."
        ),
    )
    parser.add_argument("images", metavar="IMAGE", nargs="+", type=Path, help="image file(s)")
    parser.add_argument(
        "--model",
        metavar="URL_OR_PATH",
        default=None,
        help=(
            "model to use: an http(s) URL of a model.json (fetched through the model store, "
            "offline-first; the store entry holding that URL under any name), cache://NAME, a "
            "local directory / model.json, or a model.onnx (onnxruntime) "
            "(default: the model shipped with mnist-widgets)"
        ),
    )
    parser.add_argument(
        "--backend",
        choices=("auto", *BACKENDS),
        default="auto",
        help="inference engine (default auto: onnxruntime where installed, else numpy; "
        "tensorflow imports TensorFlow and takes seconds to start)",
    )
    parser.add_argument(
        "--top", type=positive_int, default=3, metavar="K", help="probabilities shown (3)"
    )
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from ..images import load_image  # Pillow: not needed for --help

    # A list, not a dict: a path given twice gets two results. Unreadable files fail fast.
    images = [(path, load_image(path)) for path in args.images]
    from ..predictor import Predictor  # deferred: engines only after the images are read

    # None: the shipped model; a path, cache://NAME or http(s) URL (through the store)
    predictor = Predictor(args.model, backend=args.backend)
    failed = False
    for path, canvas in images:
        prediction = predictor.predict(canvas)
        if prediction.digit is None:
            why = _why(prediction.reason)
            print(f"mnist-widgets predict: error: {path}: {why}", file=sys.stderr)
            failed = True
            continue
        print(f"{path}: {prediction.digit}")
        for digit, probability in prediction.top(args.top):  # >= 1: positive_int
            print(f"  {digit}  {probability:.4f}")
    return 1 if failed else 0


def _why(reason: str | None) -> str:
    """One line saying why an image was not classified (the widget's short reason, explained)."""
    # deferred: preprocessing brings NumPy and Pillow, which --help does without
    from ..preprocessing import REASON_FLAT, REASON_LITTLE_INK, REASON_TOO_SMALL

    if reason == REASON_TOO_SMALL:
        return (
            "not a digit: the ink is a dot, a short dash or a blob (draw bigger, or with a "
            "thinner pen); nothing to classify"
        )
    if reason == REASON_LITTLE_INK:
        return "not a digit: too little ink (a speck, or too faint); nothing to classify"
    if reason == REASON_FLAT:
        return "not a digit: a flat horizontal line; nothing to classify"
    return "the image holds no ink (blank, or too faint to be a digit); nothing to classify"
