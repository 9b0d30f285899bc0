"""Strokes of ink: thinning to a skeleton, stroke width, re-inking at another width (NumPy only).

MNIST's strokes are about 2-3 px wide in its 20x20 box: roughly a tenth of the digit's longer side.
A drawing inked with a much fatter (or thinner) pen reads worse, so the predictor measures the
stroke width of an image and, where it is far from MNIST's, thins the ink to its one-pixel skeleton
and re-inks that at MNIST's width. Training uses the same two steps to re-ink MNIST digits at varied
widths (``mnist_widgets.augment``).

Everything works on one image ``(H, W)`` or a batch ``(N, H, W)`` and runs in Pyodide (no SciPy).
"""

from __future__ import annotations

import numpy as np

__all__ = ["ink_skeleton", "stroke_width", "thickness", "thin"]

# Zhang-Suen thinning as two lookup tables over the 8-neighbourhood code: bit i is neighbour
# P(i+2) in the order N, NE, E, SE, S, SW, W, NW (P2..P9 in the paper).
_OFFSETS = ((-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1))


def _tables() -> tuple[np.ndarray, np.ndarray]:
    codes = np.arange(256)
    bits = (codes[:, None] >> np.arange(8)) & 1  # (256, 8): P2..P9
    count = bits.sum(axis=1)
    transitions = ((bits == 0) & (np.roll(bits, -1, axis=1) == 1)).sum(axis=1)
    p2, p4, p6, p8 = bits[:, 0], bits[:, 2], bits[:, 4], bits[:, 6]
    base = (count >= 2) & (count <= 6) & (transitions == 1)
    first = base & (p2 * p4 * p6 == 0) & (p4 * p6 * p8 == 0)
    second = base & (p2 * p4 * p8 == 0) & (p2 * p6 * p8 == 0)
    # The same two rules indexed by the whole 3x3 window (bit 3 (dy + 1) + dx + 1, the centre is
    # bit 4), true only where the centre is ink: one lookup says "ink, and removed now".
    window = np.arange(512)
    code = np.zeros(512, dtype=np.intp)
    for bit, (dy, dx) in enumerate(_OFFSETS):
        code |= ((window >> (3 * (dy + 1) + dx + 1)) & 1) << bit
    centre = ((window >> 4) & 1).astype(bool)
    return first[code] & centre, second[code] & centre


_FIRST, _SECOND = _tables()


def _windows(padded: np.ndarray) -> np.ndarray:
    """The 3x3 window code of the inner pixels of a (N, H + 2, W + 2) uint16 0/1 mask with a 0
    border: each row's three pixels first, then three rows (9 array operations, not 24)."""
    rows = padded[:, :, :-2] | (padded[:, :, 1:-1] << 1) | (padded[:, :, 2:] << 2)
    windows: np.ndarray = rows[:, :-2] | (rows[:, 1:-1] << 3) | (rows[:, 2:] << 6)
    return windows


def thin(mask: np.ndarray, max_iterations: int = 100) -> np.ndarray:
    """The one-pixel skeleton of a bool mask ``(H, W)`` or ``(N, H, W)`` (Zhang-Suen thinning).

    >>> bar = np.zeros((9, 7), bool)
    >>> bar[1:8, 2:5] = True  # a bar 3 px wide
    >>> thin(bar).astype(int)[:, 3].tolist()  # the ends lose about half the width
    [0, 0, 1, 1, 1, 1, 0, 0, 0]
    >>> int(thin(bar).sum())
    4
    """
    single = mask.ndim == 2
    batch = mask[None] if single else mask
    shape = (batch.shape[0], batch.shape[1] + 2, batch.shape[2] + 2)
    padded = np.zeros(shape, dtype=np.uint16)  # 0/1, wide enough for a window's 9 bits
    skel = padded[:, 1:-1, 1:-1]  # a view: thinning works in place, the border stays 0
    skel[...] = batch
    for _ in range(max_iterations):
        changed = False
        for table in (_FIRST, _SECOND):
            remove = table.take(_windows(padded))  # (take: twice as fast as table[...])
            if remove.any():
                skel[remove] = 0
                changed = True
        if not changed:
            break
    return skel[0].astype(bool) if single else skel.astype(bool)  # a copy, free of the buffer


