"""Accuracy on pen-drawn digits by drawing size, through the widget: strokes vs the fixed brush.

The set: MNIST TEST digits (never used for training) traced to pen strokes. Each digit is enlarged
4x (bilinear), its ink (``INK``) thinned to its skeleton and the skeleton followed into
polylines, the way a pen would have gone (:func:`digit_strokes`). What the trace loses is lost
before any drawing, so the tracer is built to reproduce the digit's shape:

- a loop the writer's pen filled with ink (a solid 9's head, a blot of a 6) has no hole, so its
  skeleton is a line, which draws a 7 or a 1: the core of such a blot (ink deeper than
  ``BLOT_CORE`` half stroke widths) is cut out before thinning, so the trace goes round it as a
  pen did; but only where a pen along the skeleton would leave ink bare (``BLOT_FAR``): a junction
  where ink pools is deep too, and cutting it out drew a loop in a 3, a 5 or a 7;
- the skeleton's short paths are pruned by what they are, not by length alone: a spur (one free
  end) under ``SPUR`` px is a thinning artefact, a short path between two others closes a loop
  and stays (the first tracer dropped it, and a 0 or a 6 opened);
- a piece of ink apart (a 5's bar, a dot) of at least one MNIST pixel (``SPECK``) is drawn,
  also when thinning wipes it out; smaller specks are dust.

Every parameter was chosen without any model, by ``scripts/trace_fidelity.py``: the traced
strokes re-inked at the digit's own stroke width against the digit's ink, on MNIST *training*
digits (none of those held out for validation): on 1,500 of them (the parameters were chosen
there) / 6,000 others, the first tracer and this one,

==========================================  ===============  ===============
measure                                     first tracer     this tracer
==========================================  ===============  ===============
faithful: loops, pieces kept, <= 5 % bare   98.07 / 97.80 %  99.27 / 98.85 %
a loop traced round ink in a 1, 3, 5 or 7   2.98 / 2.60 %    0.99 / 1.38 %
a loop traced round ink, any digit          8.13 / 8.98 %    3.33 / 4.98 %
a hole of the digit not enclosed            0.07 / 0.03 %    0 / 0 %
a piece of ink left out                     0.33 / 0.78 %    0.13 / 0.17 %
over 5 % of the ink bare (a stroke lost)    0.47 / 0.47 %    0.20 / 0.43 %
IoU mean, 1st percentile (the 1,500)        0.852, 0.702     0.853, 0.733
==========================================  ===============  ===============

(``python scripts/trace_fidelity.py [--sweep]``; digits still traced wrong: the thickest blots, a
9 whose small head is solid ink traced as a 1, a 6 as a C.)

The strokes are then drawn like a mouse would: scaled to a height between 25 and 260 px
(log-uniform, so every size band is well filled), slanted and placed anywhere on the 280 px canvas,
resampled to mouse-event spacing with a little wobble. Every drawing goes through
``DigitCanvas.draw_stroke`` stroke by stroke; three ways to read it are compared:

- **widget**: what the widget predicts now (the strokes inked at a pen relative to the drawing's
  size, :func:`~mnist_widgets.preprocessing.prepare_strokes`);
- **image**: ``Predictor.predict(canvas.image)``, the fixed 20 px brush image through the image
  path (what the CLI does with a screenshot): stroke widths outside MNIST's range re-inked, blobs
  refused as "draw bigger" (counted as errors here);
- **fixed brush (before)**: that image as the widget read it before (no normalisation): the
  20 px brush blob.

Run: ``python -m benchmarks.drawings_by_size [--model PATH] [--n 2000] [--old-model PATH]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Sequence

import numpy as np
from PIL import Image
from scipy import ndimage

from mnist_widgets import load_mnist
from mnist_widgets.predictor import Predictor
from mnist_widgets.preprocessing import preprocess
from mnist_widgets.strokes import thin
from mnist_widgets.widget import SIZE, DigitCanvas

from ._common import markdown_table, pick_model, write_results

BANDS = [(0, 40, "< 40 px"), (40, 60, "40-60 px"), (60, 100, "60-100 px")]
BANDS += [(100, 160, "100-160 px"), (160, 10_000, ">= 160 px")]
HEIGHTS = (25.0, 260.0)
UP = 4  # the digits are traced at 4x MNIST's resolution
INK = 0.3  # the digit's ink: the 4x bilinear digit at this level
BLOT_CORE = 1.6  # ink deeper than this many half stroke widths is a filled loop's core...
BLOT_CUT = 1.5  # ...and ink deeper than this many around it is cut out: the trace goes round...
BLOT_FAR = 2.0  # ...if ink this many half widths from the skeleton is near: a pen leaves it bare
SPUR = 6  # a spur shorter than this (px at 4x) is a thinning artefact, not a stroke
SPECK = UP * UP  # a piece of ink of its own at least one MNIST pixel in area is a dot to draw
Stroke = list[tuple[float, float]]
Path = list[tuple[int, int]]  # a walk over skeleton pixels, (row, col)

_STEPS = [
    (-1, 0),
    (0, 1),
    (1, 0),
    (0, -1),
    (-1, 1),
    (1, 1),
    (1, -1),
    (-1, -1),
]  # 4-neighbours first


def trace(skeleton: np.ndarray) -> list[Path]:
    """Follow a one-pixel skeleton into polylines of (row, col): each edge walked once.

    Walks start at line ends, then at junctions, then anywhere (closed loops), and go straight
    on where they can; a pixel alone is a path of one point.
    """
    pixels = {(int(r), int(c)) for r, c in np.argwhere(skeleton)}

    def neighbours(p: tuple[int, int]) -> list[tuple[int, int]]:
        return [(p[0] + dr, p[1] + dc) for dr, dc in _STEPS if (p[0] + dr, p[1] + dc) in pixels]

    degree = {p: len(neighbours(p)) for p in pixels}
    used: set[frozenset[tuple[int, int]]] = set()
    paths: list[Path] = []
    starts = sorted(pixels, key=lambda p: (degree[p] != 1, degree[p] < 3, p))
    for start in starts:
        while True:
            path = [start]
            cur, direction = start, (0, 0)
            while True:
                options = [q for q in neighbours(cur) if frozenset((cur, q)) not in used]
                if not options:
                    break
                nxt = max(
                    options,
                    key=lambda q: (q[0] - cur[0]) * direction[0] + (q[1] - cur[1]) * direction[1],
                )
                used.add(frozenset((cur, nxt)))
                # skip the diagonal shortcut of an L-shaped corner: mark it walked too
                for q in neighbours(nxt):
                    if q in neighbours(cur) and q != nxt:
                        used.add(frozenset((cur, q)))
                direction = (nxt[0] - cur[0], nxt[1] - cur[1])
                path.append(nxt)
                cur = nxt
            if len(path) == 1:
                break
            paths.append(path)
    # a skeleton pixel alone (a dot thins to one) is a path of its own
    paths += [[p] for p in sorted(pixels) if degree[p] == 0]
    return paths


def digit_strokes(
    digit: np.ndarray,
    *,
    ink: float = INK,
    blot_core: float = BLOT_CORE,
    blot_cut: float = BLOT_CUT,
    blot_far: float = BLOT_FAR,
    spur: int = SPUR,
    speck: int = SPECK,
) -> list[Stroke]:
    """An MNIST digit (28x28 uint8) as pen strokes in (x, y) at 4x scale.

    The keywords are the tracer's parameters (the module constants), there to measure others
    (``scripts/trace_fidelity.py --sweep``).
    """
    mask = upscale(digit) >= ink
    skeleton = thin(mask)
    opened = _open_blots(mask, skeleton, blot_core, blot_cut, blot_far)
    if opened is not mask:  # blots were cut out: thin what is left
        skeleton = thin(opened)
    pieces, n = ndimage.label(mask, np.ones((3, 3), bool))
    area = np.bincount(pieces.ravel())
    # thinning wipes out a piece as wide as it is long (a dot, a short thick dash): its deepest
    # pixel stands for it
    for k in np.setdiff1d(np.arange(1, n + 1), pieces[skeleton]):
        depth = ndimage.distance_transform_edt(pieces == k)
        skeleton[np.unravel_index(int(np.argmax(depth)), depth.shape)] = True
    paths = trace(skeleton)
    dots = {k for k, path in enumerate(paths) if area[pieces[path[0]]] >= speck}
    return [[(float(c), float(r)) for r, c in p] for p in _prune(paths, spur, dots)]


def upscale(digit: np.ndarray) -> np.ndarray:
    """A 28x28 uint8 digit as float ink in [0, 1] at the tracer's 4x scale (bilinear)."""
    image = Image.fromarray(digit.astype(np.float32) / 255, mode="F")
    return np.asarray(image.resize((28 * UP, 28 * UP), Image.Resampling.BILINEAR))


