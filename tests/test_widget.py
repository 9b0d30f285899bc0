"""DigitCanvas driven as a browser drives it: ipycanvas event messages through the canvas's comm."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from mnist_widgets.errors import CanvasError
from mnist_widgets.predictor import Predictor
from mnist_widgets.widget import THROTTLE, DigitCanvas


@pytest.fixture(scope="module")
def predictor(seed_model_dir) -> Predictor:
    from mnist_widgets.keras_io import load_layers_model

    return Predictor(load_layers_model(seed_model_dir))


class FakeClock:
    """Time that moves only when a test says so (the widget's throttle reads it)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def widget(predictor, clock) -> DigitCanvas:
    return DigitCanvas(predictor, clock=clock)


def _send(widget: DigitCanvas, event: str, **content) -> None:
    """Deliver a frontend event the way the browser does: a custom message on the canvas's comm."""
    message = {"content": {"data": {"method": "custom", "content": {"event": event, **content}}}}
    widget.canvas.comm.handle_msg({**message, "buffers": []})


def _mouse(widget: DigitCanvas, event: str, x: float, y: float) -> None:
    _send(widget, f"mouse_{event}", x=x, y=y)


def _touch(widget: DigitCanvas, event: str, touches) -> None:
    _send(widget, f"touch_{event}", touches=[{"x": x, "y": y} for x, y in touches])


def _find(widget, css_class: str):
    """The descendant widget carrying ``css_class`` (the hooks the browser tests use too)."""
    if css_class in getattr(widget, "_dom_classes", ()):
        return widget
    for child in getattr(widget, "children", ()):
        found = _find(child, css_class)
        if found is not None:
            return found
    return None


def _shown(widget: DigitCanvas) -> str:
    """The text of the element carrying the digit (what a browser shows in it)."""
    return re.sub(r"<[^>]+>", "", _find(widget, "mnist-widgets-prediction").value)


ONE = [(140.0, 40.0), (142.0, 140.0), (144.0, 240.0)]


def _oval(cx: float = 140, cy: float = 140, rx: float = 60, ry: float = 95, n: int = 40):
    return [(cx + rx * math.sin(t), cy - ry * math.cos(t)) for t in np.linspace(0, 2 * math.pi, n)]


def _drag(widget: DigitCanvas, points, *, end: str = "up") -> None:
    _mouse(widget, "down", *points[0])
    for p in points[1:]:
        _mouse(widget, "move", *p)
    if end in ("up", "out"):
        _mouse(widget, end, *points[-1])


def test_css_classes_and_canvas_size(widget):
    assert "mnist-widgets-canvas" in widget.canvas._dom_classes
    assert _find(widget, "mnist-widgets-prediction") is not None
    assert (widget.canvas.width, widget.canvas.height) == (280, 280)
    assert widget.canvas.layout.width == "280px"
    assert widget.prediction is None and _shown(widget) == ""


def test_draw_stroke_predicts_and_updates_the_display(widget):
    seen = []
    widget.observe(lambda change: seen.append(change["new"]), names="prediction")
    prediction = widget.draw_stroke(ONE)
    assert prediction is widget.prediction
    assert prediction.digit == 1
    assert seen[-1] is prediction
    assert _shown(widget) == "1"
    assert widget.strokes == (tuple(ONE),)
    image = widget.image
    assert image.dtype == np.uint8 and image.shape == (280, 280)
    assert image[140, 142] == 255 and image[140, 100] == 0 and image[5, 5] == 0
    np.testing.assert_array_equal(prediction.input, widget.model_input)


def test_mouse_drawing_a_zero(widget):
    _drag(widget, _oval())
    assert len(widget.strokes) == 1 and len(widget.strokes[0]) >= 30
    assert widget.prediction.digit == 0
    assert _shown(widget) == "0"


def test_undo_and_clear(widget):
    widget.draw_stroke(ONE)
    _drag(widget, _oval(cx=200))
    assert len(widget.strokes) == 2
    widget.undo()
    assert widget.strokes == (tuple(ONE),)
    assert widget.prediction.digit == 1
    widget.undo()
    assert widget.strokes == () and widget.prediction is None and _shown(widget) == ""
    assert not widget.image.any()
    widget.undo()  # nothing left: nothing changes
    assert widget.strokes == () and widget.prediction is None and not widget.image.any()
    widget.draw_stroke(ONE)
    widget.clear()
    assert widget.strokes == () and widget.prediction is None
    assert not widget.image.any()


def test_undo_removes_a_stroke_still_being_drawn(widget):
    widget.draw_stroke(ONE)
    before = widget.image.copy()
    _mouse(widget, "down", 50, 50)
    _mouse(widget, "move", 60, 90)
    assert widget.image[70, 55] == 255  # the open stroke is part of the image
    widget.undo()
    assert widget.strokes == (tuple(ONE),)
    np.testing.assert_array_equal(widget.image, before)
    _mouse(widget, "up", 60, 120)  # the undone stroke stays gone
    assert widget.strokes == (tuple(ONE),)


def test_image_is_a_snapshot(widget):
    widget.draw_stroke(ONE)
    image = widget.image
    before = image.copy()
    widget.draw_stroke(_oval(cx=200))
    np.testing.assert_array_equal(image, before)
    assert not np.array_equal(widget.image, before)


def test_release_outside_the_canvas_does_not_leave_a_stuck_stroke(widget):
    _drag(widget, [(140, 40), (141, 120), (142, 200), (150, 279)], end="out")
    assert len(widget.strokes) == 1
    before = widget.image.copy()
    _mouse(widget, "move", 100, 100)  # hovering back in with the button up draws nothing
    _mouse(widget, "move", 60, 200)
    np.testing.assert_array_equal(widget.image, before)
    assert len(widget.strokes) == 1
    assert widget.prediction.digit == 1


def test_mouse_out_point_is_clamped_to_the_canvas(widget):
    _drag(widget, [(140, 40), (140, 200)], end="out")
    _mouse(widget, "down", 200, 100)
    _mouse(widget, "move", 260, 100)
    _mouse(widget, "out", 330, 100)
    assert widget.strokes[-1][-1] == (280.0, 100.0)


def test_press_outside_then_moving_in_draws_nothing(widget):
    _mouse(widget, "move", 10, 10)
    _mouse(widget, "move", 100, 100)
    _mouse(widget, "up", 120, 120)
    assert widget.strokes == () and widget.prediction is None


def test_missed_release_is_closed_by_the_next_press(widget):
    _mouse(widget, "down", 140, 40)
    _mouse(widget, "move", 140, 240)  # the release happened outside the page: never reported
    _mouse(widget, "down", 60, 60)
    assert widget.strokes == (((140.0, 40.0), (140.0, 240.0)),)
    assert widget.image[60, 60] == 255  # the new stroke is open
    _mouse(widget, "up", 60, 60)
    assert widget.strokes[-1] == ((60.0, 60.0),) and len(widget.strokes) == 2


def test_touch_draws_like_the_mouse(widget):
    points = _oval()
    _touch(widget, "start", [points[0]])
    for p in points[1:]:
        _touch(widget, "move", [p, (0.0, 0.0)])  # a second finger is ignored
    _touch(widget, "end", [])
    assert len(widget.strokes) == 1 and widget.prediction.digit == 0
    assert (0.0, 0.0) not in widget.strokes[0]
    _touch(widget, "start", [(30, 30)])
    _touch(widget, "cancel", [])  # the system took the touch over: the stroke ends there
    assert len(widget.strokes) == 2


def test_predictions_during_a_stroke_are_throttled(widget, clock):
    seen = []
    widget.observe(lambda change: seen.append(change["new"]), names="prediction")
    _mouse(widget, "down", 140, 40)
    assert len(seen) == 1  # the press predicts at once
    for y in range(42, 140, 2):  # 49 moves within one throttle period: no prediction
        _mouse(widget, "move", 140, y)
        clock.now += THROTTLE / 100
    assert len(seen) == 1
    clock.now += THROTTLE  # the period is over: the next move predicts, the one after does not
    clock.now += 1e-6  # (floating-point sums of THROTTLE / 100 fall a hair short)
    _mouse(widget, "move", 140, 160)
    _mouse(widget, "move", 140, 180)
    assert len(seen) == 2
    clock.now += THROTTLE * 0.99
    _mouse(widget, "move", 140, 190)
    assert len(seen) == 2  # just short of the period: held back
    clock.now += THROTTLE * 0.02
    _mouse(widget, "move", 140, 200)
    assert len(seen) == 3
    _mouse(widget, "up", 140, 240)
    assert len(seen) == 4  # the end of a stroke always predicts, throttle or not
    assert seen[-1].digit == 1


@pytest.mark.parametrize("end", ["up", "out"])
def test_ending_a_stroke_at_a_new_point_predicts_once(widget, clock, end):
    # The last point must not also fire a throttled prediction, even when the throttle has expired.
    seen = []
    widget.observe(lambda change: seen.append(change["new"]), names="prediction")
    _mouse(widget, "down", 140, 40)
    _mouse(widget, "move", 140, 140)
    before = len(seen)
    clock.now += 10 * THROTTLE  # the user paused longer than THROTTLE
    _mouse(widget, end, 140, 240)
    assert len(seen) == before + 1
    assert widget.strokes == (((140.0, 40.0), (140.0, 140.0), (140.0, 240.0)),)


def test_strokes_are_read_only(widget):
    widget.draw_stroke(ONE)
    with pytest.raises(AttributeError):
        widget.strokes = ()  # type: ignore[misc]
    strokes = widget.strokes
    with pytest.raises(TypeError):
        strokes[0][0] = (0, 0)  # type: ignore[index]


def test_a_single_point_stroke_is_a_dot(widget):
    widget.draw_stroke([(140, 140)])
    assert widget.image[140, 140] == 255 and widget.image[140, 151] == 0
    assert widget.prediction is not None


@pytest.mark.parametrize(
    ("points", "message"),
    [
        ([], "non-empty"),
        ([(1, 2, 3)], r"shape \(1, 3\)"),
        ([(1, float("nan"))], "finite"),
        ("abc", "sequence of"),
    ],
)
def test_bad_strokes_are_rejected(widget, points, message):
    with pytest.raises(CanvasError, match=message):
        widget.draw_stroke(points)
    assert widget.strokes == ()


def test_callbacks_are_wrapped_to_show_output_in_the_widget(widget):
    # ipycanvas calls these wrappers; each runs inside the widget's Output area.
    handlers = widget.canvas._mouse_down_callbacks.callbacks
    assert handlers and all(getattr(h, "__wrapped__", None) for h in handlers)
    assert widget.output in widget.children


# --- the model sees the drawing, not the ink (issue 16) ------------------------------------------


def _status(widget: DigitCanvas) -> str:
    """The text under the digit: "97.1% sure", or why there is no digit."""
    return re.sub(r"<[^>]+>", "", _find(widget, "mnist-widgets-status").value)


@pytest.mark.parametrize(
    "strokes",
    [
        [[(140, 140)]],  # a click
        [[(130, 140), (142, 141)]],  # a short dash
        [[(140, 130), (140, 145)]],  # a short upright dash
        [[(100, 100), (108, 96), (104, 110), (111, 104), (103, 99)]],  # a tiny scribble
        [[(100, 100)], [(110, 108)], [(104, 112)]],  # three clicks close together
    ],
    ids=["click", "dash", "upright-dash", "scribble", "clicks"],
)
def test_a_dot_or_a_dash_is_not_a_digit(widget, strokes):
    for stroke in strokes:
        prediction = widget.draw_stroke(stroke)
    assert prediction.digit is None and prediction.reason == "draw bigger"
    assert not prediction.probabilities.any() and prediction.top() == []
    assert _shown(widget) == "" and _status(widget) == "draw bigger"
    assert prediction.input.any()  # the preview still shows what was drawn
    widget.draw_stroke([(140, 40), (142, 240)])  # now a tall stroke: a digit again
    assert widget.prediction.digit == 1 and _status(widget).endswith("sure")


def test_a_long_flat_line_is_not_a_digit(widget):
    prediction = widget.draw_stroke([(40, 140), (240, 146)])
    assert prediction.digit is None and prediction.reason == "draw a digit, not a line"
    assert _status(widget) == "draw a digit, not a line"


def _design(name: str, height: float, x0: float = 40.0, y0: float = 50.0):
    """Strokes of a digit ``height`` px tall with its top left corner at (x0, y0)."""
    shapes = {
        "2": [[(10, 20), (40, 0), (70, 15), (60, 50), (5, 100), (80, 100)]],
        "4": [[(60, 0), (0, 70), (90, 70)], [(65, 30), (65, 100)]],
        "7": [[(10, 0), (80, 0), (40, 100)]],
        "1": [[(50, 0), (50, 100)]],
    }
    k = height / 100
    return [[(x0 + x * k, y0 + y * k) for x, y in stroke] for stroke in shapes[name]]


@pytest.mark.parametrize("name", ["2", "4", "7", "1"])
@pytest.mark.parametrize("height", [25, 35, 50])
def test_small_drawings_are_read_like_large_ones(widget, name, height):
    # With the 20 px brush on the 28x28 input these were blobs, read as 8 or 0.
    for stroke in _design(name, height):
        widget.draw_stroke(stroke)
    small = widget.prediction
    assert small.digit == int(name), small
    np.testing.assert_array_equal(small.input, widget.model_input)
    widget.clear()
    for stroke in _design(name, height * 6):
        widget.draw_stroke(stroke)
    # the same strokes, drawn 6x larger elsewhere: nearly the same model input
    assert np.abs(widget.model_input - small.input).mean() < 0.02


def test_model_input_has_mnist_stroke_width_at_any_size(widget):
    for height in (25, 60, 240):
        widget.clear()
        widget.draw_stroke([(140, 20), (140, 20 + height)])
        x = widget.model_input
        assert x.shape == (28, 28) and x.dtype == np.float32
        row = x[14]  # across the middle of the "1": MNIST's strokes are 2-3 px wide
        assert 2 <= int((row > 0.5).sum()) <= 3, (height, row)
        assert int((row > 0).sum()) <= 5


def test_the_screen_keeps_the_users_pen(widget):
    widget.draw_stroke([(140, 100), (140, 130)])  # 30 px tall
    image = widget.image
    assert image[115, 140 - 9] == 255 and image[115, 140 + 9] == 255  # a 20 px wide pen
    assert image[115, 140 - 12] == 0
    # ... while the model sees a thin stroke: about a tenth of the 20 px box
    assert int((widget.model_input[14] > 0.5).sum()) <= 3


def test_model_input_before_drawing_and_during_a_stroke(widget):
    assert not widget.model_input.any()
    _mouse(widget, "down", 140, 40)
    _mouse(widget, "move", 140, 240)  # throttled: no prediction, yet the open stroke counts
    during = widget.model_input
    assert during.any() and not np.array_equal(during, widget.prediction.input)
    _mouse(widget, "up", 140, 240)
    np.testing.assert_array_equal(widget.prediction.input, during)


def test_a_saved_notebook_shows_the_drawing_and_prediction_as_an_image(widget):
    # Static renderers (GitHub, nbviewer) show image/png; JupyterLab the live widget view.
    import io

    from PIL import Image

    empty = widget._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in empty
    assert empty["text/plain"].startswith("DigitCanvas (empty")
    widget.draw_stroke(_oval())
    bundle = widget._repr_mimebundle_()
    assert (
        bundle["text/plain"]
        == f"DigitCanvas (predicted {widget.prediction.digit}; run the notebook to draw)"
    )
    shown = np.asarray(Image.open(io.BytesIO(bundle["image/png"])).convert("L"))
    assert shown.shape == (140, 140 + 20 + 230)
    drawing = shown[:, :140]
    assert (drawing < 100).mean() > 0.02  # the oval's ink is there, dark on paper
    empty_png = np.asarray(Image.open(io.BytesIO(empty["image/png"])).convert("L"))
    assert (empty_png[:, :140] < 100).mean() < 0.05  # only the frame
    assert not np.array_equal(shown[:, 160:], empty_png[:, 160:])  # the bars moved
