"""``mnist-widgets train``: the article's Step 1, with mnist-node's flag names.

``mnist-widgets train --epochs 20 --batch-size 128 --model-save-path DIR`` trains on MNIST and
writes the TF.js layers format to DIR (mnist-node's ``--batch_size`` / ``--model_save_path`` work).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import tempfile
import warnings
from pathlib import Path
from typing import Any

from ..errors import MnistWidgetsError


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train the mnist-node CNN on MNIST and save it",
        description="Train the tfjs-examples mnist-node CNN on MNIST (cosine learning rate, seeded "
        "validation split), evaluate it on the test set and save it. Ctrl-C stops training "
        "and saves the best weights so far.",
    )
    parser.add_argument("--epochs", type=int, default=20, help="epochs (default: 20)")
    parser.add_argument(
        "--batch-size", "--batch_size", type=int, default=128, help="batch size (default: 128)"
    )
    parser.add_argument(
        "--model-save-path",
        "--model_save_path",
        metavar="DIR",
        default=None,
        help="write the model in the TF.js layers format (model.json + weights) to DIR",
    )
    parser.add_argument(
        "--keras-file", metavar="PATH", default=None, help="also save Keras's .keras file to PATH"
    )
    parser.add_argument("--seed", type=int, default=None, help="random seed: reproducible runs")
    parser.add_argument(
        "--augment",
        action="store_true",
        help="augment training images (rotation, shift, zoom, stroke width) for hand-drawn digits",
    )
    parser.add_argument(
        "--recipe",
        choices=("pen",),
        default=None,
        help="named training recipe: 'pen' = --augment plus pen-drawn copies of every training "
        "digit (slant, elastic distortion, strokes re-inked at varied widths; the shipped model)",
    )
    parser.add_argument(
        "--init-from",
        metavar="MODEL",
        default=None,
        help="start from this model's weights (a TF.js model directory or model.json, e.g. "
        "models/mnist) instead of a fresh network: fine-tuning",
    )
    parser.add_argument(
        "--interpolate",
        type=float,
        default=None,
        metavar="A",
        help="with --init-from: keep (1 - A) of the starting weights and A of the trained ones "
        "(weight-space ensembling; the shipped model used 0.5)",
    )
    parser.add_argument(
        "--learning-rate",
        type=float,
        default=None,
        metavar="LR",
        help="peak learning rate of the cosine schedule (default: 0.001)",
    )
    parser.add_argument(
        "--subset", type=int, default=None, metavar="N", help="train on N random training images"
    )
    parser.add_argument(
        "--validation-split",
        "--validation_split",
        type=float,
        default=0.15,
        metavar="F",
        help="fraction of training images held out for validation (default: 0.15)",
    )
    parser.add_argument(
        "--label-smoothing",
        type=float,
        default=None,
        metavar="F",
        help="cross-entropy label smoothing (default: 0.1; 0 turns it off)",
    )
    parser.add_argument("--data-dir", metavar="DIR", default=None, help="MNIST directory to use")
    parser.add_argument(
        "--history-file",
        metavar="PATH",
        default=None,
        help="write per-epoch metrics, epoch times and test results as JSON to PATH",
    )
    parser.set_defaults(func=_run)


def _check_targets(args: argparse.Namespace) -> None:
    """Fail before training, not after: a bad save path must not cost a training run."""
    if args.model_save_path is not None:
        target = Path(args.model_save_path)
        if target.exists() and not target.is_dir():
            msg = f"--model-save-path {target} is a file; expected a directory (it will be created)"
            raise MnistWidgetsError(msg)
    if args.keras_file is not None and not str(args.keras_file).endswith(".keras"):
        msg = f"--keras-file {args.keras_file} must end in .keras (Keras 3's format)"
        raise MnistWidgetsError(msg)


def _save_keras(model: Any, path: str | Path) -> None:  # a keras.Model (Keras ships no types)
    # Keras 3.15's saver trips NumPy 2's __array__(copy=) DeprecationWarning on every variable;
    # it is Keras-internal and not actionable for our users.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        model.save(path)


def _save(model: Any, args: argparse.Namespace) -> list[str]:
    saved: list[str] = []
    try:
        if args.keras_file is not None:
            Path(args.keras_file).parent.mkdir(parents=True, exist_ok=True)
            _save_keras(model, args.keras_file)
            saved.append(f"Keras file:  {args.keras_file}")
        if args.model_save_path is not None:
            from ..keras_io import save_layers_model  # deferred: TensorFlow only when run

            where = save_layers_model(model, args.model_save_path)
            saved.append(f"TF.js model: {where}")
    except Exception as exc:
        # Keep the trained weights: write a rescue copy before reporting the failure.
        rescue = Path(tempfile.mkdtemp(prefix="mnist-widgets-train-")) / "model.keras"
        _save_keras(model, rescue)
        msg = f"could not save the model ({exc}); a copy of the trained model is at {rescue}"
        raise MnistWidgetsError(msg) from exc
    return saved


def _run(args: argparse.Namespace) -> int:
    _check_targets(args)
    from ..model import LEARNING_RATE  # deferred: model and training import TensorFlow
    from ..training import LABEL_SMOOTHING, train

    smoothing = LABEL_SMOOTHING if args.label_smoothing is None else args.label_smoothing
    initial = None
    if args.init_from is not None:
        from ..keras_io import load_layers_model  # deferred: decoding to Keras imports TensorFlow

        initial = load_layers_model(args.init_from)
    # train() checks its arguments (ConfigError) before it reads MNIST from data_dir.
    model, history = train(
        epochs=args.epochs,
        batch_size=args.batch_size,
        validation_split=args.validation_split,
        seed=args.seed,
        augment=args.augment,
        recipe=args.recipe,
        subset=args.subset,
        label_smoothing=smoothing,
        learning_rate=LEARNING_RATE if args.learning_rate is None else args.learning_rate,
        model=initial,
        interpolate=args.interpolate,
        data_dir=args.data_dir,
    )
    saved = _save(model, args)
    if args.history_file is not None:
        path = Path(args.history_file)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(dataclasses.asdict(history), indent=1) + "\n")
        saved.append(f"history:     {path}")

    done = f"{history.epochs_completed}/{args.epochs} epochs"
    if history.interrupted:
        done += " (interrupted with Ctrl-C)"
    print()
    print(f"Trained:       {done} in {history.seconds:.1f} s", end="")
    if history.epoch_seconds:
        print(f", {statistics.median(history.epoch_seconds):.1f} s per epoch (median)")
    else:
        print()
    if history.best_epoch is not None:
        kept = f"epoch {history.best_epoch}"
        if history.best_val_accuracy is not None:
            kept += f" (validation accuracy {history.best_val_accuracy:.4f})"
        print(f"Weights from:  {kept}")
    print(f"Test accuracy: {history.test_accuracy:.4f} (loss {history.test_loss:.4f})")
    for line in saved or ["not saved (pass --model-save-path DIR or --keras-file PATH.keras)"]:
        print(f"Saved:         {line}")
    return 130 if history.interrupted else 0
