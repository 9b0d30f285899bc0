"""Pen-like copies of MNIST digits for training: slant, elastic distortion, re-inked strokes.

A digit drawn in the widget is a pen path inked at a width relative to its size; MNIST digits were
written with real pens of many widths. :func:`pen_redraw` makes MNIST training digits look like the
former: each digit is enlarged 2x, slanted and elastically distorted (Simard et al. 2003), cut at a
random ink level, thinned to its skeleton and re-inked with a round pen of a random width relative
to the digit's size (thin pens to fat felt-tips), then prepared exactly like a drawing
(:func:`mnist_widgets.preprocess`: 20x20 box, centre of mass). NumPy and Pillow only.

``train(recipe="pen")`` trains on the original digits plus :data:`PEN_COPIES` such copies of each,
made once per seed and cached (:func:`pen_copies`).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from .preprocessing import preprocess
from .strokes import ink_skeleton, thin

__all__ = ["PEN_COPIES", "pen_copies", "pen_redraw"]

PEN_COPIES = 2  # pen-drawn copies of every training digit for recipe "pen"
UP = 2  # work at twice MNIST's resolution: skeletons and pen widths at sub-pixel precision
PAD = 4  # MNIST px of room around the 28x28 digit for the slant and the distortion
SLANT = 0.3  # x shift per y, both ways
ELASTIC_SIGMA = 4.0  # MNIST px: smoothness of the displacement field (Simard's 4)
ELASTIC_PX = (0.0, 1.3)  # MNIST px: per-digit RMS displacement, uniform in this range
LEVEL = (0.25, 0.6)  # the ink level the distorted grey digit is cut at before thinning
PEN = (0.035, 0.11)  # pen radius as a fraction of the skeleton's longer side: strokes 7-22 %
_CHUNK = 2000  # digits per NumPy pass (bounds memory at ~100 MB)
_VERSION = 1  # bump when the recipe changes: cached copies of another version are not reused


def pen_redraw(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One pen-like copy of each uint8 digit ``(N, 28, 28)``: uint8 ``(N, 28, 28)``, MNIST-style.

    >>> digits = np.zeros((2, 28, 28), np.uint8)
    >>> digits[:, 6:22, 12:16] = 255  # two "1"s
    >>> out = pen_redraw(digits, np.random.default_rng(0))
    >>> out.shape, out.dtype, bool(out[:, :, :8].any()), bool(out.max() == 255)
    ((2, 28, 28), dtype('uint8'), False, True)
    """
    out = np.empty(images.shape, dtype=np.uint8)
    for start in range(0, len(images), _CHUNK):
        stop = min(start + _CHUNK, len(images))
        out[start:stop] = _redraw_chunk(images[start:stop], rng)
    return out


def pen_copies(
    images: np.ndarray,
    *,
    copies: int = PEN_COPIES,
    seed: int | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
) -> np.ndarray:
    """``copies`` pen-like versions of every digit: uint8 ``(copies, N, 28, 28)``, seeded.

    With ``cache_dir`` and a ``seed``, the result is kept there (``pen-v{version}-...npy``, keyed
    by the seed, the count and a digest of the images) and re-read by the next run.
    """
    path = None
    if cache_dir is not None and seed is not None:
        digest = _digest(images)
        path = Path(cache_dir) / f"pen-v{_VERSION}-seed{seed}-x{copies}-{digest}.npy"
        if path.is_file():
            cached: np.ndarray = np.load(path)
            if cached.shape == (copies, *images.shape) and cached.dtype == np.uint8:
                return cached
    rng = np.random.default_rng(seed)
    result = np.stack([pen_redraw(images, rng) for _ in range(copies)])
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        with tmp.open("wb") as f:
            np.save(f, result)
        tmp.replace(path)
    return result


def _digest(images: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(images).tobytes()).hexdigest()[:12]


