"""Pen strokes of digits in a handwriting of our own design, for the widget's ``draw_stroke``.

A seeded, reproducible stand-in for one person's hand: notebook 05 teaches the model this hand,
and ``benchmarks/teach.py`` and the tests measure it. Each digit is a few strokes through control
points in a unit box (x to the right, y down, the digit 1 tall), rounded by corner cutting (a
point given twice stays a sharp corner) and varied per drawing: height, width, slant, a small
rotation, a jitter of every control point and the place on the canvas. The points come about 3 px
apart, like a mouse's.

:data:`CONTINENTAL` is the hand of much of continental Europe, which the shipped model (trained
on MNIST's American writers) misreads: a **1 with a long flag** (read as 7), a **7 with a
crossbar** and a **4 drawn open** at the top; the other digits are drawn plainly.

Examples
--------
>>> import numpy as np
>>> strokes = draw_digit(1, np.random.default_rng(0))
>>> len(strokes), all(len(s) > 10 for s in strokes)
(1, True)
>>> drawings = sample([1, 7], 3, seed=0)
>>> [d for d, _ in drawings]
[1, 7, 1, 7, 1, 7]
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

__all__ = ["CONTINENTAL", "HANDS", "Hand", "Strokes", "draw_digit", "sample"]

CANVAS = 280  # the widget's canvas side
STEP = 3.0  # px between consecutive points of a stroke, like mouse events
MARGIN = 8.0  # px kept free around a digit

Point = tuple[float, float]
Strokes = list[list[Point]]
#: Control points of each stroke of a digit, in a unit box (y down; x mostly within 0-0.7).
Hand = Mapping[int, Sequence[Sequence[Point]]]

_O = [(0.35, 0.0), (0.06, 0.2), (0.02, 0.55), (0.18, 0.95), (0.5, 0.95), (0.66, 0.6)]
_O += [(0.62, 0.2), (0.38, 0.0), (0.33, 0.04)]

CONTINENTAL: Hand = {
    0: [_O],
    # a long flag from far down the left, a sharp apex, then straight down
    1: [[(0.05, 0.42), (0.55, 0.0), (0.55, 0.0), (0.55, 1.0)]],
    2: [[(0.05, 0.22), (0.3, 0.0), (0.6, 0.1), (0.55, 0.4), (0.02, 1.0), (0.02, 1.0), (0.7, 0.98)]],
    3: [
        [(0.05, 0.12), (0.35, 0.0), (0.6, 0.15), (0.5, 0.4), (0.25, 0.48)],
        [(0.25, 0.48), (0.6, 0.6), (0.62, 0.85), (0.35, 1.0), (0.02, 0.88)],
    ],
    # open at the top: the left stroke never meets the upright
    4: [
        [(0.12, 0.0), (0.02, 0.62), (0.02, 0.62), (0.72, 0.62)],
        [(0.56, 0.22), (0.56, 1.0)],
    ],
    5: [
        [(0.12, 0.02), (0.08, 0.45), (0.08, 0.45), (0.4, 0.38), (0.64, 0.62), (0.5, 0.95)],
        [(0.12, 0.02), (0.65, 0.0)],
    ],
    6: [[(0.55, 0.0), (0.18, 0.3), (0.04, 0.7), (0.3, 1.0), (0.6, 0.8), (0.5, 0.52), (0.1, 0.6)]],
    # a crossbar through the middle of the stem
    7: [
        [(0.0, 0.02), (0.7, 0.0), (0.7, 0.0), (0.28, 1.0)],
        [(0.22, 0.5), (0.66, 0.48)],
    ],
    8: [
        [
            *[(0.6, 0.12), (0.35, 0.0), (0.1, 0.15), (0.2, 0.38), (0.55, 0.6), (0.62, 0.9)],
            *[(0.35, 1.0), (0.06, 0.85), (0.15, 0.6), (0.5, 0.38), (0.58, 0.15), (0.5, 0.04)],
        ]
    ],
    9: [
        [(0.62, 0.2), (0.35, 0.0), (0.06, 0.15), (0.12, 0.45), (0.45, 0.45), (0.62, 0.25)],
        [(0.62, 0.05), (0.6, 1.0)],
    ],
}
HANDS: Mapping[str, Hand] = {"continental": CONTINENTAL}


def _rounded(points: Sequence[Point], passes: int = 3) -> np.ndarray:
    """Chaikin corner cutting with the end points kept; a repeated point stays a sharp corner."""
    p = np.asarray(points, dtype=float)
    for _ in range(passes):
        if len(p) < 3:
            break
        q = 0.75 * p[:-1] + 0.25 * p[1:]
        r = 0.25 * p[:-1] + 0.75 * p[1:]
        inner = np.empty((2 * len(q), 2))
        inner[0::2], inner[1::2] = q, r
        p = np.vstack([p[:1], inner[1:-1], p[-1:]])
    return p


def _resample(path: np.ndarray, step: float) -> list[Point]:
    """Points ``step`` px apart along ``path`` (its ends included)."""
    seg = np.hypot(*np.diff(path, axis=0).T)
    dist = np.concatenate([[0.0], np.cumsum(seg)])
    total = float(dist[-1])
    at = np.linspace(0.0, total, max(2, math.ceil(total / step) + 1))
    xs, ys = np.interp(at, dist, path[:, 0]), np.interp(at, dist, path[:, 1])
    return [(float(x), float(y)) for x, y in zip(xs, ys, strict=True)]


def draw_digit(
    digit: int,
    rng: np.random.Generator,
    *,
    hand: Hand = CONTINENTAL,
    height: tuple[float, float] = (110.0, 210.0),
    canvas: int = CANVAS,
) -> Strokes:
    """The strokes of one drawing of ``digit`` in ``hand``, in canvas pixels.

    Parameters
    ----------
    digit
        0-9.
    rng
        The source of the variation (height, width, slant, rotation, jitter, position).
    hand
        Control points per digit (:data:`CONTINENTAL` by default).
    height
        The range of the digit's height in px, drawn uniformly.
    canvas
        The canvas side in px; the digit fits inside it with a margin.
    """
    if digit not in hand:
        msg = f"the hand has no digit {digit!r}; it draws {sorted(hand)}"
        raise ValueError(msg)
    h = float(rng.uniform(*height))
    w = h * float(rng.uniform(0.85, 1.2))
    slant = float(rng.uniform(-0.1, 0.3))  # x shift per unit of height, towards the top
    angle = math.radians(float(rng.uniform(-6.0, 6.0)))
    rot = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    paths = []
    for stroke in hand[digit]:
        ctrl = np.asarray(stroke, dtype=float) + rng.normal(0.0, 0.02, (len(stroke), 2))
        path = _rounded([(float(x), float(y)) for x, y in ctrl])
        x = (path[:, 0] + slant * (1.0 - path[:, 1])) * w
        y = path[:, 1] * h
        paths.append(np.stack([x, y], axis=1) @ rot.T)
    every = np.vstack(paths)
    lo, hi = every.min(axis=0), every.max(axis=0)
    scale = min(1.0, (canvas - 2 * MARGIN) / float((hi - lo).max()))
    size = (hi - lo) * scale
    room = np.maximum(canvas - 2 * MARGIN - size, 0.0)
    corner = MARGIN + rng.uniform(0.0, 1.0, 2) * room
    return [_resample((p - lo) * scale + corner, STEP) for p in paths]


def sample(
    digits: Iterable[int],
    per_digit: int,
    *,
    seed: int,
    hand: str | Hand = "continental",
    height: tuple[float, float] = (110.0, 210.0),
) -> list[tuple[int, Strokes]]:
    """``per_digit`` drawings of each of ``digits``, interleaved: ``[(digit, strokes), ...]``.

    A seed always gives the same drawings; different seeds give new drawings of the same hand.
    """
    chosen = HANDS[hand] if isinstance(hand, str) else hand
    rng = np.random.default_rng(seed)
    wanted = list(digits)
    return [
        (d, draw_digit(d, rng, hand=chosen, height=height))
        for _ in range(per_digit)
        for d in wanted
    ]
