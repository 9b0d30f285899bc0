from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from mnist_widgets.drawn import drawn_digits
from mnist_widgets.errors import CanvasError, EmptyCanvasError
from mnist_widgets.preprocessing import (
    ink,
    pool_like_article,
    prepare,
    prepare_strokes,
    preprocess,
    preprocess_or_none,
)


@pytest.fixture(scope="module")
def canvases(mnist) -> np.ndarray:
    """200 real test digits re-drawn at varied size, slant, thickness and position on 280x280."""
    (_, _), (x_test, y_test) = mnist
    drawn, _, _ = drawn_digits(x_test, y_test, n=200, seed=1)
    return drawn


def _bbox(x: np.ndarray) -> tuple[int, int]:
    rows = np.flatnonzero(x.any(axis=1))
    cols = np.flatnonzero(x.any(axis=0))
    return rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1


def _one() -> np.ndarray:
    canvas = np.zeros((280, 280), np.uint8)
    canvas[40:240, 130:150] = 255
    canvas[40:60, 100:130] = 180  # a serif, lighter, so the shape is not symmetric
    return canvas


def test_drawn_digits_fit_20px_box_and_centre_of_mass_like_mnist(canvases):
    for canvas in canvases:
        x = preprocess(canvas)
        assert x.shape == (28, 28)
        assert x.dtype == np.float32
        assert x.min() >= 0.0
        assert x.max() == pytest.approx(1.0)
        h, w = _bbox(x)
        assert max(h, w) == 20
        assert min(h, w) <= 20
        com = np.array(ndimage.center_of_mass(x))
        assert np.all(np.abs(com - 14.0) <= 0.5), com


def test_mnist_digits_are_a_near_fixed_point(mnist):
    # MNIST digits already follow the recipe, so preprocessing must leave them nearly unchanged.
    (_, _), (x_test, _) = mnist
    for digit in x_test[:50]:
        x = preprocess(digit)
        assert np.abs(x - digit / 255).mean() < 0.03


def test_rgba_alpha_ink_equals_grayscale(canvases):
    gray = canvases[0]
    rgba = np.zeros((*gray.shape, 4), np.uint8)
    rgba[..., :3] = (20, 120, 200)  # the ink colour does not matter: alpha carries the drawing
    rgba[..., 3] = gray
    np.testing.assert_array_equal(preprocess(rgba), preprocess(gray))


def test_float_bool_and_int_inputs_agree_with_uint8(canvases):
    gray = canvases[1]
    expected = preprocess(gray)
    np.testing.assert_allclose(preprocess(gray / 255.0), expected, atol=1e-5)
    np.testing.assert_allclose(preprocess(gray.astype(np.int64)), expected, atol=1e-6)
    np.testing.assert_allclose(preprocess(gray[:, :, None]), expected, atol=1e-6)
    binary = preprocess(gray > 127)
    assert binary.shape == (28, 28) and binary.max() == pytest.approx(1.0)


def test_dark_ink_on_white_is_inverted(canvases):
    gray = canvases[2]
    np.testing.assert_allclose(preprocess(255 - gray), preprocess(gray), atol=1e-5)


def test_grey_paper_scan_is_inverted_and_background_removed(canvases):
    gray = canvases[3].astype(np.float32) / 255
    scan = 0.8 - 0.7 * gray  # paper at 0.8, ink at 0.1: a dim photo of a pencil digit
    np.testing.assert_allclose(preprocess(scan), preprocess(gray), atol=1e-3)


def test_opaque_rgba_is_read_as_luminance():
    gray = _one()
    rgba = np.full((280, 280, 4), 255, np.uint8)
    rgba[..., :3] = (255 - gray)[..., None]  # black ink on a white, fully opaque image
    np.testing.assert_allclose(preprocess(rgba), preprocess(gray), atol=1e-5)


def test_any_canvas_size():
    small = np.zeros((50, 90), np.uint8)
    small[10:40, 40:45] = 255
    x = preprocess(small)
    assert _bbox(x)[0] == 20


