"""How faithfully the drawings-by-size benchmark's tracer reproduces MNIST digits (no model).

Usage: python scripts/trace_fidelity.py [--rows 1500] [--seed 5] [--worst 48] [--grid PATH]
       [--sweep]

benchmarks/drawings_by_size.py turns each MNIST digit into pen strokes
(:func:`~benchmarks.drawings_by_size.digit_strokes`) and draws them like a mouse. Whatever the
trace loses (a loop opened, a stroke dropped, a stroke broken into dots) is lost before any
drawing: the benchmark then measures drawings of another shape than the digit it claims. This
script measures the trace against the digit itself, with no model: the traced strokes are
re-inked at the digit's own stroke width (:func:`~mnist_widgets.strokes.ink_skeleton`) at the
tracer's 4x scale and compared with the digit's ink there (the 4x bilinear digit at ``REFERENCE``
ink, fixed whatever the tracer does):

- **IoU** of the re-inked trace and the digit's ink (mean, 5th and 1st percentile);
- **holes**: enclosed background regions of at least one MNIST pixel (16 px at 4x), the digit's
  against the re-inked trace's: the share of digits whose trace lost a hole (a 0 opened) or made
  one (a loop closed);
- **pieces**: connected pieces of ink of at least one MNIST pixel: the share of traces broken into
  more pieces than the digit (a faint stroke become dots) or fewer (strokes merged);
- **uncovered**: the share of the digit's ink farther than one MNIST pixel beyond the re-inked
  trace (a stroke the trace dropped, like a 3's middle stroke): mean, 95th and 99th percentile,
  and the share of digits with more than 5 % uncovered;
- **outside**: the share of the trace's own path farther than one MNIST pixel outside the digit's
  ink (a stroke the trace invented);
- **faithful**: the share of digits with the same holes and pieces and at most 5 % uncovered.

The digits are MNIST *training* rows (``--rows``, drawn with ``--seed``) outside the 9,000 that
seeded training holds out for validation (``scripts/select_model.py`` draws those to compare
models): the tracer is chosen on digits no evaluation uses. ``--grid`` saves the ``--worst``
digits by IoU, by uncovered ink and with a topology change as image grids (digit | trace).
``--sweep`` measures the tracer with each of its parameters moved one at a time (``SWEEP``): how
they were chosen.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository's benchmarks/

import mnist_widgets as mw
from benchmarks import drawings_by_size as tracer
from benchmarks.drawings_by_size import UP, digit_strokes, upscale
from mnist_widgets.strokes import ink_skeleton, stroke_width, thin
from mnist_widgets.training import split_rows

REFERENCE = 0.3  # the digit's ink: the 4x bilinear digit at this level (the first tracer's mask)
PIXEL = UP  # one MNIST pixel at the tracer's scale
MIN_AREA = PIXEL * PIXEL  # pieces smaller than one MNIST pixel are not counted
MIN_HOLE = 3 * MIN_AREA  # nor holes smaller than three (a pen of the digit's width closes them)
UNCOVERED = 0.05  # a digit with more of its ink uncovered has lost a stroke
LOOPLESS = (1, 3, 5, 7)  # digits with no loop: a loop traced round ink in one is always wrong
SEED = 1  # the training seed whose validation rows are held out (as scripts/select_model.py)
_EIGHT = np.ones((3, 3), bool)

Stroke = Sequence[tuple[float, float]]

# digit_strokes's parameters, each moved alone from the benchmark's value (blot_far 0: every core
# cut, as the first tracer did; blot_core inf: none; speck 10**9: no piece of its own kept)
SWEEP: dict[str, tuple[float, ...]] = {
    "ink": (0.2, 0.25, 0.35, 0.4),
    "blot_core": (1.4, 1.8, 2.0, float("inf")),
    "blot_cut": (1.3, 1.7),
    "blot_far": (0.0, 1.8, 2.2, 2.5),
    "spur": (4, 10, 16),
    "speck": (10**9,),
}


def rasterise(strokes: Sequence[Stroke], shape: tuple[int, int]) -> np.ndarray:
    """The strokes' paths (x, y) as a one-pixel bool mask (every segment sampled at 0.25 px)."""
    mask = np.zeros(shape, bool)
    for stroke in strokes:
        pts = np.asarray(stroke, dtype=float).reshape(-1, 2)
        if len(pts) > 1:
            seg = np.hypot(*np.diff(pts, axis=0).T)
            n = np.maximum(1, np.ceil(seg / 0.25).astype(int))
            t = np.concatenate([np.arange(k) / k for k in n] + [np.ones(1)])
            i = np.concatenate([np.full(k, j) for j, k in enumerate(n)] + [[len(pts) - 2]])
            pts = pts[i] + (pts[i + 1] - pts[i]) * t[:, None]
        cols = np.clip(np.rint(pts[:, 0]).astype(int), 0, shape[1] - 1)
        rows = np.clip(np.rint(pts[:, 1]).astype(int), 0, shape[0] - 1)
        mask[rows, cols] = True
    return mask


