"""``mnist-widgets export MODEL --out DIR [--format tfjs|onnx]``: write a model for other runtimes.

MODEL is ``shipped`` (the model that comes with the package), a Keras ``.keras`` file, or any TF.js
model location (directory, ``model.json``, URL, ``cache://NAME``), which is re-exported, e.g. to
quantize or re-shard it. ``--format onnx`` writes
``DIR/model.onnx`` instead (:func:`mnist_widgets.engines.onnx.to_onnx`: input ``(n, 28, 28, 1)``,
output ``(n, 10)``); from a TF.js model that needs no TensorFlow.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..errors import ModelFormatError
from ..tfjs.artifacts import DEFAULT_SHARD_BYTES, QUANTIZE_CHOICES
from ._text import size
from ._types import check_output_dir, positive_int

SHIPPED = "shipped"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "export",
        help="write a model for TF.js (model.json + weight shards) or ONNX (model.onnx)",
        description="Export a model in the TensorFlow.js layers format that tf.loadLayersModel "
        "reads (default), or as model.onnx for onnxruntime and other ONNX runtimes. MODEL is "
        "`shipped` (the model that comes with mnist-widgets), a Keras .keras file, or a TF.js "
        "model (directory, model.json, URL, cache://NAME). Writes are atomic.",
    )
    parser.add_argument(
        "model",
        metavar="MODEL",
        help=f"{SHIPPED!r} (the shipped model), a .keras file, a TF.js model dir/URL, cache://NAME "
        f"(./{SHIPPED} for a directory of that name)",
    )
    parser.add_argument("--out", required=True, metavar="DIR", help="output directory")
    parser.add_argument(
        "--format",
        choices=("tfjs", "onnx"),
        default="tfjs",
        help="tfjs: model.json + weight shards (default); onnx: DIR/model.onnx for onnxruntime "
        "(Python, web, C#, mobile) and other ONNX runtimes",
    )
    parser.add_argument(
        "--quantize",
        choices=QUANTIZE_CHOICES,
        default=None,
        help="store weights in fewer bytes (uint8: ~4x smaller; default: float32)",
    )
    parser.add_argument(
        "--shard-size",
        type=positive_int,
        default=DEFAULT_SHARD_BYTES,
        metavar="BYTES",
        help="maximum bytes per weight file (default: %(default)s, the TF.js converter's)",
    )
    parser.set_defaults(func=run)


def _source(model: str) -> str:
    """``shipped``: the model that comes with the package; anything else as given."""
    if model != SHIPPED:
        return model
    from .._shipped import shipped_model_dir  # deferred, like every import here: --help stays cheap

    return str(shipped_model_dir())


def _load(src: str) -> Any:
    """The Keras model in ``src`` (a ``.keras`` file, or a TF.js model's path or URL)."""
    from ..keras_io import load_layers_model  # deferred: it brings TensorFlow's decode path

    if src.endswith(".keras"):
        if not Path(src).is_file():
            msg = f"no Keras file at {src!r}; pass an existing .keras file or a TF.js model"
            raise ModelFormatError(msg)
        from .._tf import keras  # deferred: TensorFlow only for a .keras file

        try:  # safe_mode (the default) refuses lambdas and other code in the file
            return keras().models.load_model(src, compile=False)
        except (ValueError, TypeError, OSError) as exc:
            raise ModelFormatError(f"cannot read Keras file {src!r}: {exc}") from exc
    return load_layers_model(src)


def run(args: argparse.Namespace) -> int:
    from ..sources import write_artifacts  # deferred: the loading stack only when run
    from ..tfjs import encode_model

    check_output_dir(args.out, flag="--out")
    args.model = _source(args.model)
    if args.format == "onnx":
        return _run_onnx(args)
    model = _load(args.model)
    artifacts = encode_model(model, quantize=args.quantize, shard_size_bytes=args.shard_size)
    where = write_artifacts(artifacts, args.out)
    params = model.count_params()
    print(f"wrote {where} ({args.quantize or 'float32'} weights, {params:,} parameters)")
    print(f"  model.json  {size(len(artifacts.model_json_bytes()))}")
    for name, data in artifacts.weight_files.items():
        print(f"  {name}  {size(len(data))}")
    print(f"  total  {size(artifacts.total_bytes)} (float32 weights: {size(4 * params)})")
    return 0


def _run_onnx(args: argparse.Namespace) -> int:
    from ..engines.onnx import OPSET, save_onnx  # deferred: onnx only for --format onnx

    if args.quantize or args.shard_size != DEFAULT_SHARD_BYTES:
        msg = "--quantize and --shard-size apply to --format tfjs (model.onnx holds float32)"
        raise ModelFormatError(msg)
    # a .keras file through Keras; a TF.js model straight from its files, without TensorFlow
    model = _load(args.model) if args.model.endswith(".keras") else args.model
    dest = save_onnx(model, args.out)
    print(f"wrote {dest} (ONNX opset {OPSET}, float32, {size(dest.stat().st_size)})")
    print("  input 'input' (n, 28, 28, 1) float32 in [0, 1] -> output 'output' (n, 10)")
    return 0
