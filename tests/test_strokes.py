"""Stroke geometry (thinning, widths, re-inking) and the pen-drawn training copies built on it."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from mnist_widgets.augment import pen_copies, pen_redraw
from mnist_widgets.strokes import ink_skeleton, stroke_width, thickness, thin


def _line(points, width: int, size: int = 96) -> np.ndarray:
    img = Image.new("L", (size, size), 0)
    ImageDraw.Draw(img).line(points, fill=255, width=width, joint="curve")
    return np.asarray(img) > 127


@pytest.mark.parametrize("width", [4, 6, 10])
def test_stroke_width_and_thickness_of_lines(width):
    for points in ([(20, 10), (20, 85)], [(10, 10), (80, 80)], [(10, 80), (45, 15), (85, 80)]):
        mask = _line(points, width)
        # estimates: Pillow's slanted lines and joints are a little wider than ``width``
        assert stroke_width(mask) == pytest.approx(width, rel=0.4), points
        assert 0.9 * width <= thickness(mask) <= 1.5 * width, points


def test_thin_keeps_a_connected_one_pixel_line():
    mask = _line([(10, 10), (50, 60), (85, 20)], 9)
    skeleton = thin(mask)
    assert skeleton.sum() < mask.sum() / 6
    assert (skeleton & ~mask).sum() == 0  # inside the ink
    # one pixel wide: no 2x2 block of skeleton pixels
    blocks = skeleton[:-1, :-1] & skeleton[1:, :-1] & skeleton[:-1, 1:] & skeleton[1:, 1:]
    assert not blocks.any()
    # thinning a batch is thinning each image
    both = thin(np.stack([mask, mask.T]))
    np.testing.assert_array_equal(both[0], skeleton)
    np.testing.assert_array_equal(both[1], thin(mask.T))


def _zhang_suen(mask: np.ndarray) -> np.ndarray:
    """Zhang and Suen (1984) as the paper states it, pixel by pixel: the reference."""
    img = np.pad(mask.astype(int), 1)
    while True:
        changed = False
        for step in (0, 1):
            remove = []
            for y in range(1, img.shape[0] - 1):
                for x in range(1, img.shape[1] - 1):
                    if not img[y, x]:
                        continue
                    p = [img[y - 1, x], img[y - 1, x + 1], img[y, x + 1], img[y + 1, x + 1]]
                    p += [img[y + 1, x], img[y + 1, x - 1], img[y, x - 1], img[y - 1, x - 1]]
                    p2, p4, p6, p8 = p[0], p[2], p[4], p[6]
                    a = sum(p[i] == 0 and p[(i + 1) % 8] == 1 for i in range(8))
                    if not (2 <= sum(p) <= 6 and a == 1):
                        continue
                    if step == 0 and p2 * p4 * p6 == 0 and p4 * p6 * p8 == 0:
                        remove.append((y, x))
                    if step == 1 and p2 * p4 * p8 == 0 and p2 * p6 * p8 == 0:
                        remove.append((y, x))
            for y, x in remove:
                img[y, x] = 0
            changed |= bool(remove)
        if not changed:
            return img[1:-1, 1:-1].astype(bool)


def _thickness(mask: np.ndarray) -> float:
    """Twice the largest distance from an ink pixel to the nearest background pixel (outside
    the mask counts as background), by brute force: the reference."""
    padded = np.pad(mask, 1)
    ink, background = np.argwhere(padded), np.argwhere(~padded)
    d2 = ((ink[:, None, :] - background[None, :, :]) ** 2).sum(axis=2).min(axis=1)
    return 2.0 * float(np.sqrt(d2.max()))


def test_thin_and_thickness_match_their_definitions():
    """The vectorised versions give exactly what the plain definitions give, on random blobs
    (holes, spurs, diagonals: every neighbourhood occurs) and on lines of several widths."""
    rng = np.random.default_rng(0)
    masks = [rng.random((rng.integers(2, 24), rng.integers(2, 24))) < 0.7 for _ in range(40)]
    masks += [_line([(8, 8), (30, 40), (40, 10)], w, size=48) for w in (1, 3, 7, 12)]
    for mask in masks:
        assert np.array_equal(thin(mask), _zhang_suen(mask))
        assert thickness(mask) == _thickness(mask) if mask.any() else thickness(mask) == 0.0
    batch = np.stack(masks[-4:])
    assert np.array_equal(thin(batch), np.stack([_zhang_suen(m) for m in batch]))


def test_re_inking_a_skeleton_sets_the_stroke_width():
    skeleton = thin(_line([(20, 10), (20, 85)], 12))
    for radius in (1.0, 2.5, 4.0):
        ink = ink_skeleton(skeleton, radius)
        assert ink.dtype == np.float32 and ink.min() >= 0 and ink.max() == 1
        assert stroke_width(ink >= 0.5) == pytest.approx(2 * radius + 1, abs=1.0)
    batch = ink_skeleton(np.stack([skeleton, skeleton]), np.array([1.0, 4.0]))
    np.testing.assert_array_equal(batch[0], ink_skeleton(skeleton, 1.0))
    np.testing.assert_array_equal(batch[1], ink_skeleton(skeleton, 4.0))


def test_pen_copies_are_seeded_digits_of_varied_width(mnist, tmp_path):
    (x_train, _), _ = mnist
    digits = x_train[:300]
    a = pen_redraw(digits, np.random.default_rng(4))
    b = pen_redraw(digits, np.random.default_rng(4))
    np.testing.assert_array_equal(a, b)
    assert a.shape == digits.shape and a.dtype == np.uint8
    assert not np.array_equal(a, pen_redraw(digits, np.random.default_rng(5)))
    # MNIST-style: the ink fitted in 20x20, full strength
    assert (a.any(axis=1).sum(axis=1) <= 20).all() and (a.any(axis=2).sum(axis=1) <= 20).all()
    assert (a.max(axis=(1, 2)) == 255).all()
    widths = np.array([stroke_width(d >= 128) for d in a])
    assert np.percentile(widths, 10) < 2.2 and np.percentile(widths, 90) > 3.2  # thin and fat
    cached = pen_copies(digits[:50], copies=2, seed=9, cache_dir=tmp_path)
    assert cached.shape == (2, 50, 28, 28) and len(list(tmp_path.iterdir())) == 1
    np.testing.assert_array_equal(
        pen_copies(digits[:50], copies=2, seed=9, cache_dir=tmp_path), cached
    )