def ink_skeleton(skeleton: np.ndarray, radius: float | np.ndarray) -> np.ndarray:
    """Re-ink a skeleton with a round pen: float32 ink in [0, 1], anti-aliased over one pixel.

    ``radius`` is the pen's half-width in pixels: one number, or one per image of a batch
    ``(N, H, W)``. A pixel's ink is ``clip(radius + 0.5 - d, 0, 1)``, with ``d`` its distance to
    the nearest skeleton pixel.

    >>> dot = np.zeros((7, 7), bool)
    >>> dot[3, 3] = True
    >>> ink = ink_skeleton(dot, 1.5)
    >>> float(ink[3, 3]), float(ink[3, 5]), float(ink[3, 6])
    (1.0, 0.0, 0.0)
    >>> float(ink[3, 4])  # one pixel away: fully inside a pen of radius 1.5
    1.0
    """
    single = skeleton.ndim == 2
    skel = skeleton[None] if single else skeleton
    n, h, w = skel.shape
    r = np.broadcast_to(np.asarray(radius, dtype=np.float32), (n,))
    reach = int(np.ceil(float(r.max()) + 0.5))
    padded = np.pad(skel, ((0, 0), (reach, reach), (reach, reach)))
    span = np.arange(-reach, reach + 1)
    dist = np.hypot(span[:, None], span[None, :])  # (2 reach + 1) ** 2 offsets
    levels = np.clip(r[:, None, None] + 0.5 - dist[None], 0.0, 1.0)  # (n, offsets...)
    full = np.zeros((n, h, w), dtype=bool)  # pixels some offset inks completely
    ink = np.zeros((n, h, w), dtype=np.float32)
    for iy, dy in enumerate(span):
        for ix, dx in enumerate(span):
            level = levels[:, iy, ix]
            if not level.any():
                continue
            hit = padded[:, reach + dy : reach + dy + h, reach + dx : reach + dx + w]
            if (level == 1.0).all():
                full |= hit
            else:
                np.maximum(ink, hit * level[:, None, None].astype(np.float32), out=ink)
    ink[full] = 1.0
    return ink[0] if single else ink


def stroke_width(mask: np.ndarray, skeleton: np.ndarray | None = None) -> float:
    """Estimate the mean stroke width (px) of a bool ink mask ``(H, W)`` from its area and skeleton.

    A stroke of width ``w`` and length ``L`` covers about ``w * L`` pixels, and thinning leaves a
    skeleton of about ``L - w`` pixels (each end loses half the width), so ``w`` solves
    ``w * (skeleton + w) = area``. A dot of diameter ``d`` gives about ``0.9 d``. 0.0 for no ink.
    Pass ``skeleton`` (``thin(mask)``) when it is already known.

    >>> bar = np.zeros((40, 20), bool)
    >>> bar[5:35, 8:12] = True  # 4 px wide
    >>> round(stroke_width(bar), 1)
    4.0
    """
    area = int(np.count_nonzero(mask))
    if area == 0:
        return 0.0
    length = int(np.count_nonzero(thin(mask) if skeleton is None else skeleton))
    return float(-length + np.sqrt(length * length + 4.0 * area)) / 2.0


def thickness(mask: np.ndarray) -> float:
    """The diameter (px) of the largest disc that fits in a bool ink mask ``(H, W)``; 0.0 if empty.

    A pen line's thickness is its width, whatever its length; a dot's is its whole size. Exact
    Euclidean distances from every ink pixel to the nearest background pixel (outside the mask
    counts as background): meant for small masks (tens of pixels a side).

    >>> disc = np.hypot(*np.mgrid[-10:11, -10:11]) <= 10
    >>> round(thickness(disc))  # 21 px across
    20
    >>> bar = np.zeros((30, 30), bool)
    >>> bar[5:25, 10:14] = True
    >>> thickness(bar)
    4.0
    """
    if not mask.any():
        return 0.0
    h, w = mask.shape
    padded = np.zeros((h + 4, w + 4), dtype=bool)  # a ring of background around the ink, and
    padded[2:-2, 2:-2] = mask  # room to dilate it (np.pad is ten times slower at this size)
    ink = padded[1:-1, 1:-1]
    # background pixels next to ink: the only candidates for the nearest background pixel
    # (a 3x3 dilation, rows then columns, minus the ink)
    rows = padded[:, :-2] | padded[:, 1:-1] | padded[:, 2:]
    near = rows[:-2] | rows[1:-1] | rows[2:]
    # squared distances in whole numbers (exact), int16 while they fit: twice as fast as int64
    dtype = np.int16 if max(h, w) < 120 else np.int64
    edge_y, edge_x = (a.astype(dtype)[:, None] for a in np.nonzero(near & ~ink))
    ink_y, ink_x = (a.astype(dtype) for a in np.nonzero(ink))
    best = 0
    for start in range(0, len(ink_y), 1024):  # (edges, <= 1024 ink pixels) at a time
        d2 = edge_y - ink_y[start : start + 1024]
        d2 *= d2
        dx = edge_x - ink_x[start : start + 1024]
        dx *= dx
        d2 += dx
        best = max(best, int(d2.min(axis=0).max()))
    return 2.0 * float(np.sqrt(best))  # (a bar w px wide: its middle is w / 2 from background)