def _redraw_chunk(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    n = len(images)
    grey = _warp(images.astype(np.float32) / 255, rng)
    level = rng.uniform(*LEVEL, size=(n, 1, 1)).astype(np.float32)
    skeleton = thin(grey >= level)
    radius = rng.uniform(*PEN, size=n) * _longer_side(skeleton)
    ink = ink_skeleton(skeleton, np.maximum(radius, 0.75))
    out = np.zeros((n, 28, 28), dtype=np.uint8)
    for i in range(n):
        if ink[i].max() > 0:  # a digit the cut left without ink stays as it was
            out[i] = np.rint(preprocess(ink[i]) * 255)
        else:
            out[i] = images[i]
    return out


def _longer_side(mask: np.ndarray) -> np.ndarray:
    """Per image of (N, H, W): the longer side of the mask's bounding box (0 when empty)."""
    rows, cols = np.asarray(mask.any(axis=2)), np.asarray(mask.any(axis=1))

    def extent(a: np.ndarray) -> np.ndarray:
        first = np.argmax(a, axis=1)
        last = a.shape[1] - 1 - np.argmax(a[:, ::-1], axis=1)
        return np.asarray(np.where(a.any(axis=1), last - first + 1, 0))

    longer: np.ndarray = np.maximum(extent(rows), extent(cols)).astype(np.float32)
    return longer


def _smooth_noise(n: int, size: int, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """(n, size, size) Gaussian-smoothed noise scaled to unit RMS per image."""
    t = np.arange(size, dtype=np.float32)
    g = np.exp(-0.5 * ((t[:, None] - t[None, :]) / sigma) ** 2)
    g /= g.sum(axis=1, keepdims=True)
    field = g @ rng.uniform(-1, 1, size=(n, size, size)).astype(np.float32) @ g.T
    rms = np.sqrt((field**2).mean(axis=(1, 2), keepdims=True)) + 1e-6
    return np.asarray(field / rms, dtype=np.float32)


def _warp(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Slant and elastically distort (N, 28, 28) grey digits onto (N, S, S), S = UP * 36."""
    n = len(x)
    size = UP * (28 + 2 * PAD)
    slant = rng.uniform(-SLANT, SLANT, size=(n, 1, 1)).astype(np.float32)
    amount = rng.uniform(*ELASTIC_PX, size=(n, 1, 1)).astype(np.float32)
    dy = _smooth_noise(n, size, UP * ELASTIC_SIGMA, rng) * amount
    dx = _smooth_noise(n, size, UP * ELASTIC_SIGMA, rng) * amount
    grid = (np.arange(size, dtype=np.float32) + 0.5) / UP - 0.5 - PAD  # output px -> MNIST px
    ys = grid[None, :, None] + dy
    xs = grid[None, None, :] + dx + slant * (grid[None, :, None] - 13.5)
    return _bilinear(x, ys, xs)


def _bilinear(x: np.ndarray, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """Sample (N, 28, 28) at float coordinates (N, S, S), zero outside."""
    n, h, w = x.shape
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1)))  # one zero pixel around: edges fade to 0
    y = np.clip(ys + 1, 0, h + 0.999)
    xx = np.clip(xs + 1, 0, w + 0.999)
    y0, x0 = np.floor(y).astype(np.intp), np.floor(xx).astype(np.intp)
    fy, fx = y - y0, xx - x0
    y1, x1 = np.minimum(y0 + 1, h + 1), np.minimum(x0 + 1, w + 1)
    flat = padded.reshape(n, -1)
    stride = w + 2

    def at(yi: np.ndarray, xi: np.ndarray) -> np.ndarray:
        lin = (yi * stride + xi).reshape(n, -1)
        return np.take_along_axis(flat, lin, axis=1).reshape(yi.shape)

    top = at(y0, x0) * (1 - fx) + at(y0, x1) * fx
    bottom = at(y1, x0) * (1 - fx) + at(y1, x1) * fx
    return np.asarray(top * (1 - fy) + bottom * fy, dtype=np.float32)
