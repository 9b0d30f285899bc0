"""Turn a drawing into the 28x28 image an MNIST model expects (NumPy, Pillow; no TensorFlow).

MNIST digits were made by fitting the ink into a 20x20 box (aspect ratio kept, anti-aliased) and
moving the box inside 28x28 so that its centre of mass sits at pixel (14, 14) (row, column; the real
test set averages 13.99, 14.00 with a spread of +-0.29, i.e. a whole-pixel shift). A model trained
on MNIST is accurate on drawings prepared the same way, whatever their size or position.

Accepted canvases
-----------------
- grayscale ink ``(H, W)`` or ``(H, W, 1)``: ``uint8`` (0-255), other integer types in 0-255,
  ``bool``, or floats in [0, 1];
- RGBA ``(H, W, 4)`` as a browser canvas gives it: the ink is the **alpha** channel when alpha
  varies; a fully transparent canvas (alpha 0 everywhere) is empty, whatever its invisible RGB
  holds; an image of one constant, non-zero alpha (opaque) is read from its RGB luminance;
- RGB ``(H, W, 3)``: luminance.

Conventions (documented decisions)
----------------------------------
- **Inversion.** MNIST is light ink on a dark background. A luminance image whose border is mostly
  bright (median border value > 0.5, e.g. a scan of dark ink on paper) is inverted. Alpha ink is
  never inverted: alpha *is* the ink.
- **Background.** The median border value is subtracted (a grey scan background becomes 0) and the
  ink is rescaled so its brightest pixel is 1, like MNIST's.
- **Empty canvas.** A pixel is ink when its value is at least ``INK_THRESHOLD`` (0.1). A canvas
  with fewer than ``max(MIN_INK_PIXELS, EMPTY_INK_FRACTION * H * W)`` ink pixels (on 280x280: 40
  pixels, a dot about 7 px across) is empty: :func:`preprocess` raises
  :class:`~mnist_widgets.errors.EmptyCanvasError` and :func:`preprocess_or_none` returns ``None``.
- **Centring.** The shift is a whole number of pixels, as in MNIST, so the centre of mass ends
  within half a pixel of (14, 14) on each axis and the ink keeps its 20-pixel long side. For
  extremely lopsided shapes the shift is limited so no ink leaves the 28x28 frame.
- **Stroke width.** MNIST's strokes are 7-25 % of the ink's longer side (1st-99th percentile;
  median 12 %). :func:`preprocess` measures the ink's stroke width
  (:func:`~mnist_widgets.strokes.stroke_width`, on the ink scaled to a 64 px longer side) and,
  when it is outside ``STROKE_RANGE`` (5-45 %: a hairline, or ink so fat it is nearly a blob),
  thins the ink to its skeleton and re-inks it at ``STROKE_TARGET`` (12 %); ink of any width MNIST
  has is left exactly as it was. Thick strokes up to 45 % read better as they are than re-inked
  (the drawn-digit benchmark's thickest: 3 more errors of 10,000 when re-inked from 33 %); fatter
  ink on a small drawing is mostly a blob, which the not-a-digit rule below refuses.

Strokes
-------
:func:`prepare_strokes` makes the model input from pen paths instead of pixels (the widget): it
inks the points with a round pen ``PEN_FRACTION`` (0.12) times the drawing's longer side wide,
whatever pen the screen shows, so a digit drawn 30 px tall reads like one drawn 250 px tall.

Not a digit
-----------
:func:`prepare` and :func:`prepare_strokes` say why a drawing is not classified, in ``reason``
(one of the ``REASON_*`` phrases, short enough for the widget to show):

- ``"nothing drawn"``: no ink at all (no stroke, or no pixel at ``INK_THRESHOLD``);
- ``"too little ink"``: fewer ink pixels than the empty-canvas rule above needs;
- ``"draw bigger"``: a dot, a short dash or a tiny scribble. Strokes: the points span less than
  ``MIN_DRAWING_PX`` (20 px, 7 % of the widget's canvas) both ways. Pixels: the ink's
  *elongation*, its longer side over its thickness (the largest disc inside it,
  :func:`~mnist_widgets.strokes.thickness`), is under ``MIN_ELONGATION`` (1.6: a dot or a blob,
  at any size), or under ``DASH_ELONGATION`` (2.2: a dash, or a small digit inked with a pen
  nearly as wide as the digit) while its longer side is under ``SMALL_INK`` (a quarter) of the
  canvas's. A dot is about 1, a dash twice as long as the pen is wide 2; MNIST digits are 2-8
  (0.1 % under 2.3) and fill most of their canvas;
- ``"draw a digit, not a line"``: a flat horizontal line, less than ``FLAT`` (0.2) times as tall as
  it is wide (no digit is; a vertical line is a "1").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .errors import CanvasError, EmptyCanvasError
from .strokes import ink_skeleton, stroke_width, thickness, thin

__all__ = [
    "EMPTY_INK_FRACTION",
    "INK_THRESHOLD",
    "MAX_CANVAS_PIXELS",
    "MIN_INK_PIXELS",
    "PEN_FRACTION",
    "REASON_EMPTY",
    "REASON_FLAT",
    "REASON_LITTLE_INK",
    "REASON_TOO_SMALL",
    "Prepared",
    "ink",
    "pool_like_article",
    "prepare",
    "prepare_strokes",
    "preprocess",
    "preprocess_or_none",
]

SIZE = 28  # output side
BOX = 20  # MNIST fits the ink's longer side into 20 pixels
CENTRE = 14.0  # target centre of mass (row, column), as measured on MNIST
INK_THRESHOLD = 0.1  # a pixel at or above this value counts as ink
EMPTY_INK_FRACTION = 0.0005  # fewer ink pixels than this share of the canvas: empty
MIN_INK_PIXELS = 2  # ... and never fewer than this many (tiny canvases)
#: The largest canvas accepted, as for image files (``images.MAX_IMAGE_PIXELS``): the steps make
#: a few full-size temporaries, ~70 MB at this size, and 40000x40000 would take gigabytes.
MAX_CANVAS_PIXELS = 4096 * 4096
_INK_U8 = int(np.ceil(INK_THRESHOLD * 255))  # the same threshold on 0-255 data
STROKE_RANGE = (0.05, 0.45)  # stroke width / ink's longer side left as it is (MNIST: 0.07-0.25)
STROKE_TARGET = 0.12  # ... and re-inked at this ratio when outside (MNIST's median)
_WORK = 64  # px: the longer side the ink is measured (and re-inked) at
PEN_FRACTION = 0.12  # strokes: pen width / the drawing's longer side (pen path)
MIN_DRAWING_PX = 20.0  # strokes: a drawing spanning less than this both ways is too small
MIN_ELONGATION = 1.6  # pixels: ink whose longer side is under 1.6 thicknesses is a blob (a dot)
DASH_ELONGATION = 2.2  # ... and under 2.2, a dash, when it is also small on the canvas:
SMALL_INK = 0.25  # its longer side under a quarter of the canvas's
_BLOB_SIDE = 32  # px: the longer side the ink's thickness is measured at
FLAT = 0.2  # height / width under this is a horizontal line, not a digit
_STROKE_SIDE = 120  # px: strokes are inked with their longer side this long, then fitted
REASON_EMPTY = "nothing drawn"
REASON_LITTLE_INK = "too little ink"
REASON_TOO_SMALL = "draw bigger"
REASON_FLAT = "draw a digit, not a line"

Point = tuple[float, float]


@dataclass(frozen=True)
class Prepared:
    """A drawing made ready for the model, or the reason it is not a digit.

    Attributes
    ----------
    input : numpy.ndarray or None
        float32 ``(28, 28)``: what the model sees (also for a drawing that is not a digit, when
        there is ink to show); ``None`` when there is no ink at all.
    reason : str or None
        ``None`` for a digit to classify; else why not: one of the ``REASON_*`` phrases.
    """

    input: np.ndarray | None
    reason: str | None = None


_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R 601, as Pillow's "L"


def preprocess(canvas: np.ndarray, *, normalise_strokes: bool = True) -> np.ndarray:
    """Crop, scale and centre a drawing the way MNIST digits were made.

    Parameters
    ----------
    canvas : numpy.ndarray
        Grayscale ``(H, W)`` / ``(H, W, 1)``, RGB ``(H, W, 3)`` or RGBA ``(H, W, 4)``, any size;
        see the module docstring for accepted dtypes and value ranges.
    normalise_strokes : bool
        Re-ink strokes much thicker or thinner than MNIST's at MNIST's width (module docstring);
        ``False`` keeps the ink as it is.

    Returns
    -------
    numpy.ndarray
        float32 ``(28, 28)`` in [0, 1]: light ink on black, ink fitted in 20x20, centred by mass.

    Raises
    ------
    EmptyCanvasError
        The canvas has (almost) no ink.
    CanvasError
        Wrong type, shape or dtype; NaN or inf; values out of range.

    Examples
    --------
    >>> canvas = np.zeros((280, 280), np.uint8)
    >>> canvas[40:240, 130:150] = 255  # a "1"
    >>> x = preprocess(canvas)
    >>> x.shape, x.dtype, float(x.max())
    ((28, 28), dtype('float32'), 1.0)

    A browser canvas is RGBA: the alpha channel is the ink, and a transparent one is empty.

    >>> rgba = np.zeros((280, 280, 4), np.uint8)
    >>> rgba[..., :3] = 255  # white paint nobody can see: alpha is 0 everywhere
    >>> preprocess(rgba)
    Traceback (most recent call last):
    ...
    mnist_widgets.errors.EmptyCanvasError: the canvas is empty: 0 ink pixels ...
    >>> rgba[..., 3] = canvas  # now the "1" is visible
    >>> bool(np.array_equal(preprocess(rgba), x))
    True
    """
    crop = _crop_to_ink(canvas)
    if normalise_strokes:
        crop = _normalise_width(crop, _measure(crop))
    return _centre_by_mass(_fit_box(crop))


def prepare(canvas: np.ndarray) -> Prepared:
    """:func:`preprocess` plus the not-a-digit rule of the module docstring.

    >>> dot = np.zeros((280, 280), np.uint8)
    >>> dot[130:150, 130:150] = 255  # one click of a 20 px brush
    >>> prepare(dot).reason
    'draw bigger'
    >>> one = np.zeros((280, 280), np.uint8)
    >>> one[40:240, 132:150] = 255
    >>> prepare(one).reason is None
    True
    """
    crop, count, _ = _find_ink(canvas)
    if crop is None:
        return Prepared(None, REASON_LITTLE_INK if count else REASON_EMPTY)
    h, w = crop.shape
    small = _resize(crop, _BLOB_SIDE)
    elongation = _BLOB_SIDE / max(thickness(small >= 0.5 * float(small.max())), 1e-6)
    canvas_side = max(np.shape(canvas)[:2])
    reason = None
    if elongation < MIN_ELONGATION or (
        elongation < DASH_ELONGATION and max(h, w) < SMALL_INK * canvas_side
    ):
        reason = REASON_TOO_SMALL
    elif h < FLAT * w:
        reason = REASON_FLAT
    return Prepared(_centre_by_mass(_fit_box(_normalise_width(crop, _measure(crop)))), reason)


def prepare_strokes(
    strokes: Sequence[Sequence[Sequence[float]]], *, pen: float = PEN_FRACTION
) -> Prepared:
    """The model input for a drawing given as pen paths, inked at a width relative to its size.

    ``strokes`` are lists of ``(x, y)`` points (any unit; the widget's canvas pixels). The pen
    is ``pen`` times the longer side of the points' bounding box, so strokes keep MNIST's
    thickness at any drawing size; the image is then cropped, fitted and centred like
    :func:`preprocess`. The not-a-digit rule (module docstring) uses the points' extent.

    >>> small_one = [[(140, 100), (141, 130)]]  # a "1" 30 px tall
    >>> x = prepare_strokes(small_one).input
    >>> x.shape, int((x[14] > 0.5).sum())  # a stroke 2-3 px wide, as in MNIST
    ((28, 28), 2)
    >>> prepare_strokes([[(140, 140)]]).reason  # a click
    'draw bigger'
    >>> prepare_strokes([]).reason
    'nothing drawn'
    """
    arrays = [np.asarray(s, dtype=np.float64).reshape(-1, 2) for s in strokes]
    points = np.concatenate(arrays) if arrays else np.zeros((0, 2))
    if len(points) == 0:
        return Prepared(None, REASON_EMPTY)
    lo, hi = points.min(axis=0), points.max(axis=0)
    width, height = (float(v) for v in hi - lo)
    extent = max(width, height)
    reason = None
    if extent < MIN_DRAWING_PX:
        reason = REASON_TOO_SMALL
    elif height < FLAT * width:
        reason = REASON_FLAT
    scale = _STROKE_SIDE / max(extent, MIN_DRAWING_PX)  # a dot is drawn as small as it is
    from PIL import Image, ImageDraw  # deferred: Pillow only when there is something to ink

    pen_px = max(1, round(pen * _STROKE_SIDE))
    margin = pen_px
    side = _STROKE_SIDE + 2 * margin + 1
    img = Image.new("L", (side, side), 0)
    draw = ImageDraw.Draw(img)
    offset = margin + (_STROKE_SIDE - np.array([width, height]) * scale) / 2 - lo * scale
    r = pen_px / 2
    for arr in arrays:
        if len(arr) == 0:
            continue
        xy = [(float(x), float(y)) for x, y in arr * scale + offset]
        if len(xy) > 1:
            draw.line(xy, fill=255, width=pen_px, joint="curve")
        for x, y in xy:
            draw.ellipse((x - r, y - r, x + r, y + r), fill=255)
    return Prepared(preprocess(np.asarray(img), normalise_strokes=False), reason)


def preprocess_or_none(canvas: np.ndarray) -> np.ndarray | None:
    """Like :func:`preprocess`, but return ``None`` for an empty canvas (other errors raise).

    >>> preprocess_or_none(np.zeros((280, 280), np.uint8)) is None
    True
    """
    try:
        return preprocess(canvas)
    except EmptyCanvasError:
        return None


def ink(canvas: np.ndarray) -> np.ndarray:
    """Return the canvas as float32 ink ``(H, W)`` in [0, 1] (light on dark), before cropping.

    Applies the channel choice, inversion and background rules of the module docstring.

    >>> paper = np.full((3, 3), 255, np.uint8)  # dark ink on white paper is inverted
    >>> paper[1, 1] = 0
    >>> ink(paper)
    array([[0., 0., 0.],
           [0., 1., 0.],
           [0., 0., 0.]], dtype=float32)
    """
    return _float_ink(*_as_gray(canvas))


def pool_like_article(canvas: np.ndarray) -> np.ndarray:
    """The article's baseline: average-pool the whole canvas down to 28x28, no crop, no centring.

    Kept for comparison (``benchmarks/drawn_digits.py``, the drawing notebook). Canvas sides must
    be multiples of 28 (the article's canvas is 280x280: 10x10 pooling).

    >>> canvas = np.zeros((280, 280), np.uint8)
    >>> canvas[:10, :10] = 255  # one 10x10 block is one output pixel
    >>> pooled = pool_like_article(canvas)
    >>> pooled.shape, float(pooled[0, 0]), float(pooled[0, 1])
    ((28, 28), 1.0, 0.0)
    """
    x = ink(canvas)
    h, w = x.shape
    if h % SIZE or w % SIZE:
        msg = f"pool_like_article needs sides that are multiples of 28 (e.g. 280x280), got {h}x{w}"
        raise CanvasError(msg)
    pooled: np.ndarray = x.reshape(SIZE, h // SIZE, SIZE, w // SIZE).mean(
        axis=(1, 3), dtype=np.float32
    )
    return pooled


# --- steps -------------------------------------------------------------------------------------


def _as_gray(canvas: object) -> tuple[np.ndarray, bool]:
    """Validate and reduce to one channel: (uint8 or float32 array, whether it is alpha ink)."""
    if not isinstance(canvas, np.ndarray):
        try:
            canvas = np.asarray(canvas)
        except Exception as exc:
            msg = f"expected a NumPy array (H, W) or (H, W, 4), got {type(canvas).__name__}"
            raise CanvasError(msg) from exc
    a = canvas
    if a.ndim == 3 and a.shape[2] in (1, 3, 4):
        channels = a.shape[2]
    elif a.ndim == 2:
        channels = 1
    else:
        msg = (
            f"expected a canvas of shape (H, W) grayscale, (H, W, 3) RGB or (H, W, 4) RGBA, "
            f"got shape {a.shape}"
        )
        raise CanvasError(msg)
    if a.shape[0] == 0 or a.shape[1] == 0:
        msg = f"the canvas has no pixels (shape {a.shape})"
        raise CanvasError(msg)
    if a.shape[0] * a.shape[1] > MAX_CANVAS_PIXELS:  # before any full-size temporary is made
        msg = (
            f"the canvas is {a.shape[1]}x{a.shape[0]} pixels ({a.shape[0] * a.shape[1]:,}); at "
            f"most {MAX_CANVAS_PIXELS:,} are read, like image files: scale it down (a digit needs "
            "no more than a few hundred pixels a side)"
        )
        raise CanvasError(msg)
    a = _check_values(a)
    if channels == 1:
        return (a if a.ndim == 2 else a[:, :, 0]), False
    if channels == 4:
        alpha = a[:, :, 3]
        # A drawing on a transparent canvas: alpha is the ink. Alpha 0 everywhere shows nothing,
        # so it is an empty canvas too (its RGB is invisible and must not be read as ink).
        if alpha.min() != alpha.max() or not alpha.any():
            return alpha, True
    rgb = a[:, :, :3].astype(np.float32)
    gray = rgb @ _LUMA
    return (gray if a.dtype != np.uint8 else np.rint(gray).astype(np.uint8)), False


def _check_values(a: np.ndarray) -> np.ndarray:
    """Return uint8 (0-255) or float32 (0-1) data; reject everything else with a clear message."""
    if a.dtype == np.uint8:
        return a
    if a.dtype == np.bool_:
        inked: np.ndarray = a.astype(np.uint8) * np.uint8(255)
        return inked
    if np.issubdtype(a.dtype, np.integer):
        lo, hi = int(a.min()), int(a.max())
        if lo < 0 or hi > 255:
            msg = f"integer canvases must hold 0-255, got values from {lo} to {hi} ({a.dtype})"
            raise CanvasError(msg)
        return a.astype(np.uint8)
    if np.issubdtype(a.dtype, np.floating):
        a = a.astype(np.float32, copy=False)
        if not np.isfinite(a).all():
            msg = "the canvas contains NaN or infinite values; expected floats in [0, 1]"
            raise CanvasError(msg)
        low, high = float(a.min()), float(a.max())
        if low < 0 or high > 1:
            msg = (
                f"float canvases must hold values in [0, 1], got {low:g} to {high:g}; "
                "for 0-255 data pass uint8 (or divide by 255)"
            )
            raise CanvasError(msg)
        return a
    msg = f"unsupported canvas dtype {a.dtype}; expected uint8, another integer type, bool or float"
    raise CanvasError(msg)


def _border(a: np.ndarray) -> np.ndarray:
    return np.concatenate([a[0], a[-1], a[1:-1, 0], a[1:-1, -1]])


def _float_ink(gray: np.ndarray, is_alpha: bool) -> np.ndarray:
    """:func:`_normalise` of a gray canvas, scaling uint8 to [0, 1] first."""
    return _normalise(gray.astype(np.float32) / 255 if gray.dtype == np.uint8 else gray, is_alpha)


def _normalise(x: np.ndarray, is_alpha: bool) -> np.ndarray:
    """Float ink in [0, 1]: invert paper scans, remove the background level (module docstring)."""
    if not is_alpha:
        bg = float(np.median(_border(x)))
        if bg > 0.5:
            x = 1.0 - x
            bg = 1.0 - bg
        if bg > 0:
            x = np.clip((x - bg) / (1.0 - bg), 0.0, 1.0)
    return x.astype(np.float32, copy=False)


def _crop_to_ink(canvas: np.ndarray) -> np.ndarray:
    """Validate, find the ink and return the float32 crop of its bounding box."""
    crop, count, needed = _find_ink(canvas)
    if crop is None:
        h, w = np.shape(canvas)[:2]
        msg = (
            f"the canvas is empty: {count} ink pixels (values >= {INK_THRESHOLD}) on {h}x{w}, "
            f"need at least {needed}; draw a digit first"
        )
        raise EmptyCanvasError(msg)
    return crop


def _find_ink(canvas: np.ndarray) -> tuple[np.ndarray | None, int, int]:
    """Validate; return the float32 crop of the ink's bounding box (None: too little ink), the
    ink pixel count and the count needed."""
    gray, is_alpha = _as_gray(canvas)
    h, w = gray.shape
    # Fast path (the widget's case): uint8 ink on a clean black background needs no float pass over
    # the whole canvas; only the crop is converted.
    if gray.dtype == np.uint8 and (is_alpha or not _border(gray).any()):
        mask = gray >= _INK_U8
        data, scale = gray, np.float32(1 / 255)
    else:
        data = _float_ink(gray, is_alpha)
        mask, scale = data >= INK_THRESHOLD, None
    needed = int(np.ceil(max(MIN_INK_PIXELS, EMPTY_INK_FRACTION * h * w)))
    count = int(np.count_nonzero(mask))
    if count < needed:
        return None, count, needed
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    crop = data[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    return (crop * scale if scale is not None else crop), count, needed


def _resize(crop: np.ndarray, side: int) -> np.ndarray:
    """Scale float ink so its longer side is ``side`` px (aspect kept; BOX down, BILINEAR up)."""
    from PIL import Image  # deferred: a preprocessed 28x28 input needs no Pillow (start-up)

    h, w = crop.shape
    scale = side / max(h, w)
    new_h, new_w = max(1, round(h * scale)), max(1, round(w * scale))
    resample = Image.Resampling.BOX if scale < 1 else Image.Resampling.BILINEAR
    img = Image.fromarray(np.ascontiguousarray(crop, dtype=np.float32), mode="F")
    return np.asarray(img.resize((new_w, new_h), resample), dtype=np.float32)


def _measure(crop: np.ndarray) -> tuple[np.ndarray, float]:
    """The ink's skeleton at a ``_WORK`` px longer side, and its stroke width there (px)."""
    work = _resize(crop, _WORK)
    mask = work >= 0.5 * float(work.max())
    skeleton = thin(mask)
    return skeleton, stroke_width(mask, skeleton)


def _normalise_width(crop: np.ndarray, measured: tuple[np.ndarray, float]) -> np.ndarray:
    """``crop`` as it is if its stroke width is inside ``STROKE_RANGE``; else its skeleton
    re-inked at ``STROKE_TARGET`` (at ``_WORK`` px)."""
    skeleton, width = measured
    ratio = width / _WORK
    if STROKE_RANGE[0] <= ratio <= STROKE_RANGE[1] or not skeleton.any():
        return crop
    inked = ink_skeleton(np.pad(skeleton, _WORK // 8), STROKE_TARGET * _WORK / 2)
    rows = np.flatnonzero(inked.any(axis=1))
    cols = np.flatnonzero(inked.any(axis=0))
    return inked[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def _fit_box(crop: np.ndarray) -> np.ndarray:
    """Scale so the longer side is 20 px, keeping the aspect ratio, with anti-aliasing.

    Shrinking uses Pillow's BOX filter (area averaging: true anti-aliasing with no negative lobes,
    so the edge rows keep their ink and the long side stays exactly 20); enlarging uses BILINEAR.
    """
    patch = _resize(crop, BOX)
    peak = float(patch.max())
    if peak <= 0:  # cannot happen after the ink check, but never divide by zero
        return patch
    return np.clip(patch * (1.0 / peak), 0.0, 1.0)


def _centre_by_mass(patch: np.ndarray) -> np.ndarray:
    """Paste into 28x28 with a whole-pixel shift putting the centre of mass nearest (14, 14)."""
    h, w = patch.shape
    total = float(patch.sum())
    com_r = float(patch.sum(axis=1) @ np.arange(h, dtype=np.float32)) / total
    com_c = float(patch.sum(axis=0) @ np.arange(w, dtype=np.float32)) / total
    # np.floor(x + 0.5) rounds halves up consistently (Python's round() would go to even)
    top = int(np.clip(np.floor(CENTRE - com_r + 0.5), 0, SIZE - h))
    left = int(np.clip(np.floor(CENTRE - com_c + 0.5), 0, SIZE - w))
    out = np.zeros((SIZE, SIZE), dtype=np.float32)
    out[top : top + h, left : left + w] = patch
    return out
