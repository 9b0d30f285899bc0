"""The drawings-by-size benchmark's tracer: MNIST digits become the strokes a pen would draw."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("scipy")
from benchmarks.drawings_by_size import digit_strokes, make_set


def _nine(filled: bool) -> np.ndarray:
    """A 28x28 "9": a round head (hollow or a solid blot of ink) and a tail."""
    y, x = np.mgrid[0:28, 0:28]
    r = np.hypot(y - 9.5, x - 13.5)
    head = r <= 6.0 if filled else (r <= 6.0) & (r >= 3.8)
    tail = (np.abs(x - 18.5) <= 1.1) & (y >= 9) & (y <= 25)
    return np.where(head | tail, 255, 0).astype(np.uint8)


def _covers_centre_ring(strokes: list[list[tuple[float, float]]]) -> bool:
    """Whether the strokes go round the head (points on its left and right, none at its centre)."""
    pts = np.concatenate([np.asarray(s) for s in strokes]) / 4  # back to MNIST px
    near = np.hypot(pts[:, 1] - 9.5, pts[:, 0] - 13.5)
    left = ((near < 6.5) & (pts[:, 0] < 11)).any()
    return bool(left and (near > 1.5).all())


def test_a_solid_loop_is_traced_round_like_a_hollow_one():
    assert _covers_centre_ring(digit_strokes(_nine(filled=False)))
    # Thinned as it is, a blot's skeleton is a short line through its middle (the "9" reads as 7).
    assert _covers_centre_ring(digit_strokes(_nine(filled=True)))


def test_a_thin_digit_is_one_stroke_along_its_ink():
    one = np.zeros((28, 28), np.uint8)
    one[4:24, 13:15] = 255
    strokes = digit_strokes(one)
    assert len(strokes) == 1
    xs = np.asarray(strokes[0])[:, 0] / 4
    assert np.all(np.abs(xs - 13.5) < 1.5)


def test_the_set_is_seeded_and_each_drawing_independent_of_the_others():
    a, labels_a, heights_a = make_set(6, seed=3)
    b, labels_b, _ = make_set(6, seed=3)
    assert a == b and (labels_a == labels_b).all()
    assert np.all((heights_a >= 25) & (heights_a <= 260))
    c, _, _ = make_set(6, seed=4)
    assert a != c