def _prune(paths: list[Path], spur: int, dots: set[int]) -> list[Path]:
    """``paths`` without the short ones (under ``spur`` px) a pen would not draw.

    Dropped: a spur (one end free, the other on another path: a fork thinning leaves at a
    stroke's end), a walk over pixels other paths cover already (the diagonal of a stair), and a
    speck of ink of its own unless its index is in ``dots`` (a piece of at least ``SPECK`` px: a
    dot or a short dash the writer made). Kept: a short path whose both ends are on other paths,
    which closes a loop or joins two strokes (dropping those opened 0s and 6s).
    """
    kept = []
    for k, path in enumerate(paths):
        if len(path) >= spur or len(paths) == 1:
            kept.append(path)
            continue
        others = {p for j, other in enumerate(paths) if j != k for p in other}
        if all(p in others for p in path):
            continue
        ends = (path[0] in others) + (path[-1] in others)
        if ends == 2 or (ends == 0 and k in dots):
            kept.append(path)
    return kept or [max(paths, key=len)]


def _open_blots(
    mask: np.ndarray, skeleton: np.ndarray, blot_core: float, blot_cut: float, blot_far: float
) -> np.ndarray:
    """``mask`` with the cores of ink blots (filled loops) cut out, so that thinning rings them
    (``skeleton``: the mask's own; ``mask`` itself is returned when there is nothing to cut).

    A core is ink deeper than ``blot_core`` half stroke widths (the median depth of the
    skeleton); the ink deeper than ``blot_cut`` round it is cut out, but only if the skeleton
    would leave part of that blot bare: ink farther than ``blot_far`` half widths from the
    skeleton within the largest disc of ink round a point of the cut. (A junction of strokes is
    deep too, but a pen along the skeleton covers it: cutting it out traced a small loop or a
    chord there, in 3s, 5s and 7s as well.)
    """
    depth = ndimage.distance_transform_edt(mask)
    half_width = float(np.median(depth[skeleton]))
    core = depth > blot_core * half_width
    if not core.any():
        return mask
    deep, _ = ndimage.label(depth > blot_cut * half_width)
    far = mask & (ndimage.distance_transform_edt(~skeleton) > blot_far * half_width)
    reach = ndimage.distance_transform_edt(~far)  # from every pixel to the nearest far ink
    blots = [
        b for b in np.unique(deep[core]) if b > 0 and (reach[deep == b] <= depth[deep == b]).any()
    ]
    return np.asarray(mask & ~np.isin(deep, blots)) if blots else mask