def test_lopsided_shape_is_not_clipped():
    # Nearly all mass in one corner of the box: centring it fully would push ink off the frame.
    canvas = np.zeros((280, 280), np.uint8)
    canvas[20:260, 20:24] = 255
    canvas[20:24, 20:260] = 255
    canvas[20:80, 20:80] = 255
    x = preprocess(canvas)
    assert _bbox(x) == (20, 20)  # all 20 rows and columns of the box are still inside the frame
    com = np.array(ndimage.center_of_mass(x))
    assert np.all(com < 14.0)  # the shift was limited, so the mass stays up and to the left


def test_empty_and_near_empty_canvases():
    with pytest.raises(EmptyCanvasError, match="empty"):
        preprocess(np.zeros((280, 280), np.uint8))
    speck = np.zeros((280, 280), np.uint8)
    speck[100:105, 100:106] = 255  # 30 pixels: below the 40-pixel threshold for 280x280
    with pytest.raises(EmptyCanvasError, match="30 ink pixels"):
        preprocess(speck)
    assert preprocess_or_none(speck) is None
    dot = np.zeros((280, 280), np.uint8)
    dot[100:108, 100:108] = 255  # 64 pixels: a deliberate dot counts as a drawing
    assert preprocess_or_none(dot) is not None
    faint = np.full((280, 280), 20, np.uint8)  # uniform haze below the ink threshold
    assert preprocess_or_none(faint) is None
    assert preprocess_or_none(np.ones((280, 280), np.float32)) is None  # all white paper


@pytest.mark.parametrize(
    ("canvas", "message"),
    [
        (np.zeros(784, np.uint8), r"shape \(784,\)"),
        (np.zeros((28, 28, 2), np.uint8), r"shape \(28, 28, 2\)"),
        (np.zeros((0, 28), np.uint8), "no pixels"),
        (np.full((28, 28), np.nan, np.float32), "NaN"),
        (np.full((28, 28), np.inf), "NaN or infinite"),
        (np.full((28, 28), 2.0), r"\[0, 1\].*uint8"),
        (np.full((28, 28), -0.5), r"\[0, 1\]"),
        (np.full((28, 28), 300, np.int32), "0-255"),
        (np.zeros((28, 28), np.complex64), "unsupported canvas dtype complex64"),
        (np.empty((28, 28), object), "unsupported canvas dtype object"),
    ],
)
def test_bad_canvases_get_clear_errors(canvas, message):
    with pytest.raises(CanvasError, match=message) as info:
        preprocess(canvas)
    assert isinstance(info.value, ValueError)


def test_nested_lists_are_accepted():
    canvas = _one()
    np.testing.assert_array_equal(preprocess(canvas.tolist()), preprocess(canvas))


def test_ink_is_light_on_dark_in_unit_range():
    x = ink(255 - _one())
    assert x.dtype == np.float32
    assert x[0, 0] == 0.0
    assert x[100, 140] == pytest.approx(1.0)


def test_pool_like_article_is_plain_10x10_average():
    canvas = _one()
    pooled = pool_like_article(canvas)
    assert pooled.shape == (28, 28) and pooled.dtype == np.float32
    assert pooled[10, 13] == pytest.approx(canvas[100:110, 130:140].mean() / 255)
    assert pooled[0, 0] == 0.0  # no crop, no centring: the ink stays where it was drawn
    with pytest.raises(CanvasError, match="multiples of 28"):
        pool_like_article(np.zeros((100, 100), np.uint8))


@pytest.mark.parametrize("rgb", [(255, 255, 255), (0, 0, 0), "one"])
def test_fully_transparent_rgba_is_empty_whatever_its_invisible_rgb(rgb):
    rgba = np.zeros((280, 280, 4), np.uint8)
    if rgb == "one":  # a digit painted in the colour channels only: nobody can see it
        rgba[40:240, 130:150, :3] = 255
    else:
        rgba[..., :3] = rgb
    with pytest.raises(EmptyCanvasError, match="the canvas is empty"):
        preprocess(rgba)
    assert preprocess_or_none(rgba) is None


def test_a_constant_non_zero_alpha_is_opaque_and_read_from_rgb():
    rgba = np.zeros((280, 280, 4), np.uint8)
    rgba[40:240, 130:150, :3] = 255
    rgba[..., 3] = 1  # barely opaque, but opaque everywhere: what shows is the RGB
    assert preprocess(rgba).max() == 1.0


