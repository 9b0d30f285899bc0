"""Real MNIST digits re-drawn onto a 280x280 canvas, the way a user would draw them in the widget.

A seeded, reproducible stand-in for hand-drawn input: notebook 04 compares preprocessing recipes on
it, and the predictor tests and ``benchmarks/drawn_digits.py`` measure the same set.
Each digit is slanted, scaled (its long side 0.5x-1.6x of a 150 px "natural" size: 75-240 px),
placed at a random position, and turned into a pen stroke of random thickness: the bilinearly
enlarged grey digit is cut at a random level (a low level gives thick strokes, a high one thin) with
a soft anti-aliased edge, like a brush on a browser canvas.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

CANVAS = 280
NATURAL = 150.0  # long side in px of a digit drawn at scale 1.0 on the 280 px canvas
MARGIN = 4  # keep this many px free around the digit


@dataclass(frozen=True)
class DrawStyle:
    """How one digit is re-drawn: slant (x shift per y), scale, centre (x, y) and stroke level."""

    slant: float
    scale: float
    centre: tuple[float, float]
    level: float


def redraw(digit: np.ndarray, style: DrawStyle, canvas_size: int = CANVAS) -> np.ndarray:
    """Draw one 28x28 MNIST digit (uint8) onto a ``canvas_size`` square uint8 canvas."""
    x = digit.astype(np.float32) / 255
    cy, cx, _, _, k = _fit(x, style.slant, style.scale, canvas_size)
    tx, ty = style.centre
    # Pillow's AFFINE maps each output pixel (X, Y) back to the input: p = S^-1 (P - T) / k + c,
    # with S = [[1, slant], [0, 1]] the forward shear.
    a, b = 1 / k, -style.slant / k
    c = cx - a * tx - b * ty
    d, e = 0.0, 1 / k
    f = cy - e * ty
    img = Image.fromarray(x, mode="F").transform(
        (canvas_size, canvas_size),
        Image.Transform.AFFINE,
        (a, b, c, d, e, f),
        resample=Image.Resampling.BICUBIC,  # smoother stroke edges than bilinear
    )
    grey = np.asarray(img, dtype=np.float32)
    ink = np.clip((grey - style.level) / 0.12 + 0.5, 0.0, 1.0)
    pixels: np.ndarray = np.rint(ink * 255).astype(np.uint8)  # (numpy's ufuncs return Any)
    return pixels


def _fit(
    digit: np.ndarray, slant: float, scale: float, canvas_size: int
) -> tuple[float, float, int, int, float]:
    """The ink's bounding box centre (cy, cx) and size (h, w), and the zoom k that fits it.

    k makes the long side ``NATURAL * scale`` px, reduced so the slanted digit plus margins fits.
    """
    rows = np.flatnonzero(digit.any(axis=1))
    cols = np.flatnonzero(digit.any(axis=0))
    cy = (rows[0] + rows[-1] + 1) / 2
    cx = (cols[0] + cols[-1] + 1) / 2
    h, w = rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1
    k = NATURAL * scale / max(h, w)
    k = min(
        k,
        (canvas_size - 2 * MARGIN) / (h + 1),
        (canvas_size - 2 * MARGIN) / (w + abs(slant) * h + 1),
    )
    return cy, cx, h, w, k


def random_style(
    digit: np.ndarray, rng: np.random.Generator, canvas_size: int = CANVAS
) -> DrawStyle:
    """A random slant (+-0.35), scale (0.5-1.6), stroke level (0.15-0.6) and a fitting position."""
    slant = float(rng.uniform(-0.35, 0.35))
    scale = float(rng.uniform(0.5, 1.6))
    level = float(rng.uniform(0.15, 0.6))
    _, _, h, w, k = _fit(digit, slant, scale, canvas_size)
    half_w = k * (w + abs(slant) * h) / 2 + MARGIN
    half_h = k * h / 2 + MARGIN
    tx = _place(half_w, canvas_size, rng)
    ty = _place(half_h, canvas_size, rng)
    return DrawStyle(slant=slant, scale=scale, centre=(tx, ty), level=level)


def _place(half: float, canvas_size: int, rng: np.random.Generator) -> float:
    """A random centre keeping ``half`` clear of both edges; the middle if the digit is wider."""
    if half < canvas_size / 2:
        return float(rng.uniform(half, canvas_size - half))
    return canvas_size / 2


def drawn_digits(
    images: np.ndarray, labels: np.ndarray, n: int = 1000, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, list[DrawStyle]]:
    """Re-draw the first ``n`` digits of ``images`` (N, 28, 28) uint8 onto 280x280 canvases.

    Returns ``(canvases (n, 280, 280) uint8, labels (n,), styles)``; a seed always gives one set.

    Examples
    --------
    >>> digit = np.zeros((1, 28, 28), dtype=np.uint8)
    >>> digit[0, 6:22, 12:16] = 255  # a "1"
    >>> canvases, labels, styles = drawn_digits(digit, np.array([1]), n=1, seed=0)
    >>> canvases.shape, canvases.dtype, int(labels[0])
    ((1, 280, 280), dtype('uint8'), 1)
    >>> bool(canvases.max() == 255), bool(canvases[0, :4].any())  # inked, with a clear margin
    (True, False)
    """
    rng = np.random.default_rng(seed)
    n = min(n, len(images))
    canvases = np.empty((n, CANVAS, CANVAS), dtype=np.uint8)
    styles = []
    for i in range(n):
        style = random_style(images[i], rng)
        canvases[i] = redraw(images[i], style)
        styles.append(style)
    return canvases, np.asarray(labels[:n]), styles