def mouse_strokes(
    strokes: Sequence[Stroke], rng: np.random.Generator
) -> tuple[list[Stroke], float]:
    """Scale, slant and place strokes on the canvas like a mouse drawing; return them and the
    drawing's height (px)."""
    pts = np.concatenate([np.asarray(s) for s in strokes])
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    height = float(np.exp(rng.uniform(*np.log(HEIGHTS))))
    k = height / max(float(hi[1] - lo[1]), 1.0)
    slant = float(rng.uniform(-0.25, 0.25))
    width = (hi[0] - lo[0]) * k + abs(slant) * height
    if width > SIZE - 12:  # a wide digit drawn very large: shrink it onto the canvas
        k *= (SIZE - 12) / width
        height *= (SIZE - 12) / width
        width = SIZE - 12
    x0 = rng.uniform(6, SIZE - 6 - width)
    y0 = rng.uniform(6, SIZE - 6 - height)
    spacing = float(rng.uniform(2.0, 6.0))  # px between mouse events
    out: list[Stroke] = []
    for stroke in strokes:
        s = (np.asarray(stroke) - lo) * k
        s[:, 0] += slant * (height - s[:, 1]) + x0 + max(0.0, -slant) * height  # lean
        s[:, 1] += y0
        out.append(_resample(s, spacing, rng))
    return out, height


def _resample(points: np.ndarray, spacing: float, rng: np.random.Generator) -> Stroke:
    if len(points) == 1:
        return [(float(points[0, 0]), float(points[0, 1]))]
    seg = np.hypot(*np.diff(points, axis=0).T)
    dist = np.concatenate([[0.0], np.cumsum(seg)])
    n = max(2, int(dist[-1] / spacing) + 1)
    at = np.linspace(0.0, dist[-1], n)
    xs = np.interp(at, dist, points[:, 0]) + rng.normal(0, 0.4, n)
    ys = np.interp(at, dist, points[:, 1]) + rng.normal(0, 0.4, n)
    xs, ys = np.clip(xs, 0, SIZE), np.clip(ys, 0, SIZE)
    return [(float(x), float(y)) for x, y in zip(xs, ys, strict=True)]


def make_set(n: int, seed: int = 0) -> tuple[list[list[Stroke]], np.ndarray, np.ndarray]:
    """``n`` test digits as mouse drawings: (strokes per drawing, labels, heights)."""
    (_, _), (x_test, y_test) = load_mnist()
    rows = set_rows(n, seed, len(x_test))
    drawings, heights = mouse_drawings(x_test[rows], seed)
    return drawings, y_test[rows], heights


