"""The drawings benchmark's errors, each read three ways, and a sheet of them to look at.

Usage: python scripts/benchmark_errors.py [--model DIR] [--n 2000] [--seed 0] [--sheet PATH]

For every drawing of ``benchmarks/drawings_by_size.py``'s set the model misreads (through the
widget's rendering of its strokes), the same digit is read undrawn (the MNIST test image) and as
its trace alone (the tracer's strokes inked as they are: no mouse), which says where it went wrong:
the digit itself, the trace, or only the drawing. The sheet (PNG) shows each error's MNIST digit,
its trace and what the model saw as drawn, for reading by eye (docs/recognition.md). Run it only
after every choice is made: these are test digits, nothing is to be chosen by them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository's benchmarks/

from select_model import read_digits, traces  # scripts/, this script's directory

import mnist_widgets as mw
from benchmarks.drawings_by_size import mouse_drawings, set_rows
from mnist_widgets.preprocessing import prepare_strokes


def sheet(images: list[list[np.ndarray]], captions: list[str], path: Path, cols: int = 4) -> None:
    """Rows of images in [0, 1] (ink dark on white, 3x) with a caption under each group."""
    side = 3 * 28
    width, height = len(images[0]) * side + 20, side + 18
    out = Image.new("L", (cols * width, max(1, -(-len(images) // cols)) * height), 255)
    draw = ImageDraw.Draw(out)
    for i, (group, caption) in enumerate(zip(images, captions, strict=True)):
        x0, y0 = (i % cols) * width, (i // cols) * height
        for j, a in enumerate(group):
            tile = Image.fromarray((255 - np.clip(a, 0, 1) * 255).astype(np.uint8))
            out.paste(tile.resize((side, side), Image.Resampling.NEAREST), (x0 + j * side, y0))
        draw.text((x0 + 2, y0 + side + 2), caption, fill=0)
    out.save(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="TF.js model directory (the shipped one)")
    parser.add_argument("--n", type=int, default=2000, help="drawings (2000, as the benchmark)")
    parser.add_argument("--seed", type=int, default=0, help="the set's seed (0, as the benchmark)")
    parser.add_argument("--sheet", type=Path, default=Path("build/benchmark-errors.png"))
    args = parser.parse_args()
    (_, _), (x_test, y_test) = mw.load_mnist()
    rows = set_rows(args.n, args.seed, len(x_test))  # the benchmark's set, with its rows
    drawings, heights = mouse_drawings(x_test[rows], args.seed)
    predictor = mw.Predictor(args.model)
    drawn = np.stack([prepare_strokes(strokes).input for strokes in drawings])
    labels = y_test[rows]
    wrong = np.flatnonzero(read_digits(predictor, drawn) != labels)
    digits = (x_test[rows[wrong]] / 255).astype(np.float32)
    traced = traces(x_test[rows[wrong]])
    read = {
        "undrawn": read_digits(predictor, digits),
        "trace": read_digits(predictor, traced),
        "drawn": read_digits(predictor, drawn[wrong]),
    }
    truth = labels[wrong]
    undrawn_wrong = read["undrawn"] != truth
    trace_wrong = ~undrawn_wrong & (read["trace"] != truth)
    print(
        f"{len(wrong)} errors of {args.n}: {int(undrawn_wrong.sum())} digits misread undrawn too, "
        f"{int(trace_wrong.sum())} more from their trace alone, "
        f"{int((~undrawn_wrong & ~trace_wrong).sum())} only as drawn"
    )
    print("| # | MNIST test row | digit | read undrawn | trace alone | drawn | height px |")
    print("|---|---|---|---|---|---|---|")
    captions = []
    for k, e in enumerate(wrong):
        cells = [read[w][k] for w in ("undrawn", "trace", "drawn")]
        print(
            f"| {k} | {rows[e]} | {truth[k]} | "
            + " | ".join(map(str, cells))
            + f" | {heights[e]:.0f} |"
        )
        captions.append(f"#{k} {truth[k]}: undrawn {cells[0]}, trace {cells[1]}, drawn {cells[2]}")
    args.sheet.parent.mkdir(parents=True, exist_ok=True)
    sheet(
        [[d, t, x] for d, t, x in zip(digits, traced, drawn[wrong], strict=True)],
        captions,
        args.sheet,
    )
    print(f"sheet: {args.sheet} (each error: the MNIST digit, its trace, what the model saw)")


if __name__ == "__main__":
    main()