# --- stroke width and the not-a-digit rule (issue 16) --------------------------------------------


def _brush(points, width: int = 20, size: int = 280) -> np.ndarray:
    """Points inked like a fixed round brush of ``width`` px (the widget's screen pen)."""
    from PIL import Image, ImageDraw

    img = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(img)
    if len(points) > 1:
        draw.line(points, fill=255, width=width, joint="curve")
    r = width / 2
    for x, y in points:
        draw.ellipse((x - r, y - r, x + r, y + r), fill=255)
    return np.asarray(img)


@pytest.mark.parametrize(
    ("canvas", "reason"),
    [
        (np.zeros((280, 280), np.uint8), "nothing drawn"),
        (_brush([(140, 140)], width=5), "too little ink"),  # a speck: 21 pixels
        (_brush([(140, 140)]), "draw bigger"),  # one click of the 20 px brush
        (_brush([(130, 140), (150, 140)]), "draw bigger"),  # a short dash
        (_brush([(140, 130), (140, 152)]), "draw bigger"),  # a short upright dash
        (_brush([(100, 100), (108, 96), (104, 110), (111, 104)]), "draw bigger"),  # a scribble
        (_brush([(30, 140), (250, 140)], width=12), "draw a digit, not a line"),
    ],
    ids=["blank", "speck", "dot", "dash", "upright-dash", "scribble", "flat-line"],
)
def test_not_a_digit(canvas, reason):
    prepared = prepare(canvas)
    assert prepared.input is None or prepared.input.shape == (28, 28)
    assert prepared.reason == reason


def test_real_digits_are_never_called_not_a_digit(mnist, canvases):
    (_, _), (x_test, _) = mnist
    rejected = [i for i, digit in enumerate(x_test[:2000]) if prepare(digit).reason is not None]
    assert rejected == []
    assert all(prepare(c).reason is None for c in canvases[:200])  # drawn at 75-240 px


def test_a_hairline_is_re_inked_at_mnist_width():
    # A "7" 200 px tall drawn with a 2 px pen: strokes 1 % of its size, where MNIST's are 7-25 %.
    seven = _brush([(60, 40), (220, 40), (120, 240)], width=2)
    thin = preprocess(seven, normalise_strokes=False)
    x = preprocess(seven)
    assert prepare(seven).reason is None
    np.testing.assert_array_equal(prepare(seven).input, x)

    def width(img: np.ndarray) -> float:
        from mnist_widgets.strokes import stroke_width

        return stroke_width(img >= 0.5)

    assert width(thin) < 1.5 and 1.5 <= width(x) <= 3.5, (width(thin), width(x))


def test_ordinary_ink_is_left_as_it_is(mnist):
    (_, _), (x_test, _) = mnist
    same = [
        np.array_equal(preprocess(d), preprocess(d, normalise_strokes=False)) for d in x_test[:500]
    ]
    assert np.mean(same) > 0.95  # MNIST's own strokes: only the extremes are re-inked


def test_prepare_strokes_is_the_same_at_any_size():
    seven = [[(10, 0), (80, 0), (40, 100)]]
    inputs = []
    for height in (25, 60, 250):
        k = height / 100
        strokes = [[(20 + x * k, 15 + y * k) for x, y in s] for s in seven]
        prepared = prepare_strokes(strokes)
        assert prepared.reason is None
        inputs.append(prepared.input)
    assert np.abs(inputs[0] - inputs[2]).mean() < 0.02
    assert np.abs(inputs[1] - inputs[2]).mean() < 0.02


@pytest.mark.parametrize(
    ("strokes", "reason"),
    [
        ([], "nothing drawn"),
        ([[]], "nothing drawn"),
        ([[(5, 5)]], "draw bigger"),
        ([[(5, 5), (20, 9)]], "draw bigger"),
        ([[(5, 5), (205, 12)]], "draw a digit, not a line"),
        ([[(5, 5), (5, 30)]], None),  # a small "1"
    ],
)
def test_prepare_strokes_reasons(strokes, reason):
    assert prepare_strokes(strokes).reason == reason