def set_rows(n: int, seed: int, total: int) -> np.ndarray:
    """The rows of the ``total`` test digits that :func:`make_set` draws, in its order."""
    return np.random.default_rng(seed).choice(total, size=min(n, total), replace=False)


def mouse_drawings(digits: np.ndarray, seed: int) -> tuple[list[list[Stroke]], np.ndarray]:
    """Each digit of ``digits`` (N, 28, 28) traced and drawn like a mouse: (strokes, heights)."""
    drawings, heights = [], []
    for k, digit in enumerate(digits):  # a generator per drawing: one trace moves no other drawing
        strokes, height = mouse_strokes(digit_strokes(digit), np.random.default_rng([seed, k]))
        drawings.append(strokes)
        heights.append(height)
    return drawings, np.asarray(heights)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="TF.js model directory (default: shipped)")
    parser.add_argument("--n", type=int, default=2000, help="drawings (2000)")
    parser.add_argument("--seed", type=int, default=0, help="the set's seed (0)")
    parser.add_argument("--note", default="", help="a line added under the table")
    args = parser.parse_args(argv)
    model_dir, model_label = pick_model(args.model)
    predictor = Predictor(str(model_dir))
    drawings, labels, heights = make_set(args.n, args.seed)

    ways = ["widget", "image", "before"]
    digits: dict[str, list[int | None]] = {w: [] for w in ways}
    seconds: dict[str, list[float]] = {w: [] for w in ways}
    for strokes in drawings:
        canvas = DigitCanvas(predictor)
        start = time.perf_counter()
        for stroke in strokes:  # one prediction per stroke, as when drawing
            canvas.draw_stroke(stroke)
        seconds["widget"].append(time.perf_counter() - start)
        digits["widget"].append(canvas.prediction.digit)
        image = canvas.image
        start = time.perf_counter()
        digits["image"].append(predictor.predict(image).digit)
        seconds["image"].append(time.perf_counter() - start)
        start = time.perf_counter()
        before = preprocess(image, normalise_strokes=False)
        digits["before"].append(predictor.predict(before, preprocessed=True).digit)
        seconds["before"].append(time.perf_counter() - start)

    ok = {w: np.array([d == y for d, y in zip(digits[w], labels, strict=True)]) for w in ways}
    refused = {w: int(sum(d is None for d in digits[w])) for w in ways}
    rows: list[list[object]] = []
    bands: dict[str, dict[str, float | int]] = {}
    for lo, hi, name in [*BANDS, (0, 10_000, "**all**")]:
        sel = (heights >= lo) & (heights < hi)
        bands[name.strip("*")] = {
            "n": int(sel.sum()),
            **{w: float(ok[w][sel].mean()) for w in ways},
        }
        rows.append([name, int(sel.sum()), *(f"{ok[w][sel].mean():.2%}" for w in ways)])
    (_, _), (x_test, y_test) = load_mnist()
    raw = predictor.predict_batch((x_test / 255.0).astype(np.float32), preprocessed=True)
    mnist = float(np.mean(np.array([p.digit for p in raw]) == y_test))
    ms = {w: statistics.median(seconds[w]) * 1000 for w in ways}
    strokes_per_drawing = float(np.mean([len(d) for d in drawings]))
    table = markdown_table(
        [
            "drawing height",
            "drawings",
            "widget (strokes, relative pen)",
            "image (Predictor.predict)",
            "fixed 20 px brush (before)",
        ],
        rows,
    )
    table += (
        f"\n\nModel: {model_label}; MNIST test {mnist:.2%}. {len(labels)} MNIST test digits "
        "traced to pen strokes, 25-260 px tall, drawn stroke by stroke through "
        f"`DigitCanvas.draw_stroke`. Not classified (digit None): {refused['widget']} through the "
        f"widget, {refused['image']} from the image. Median time per drawing: "
        f"{ms['widget']:.1f} ms through the widget (all its per-stroke predictions: "
        f"{strokes_per_drawing:.1f} strokes a drawing on average), "
        f"{ms['image']:.1f} ms for the image, {ms['before']:.1f} ms for the fixed brush."
    )
    if args.note:
        table += f" {args.note}"
    write_results(
        "drawings_by_size",
        {
            "model": model_label,
            "n": len(labels),
            "seed": args.seed,
            "accuracy": {w: float(ok[w].mean()) for w in ways},
            "by_height": bands,
            "not_classified": refused,
            "median_ms_per_drawing": ms,
            "mean_strokes_per_drawing": strokes_per_drawing,
            "mnist_test_accuracy": mnist,
        },
        table,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