def pieces(mask: np.ndarray) -> int:
    """Connected pieces (8-connected) of at least one MNIST pixel."""
    labels, n = ndimage.label(mask, _EIGHT)
    if n == 0:
        return 0
    return int((np.bincount(labels.ravel())[1:] >= MIN_AREA).sum())


def holes(mask: np.ndarray) -> np.ndarray:
    """Labels of the enclosed background regions (4-connected) of at least ``MIN_HOLE`` px (0:
    ink or outside)."""
    labels, _ = ndimage.label(np.pad(~mask, 1, constant_values=True))
    labels = labels[1:-1, 1:-1]
    sizes = np.bincount(labels.ravel())
    sizes[[0, labels[0, 0]]] = 0  # ink, and the background outside the digit
    labels[sizes[labels] < MIN_HOLE] = 0
    return labels


def loops(ink: np.ndarray, path: np.ndarray) -> tuple[int, int, int]:
    """(the digit's holes, those the path fails to enclose, regions the path encloses with no
    background of the digit in them: a loop traced round ink)."""
    hole = holes(ink)
    wall = ndimage.binary_dilation(path, _EIGHT)  # a diagonal step of the path leaks no region
    enclosed = holes(wall)
    ids = np.unique(hole[hole > 0])
    lost = sum(1 for i in ids if np.mean(enclosed[(hole == i) & ~wall] == 0) > 0.5)
    made = sum(1 for j in np.unique(enclosed[enclosed > 0]) if ink[enclosed == j].all())
    return len(ids), lost, made


def measure(digit: np.ndarray, strokes: Sequence[Stroke]) -> dict[str, float]:
    """The fidelity measures of one digit's trace (see the module docstring)."""
    ink = upscale(digit) >= REFERENCE
    path = rasterise(strokes, ink.shape)
    half = stroke_width(ink, thin(ink)) / 2
    traced = ink_skeleton(path, half) >= 0.5
    union = np.count_nonzero(ink | traced)
    to_path = ndimage.distance_transform_edt(~path)
    to_ink = ndimage.distance_transform_edt(~ink)
    return {
        "iou": np.count_nonzero(ink & traced) / max(union, 1),
        "uncovered": float(np.mean(to_path[ink] > half + PIXEL)),
        "outside": float(np.mean(to_ink[path] > PIXEL)),
        **dict(zip(("holes", "hole_lost", "hole_made"), loops(ink, path), strict=True)),
        "pieces": pieces(ink),
        "trace_pieces": pieces(traced),
    }


def training_rows(n: int, seed: int) -> np.ndarray:
    """``n`` training rows (sorted) drawn with ``seed``, none of them held out for validation."""
    _, rest = split_rows(60_000, SEED)
    rest = np.sort(rest)
    return np.sort(np.random.default_rng(seed).choice(rest, size=n, replace=False))


def evaluate(
    digits: np.ndarray,
    labels: np.ndarray,
    tracer: Callable[[np.ndarray], Sequence[Stroke]] = digit_strokes,
) -> dict[str, np.ndarray]:
    """Every measure for every digit of ``digits`` (N, 28, 28): one array per measure (and the
    labels, as "label")."""
    rows = [measure(d, tracer(d)) for d in digits]
    return {"label": labels, **{key: np.array([r[key] for r in rows]) for key in rows[0]}}


def _row(name: str, figures: dict[str, float]) -> str:
    cells = [f"{v:.3f}" if k.startswith("IoU") else f"{v:.2%}" for k, v in figures.items()]
    return f"| {name} | " + " | ".join(cells) + " |"


def faithful(m: dict[str, np.ndarray]) -> np.ndarray:
    """Per digit of :func:`evaluate`'s measures: is its trace faithful (no hole lost, the same
    pieces, no loop in a 1, 3, 5 or 7, at most ``UNCOVERED`` of the ink bare)?"""
    wrong_loop = np.isin(m["label"], LOOPLESS) & (m["hole_made"] > 0)
    same_topology = (m["hole_lost"] == 0) & (m["pieces"] == m["trace_pieces"]) & ~wrong_loop
    return np.asarray(same_topology & (m["uncovered"] <= UNCOVERED))


def summary(m: dict[str, np.ndarray]) -> dict[str, float]:
    """The table's figures (shares as fractions)."""
    return {
        "IoU mean": float(m["iou"].mean()),
        "IoU 5th pct": float(np.percentile(m["iou"], 5)),
        "IoU 1st pct": float(np.percentile(m["iou"], 1)),
        "hole lost": float(np.mean(m["hole_lost"] > 0)),
        "loop round ink": float(np.mean(m["hole_made"] > 0)),
        "loop round ink in a 1, 3, 5, 7": float(
            np.mean(m["hole_made"][np.isin(m["label"], LOOPLESS)] > 0)
        ),
        "more pieces": float(np.mean(m["trace_pieces"] > m["pieces"])),
        "fewer pieces": float(np.mean(m["trace_pieces"] < m["pieces"])),
        "uncovered mean": float(m["uncovered"].mean()),
        "uncovered 95th pct": float(np.percentile(m["uncovered"], 95)),
        "uncovered 99th pct": float(np.percentile(m["uncovered"], 99)),
        "uncovered > 5 %": float(np.mean(m["uncovered"] > UNCOVERED)),
        "outside 99th pct": float(np.percentile(m["outside"], 99)),
        "faithful": float(np.mean(faithful(m))),
    }


def grid(digits: np.ndarray, tracer: Callable[[np.ndarray], Sequence[Stroke]], path: Path) -> None:
    """Save digits beside their traces (grey ink, strokes in colour, dots at stroke starts)."""
    from PIL import ImageDraw

    side, cols = 28 * UP, 8
    rows = (len(digits) + cols - 1) // cols
    sheet = Image.new("RGB", (cols * (2 * side + 8), max(rows, 1) * (side + 8)), "white")
    palette = ["red", "blue", "green", "orange", "purple", "brown", "magenta", "teal"]
    for k, digit in enumerate(digits):
        x0, y0 = (k % cols) * (2 * side + 8), (k // cols) * (side + 8)
        grey = (255 - upscale(digit) * 255).clip(0, 255).astype(np.uint8)
        sheet.paste(Image.fromarray(grey).convert("RGB"), (x0, y0))
        draw = ImageDraw.Draw(sheet)
        draw.rectangle([x0 + side, y0, x0 + 2 * side, y0 + side], outline="grey")
        for j, stroke in enumerate(tracer(digit)):
            pts = [(x0 + side + x, y0 + y) for x, y in stroke]
            colour = palette[j % len(palette)]
            if len(pts) > 1:
                draw.line(pts, fill=colour, width=3)
            draw.ellipse([pts[0][0] - 3, pts[0][1] - 3, pts[0][0] + 3, pts[0][1] + 3], colour)
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1500, help="training digits measured (1500)")
    parser.add_argument("--seed", type=int, default=5, help="which training digits (5)")
    parser.add_argument("--worst", type=int, default=48, help="digits per grid (48)")
    parser.add_argument("--grid", type=Path, default=None, help="save grids as PATH-*.png")
    parser.add_argument("--sweep", action="store_true", help="also each parameter moved alone")
    args = parser.parse_args()
    (x, y), _ = mw.load_mnist()
    rows = training_rows(args.rows, args.seed)
    m = evaluate(x[rows], y[rows])
    print(f"{len(rows):,} MNIST training digits (seed {args.seed}), not the held-out rows")
    figures = summary(m)
    print("| tracer | " + " | ".join(figures) + " |\n" + "|---" * (len(figures) + 1) + "|")
    print(_row("the benchmark's", figures), flush=True)
    if args.sweep:
        for name, values in SWEEP.items():
            for value in values:
                moved = partial(digit_strokes, **{name: value})
                print(
                    _row(
                        f"{name} {value:g} (is {getattr(tracer, name.upper()):g})",
                        summary(evaluate(x[rows], y[rows], moved)),
                    ),
                    flush=True,
                )
    if args.grid is not None:
        changed = (m["hole_lost"] + m["hole_made"] > 0) | (m["pieces"] != m["trace_pieces"])
        for name, order in [
            ("iou", np.argsort(m["iou"])),
            ("uncovered", np.argsort(-m["uncovered"])),
            ("topology", np.flatnonzero(changed)),
        ]:
            out = args.grid.with_name(f"{args.grid.name}-{name}.png")
            grid(x[rows[order[: args.worst]]], digit_strokes, out)
            print(f"saved {out}")


if __name__ == "__main__":
    main()
