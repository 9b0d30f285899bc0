"""The correction buttons, clicked as the browser clicks them: drawings kept with their digit."""

from __future__ import annotations

import numpy as np
import pytest

from mnist_widgets import handwriting
from mnist_widgets.errors import CanvasError
from mnist_widgets.predictor import Predictor
from mnist_widgets.widget import DigitCanvas


@pytest.fixture(scope="module")
def predictor() -> Predictor:
    return Predictor(backend="numpy")


def _click(button) -> None:
    """A click as the frontend sends it: a custom message on the button's comm."""
    button._handle_button_msg(None, {"event": "click"}, [])


def _buttons(canvas: DigitCanvas) -> dict[str, object]:
    bar = canvas.corrections
    assert bar is not None
    return {b.description: b for b in (bar._yes, *bar._digits, bar._undo)}


def _draw(canvas: DigitCanvas, digit: int, seed: int) -> None:
    for stroke in handwriting.draw_digit(digit, np.random.default_rng(seed)):
        canvas.draw_stroke(stroke)


def test_a_wrong_reading_is_corrected_in_one_click_and_undone(predictor):
    canvas = DigitCanvas(predictor, teach=True)
    buttons = _buttons(canvas)
    assert all(b.disabled for b in buttons.values())  # nothing drawn, nothing kept
    _draw(canvas, 1, seed=3)
    assert canvas.prediction.digit == 7  # the flagged 1
    strokes, seen = canvas.strokes, canvas.prediction.input
    assert not buttons["1"].disabled and _buttons(canvas)["Yes, 7"]
    _click(buttons["1"])
    (kept,) = canvas.examples
    assert (kept.label, kept.predicted, kept.corrected) == (1, 7, True)
    assert kept.strokes == strokes and np.array_equal(kept.input, seen)
    assert canvas.strokes == () and canvas.prediction is None  # ready for the next drawing
    assert "1 kept (1 corrected)" in canvas.corrections._status.value
    _click(buttons["Undo"])
    assert len(canvas.examples) == 0 and canvas.strokes == strokes  # the drawing is back
    assert canvas.prediction.digit == 7


def test_a_right_reading_is_confirmed(predictor):
    canvas = DigitCanvas(predictor, teach=True)
    _draw(canvas, 7, seed=1)
    assert canvas.prediction.digit == 7
    _click(_buttons(canvas)["Yes, 7"])
    (kept,) = canvas.examples
    assert (kept.label, kept.predicted, kept.corrected) == (7, 7, False)


def test_the_python_api_refuses_an_empty_canvas(predictor):
    canvas = DigitCanvas(predictor, teach=True)
    with pytest.raises(CanvasError, match="nothing is drawn"):
        canvas.corrections.correct(3)
    with pytest.raises(CanvasError):
        canvas.corrections.confirm()
    assert canvas.corrections.undo() is None
    _draw(canvas, 4, seed=0)
    with pytest.raises(CanvasError, match="digit 0-9"):
        canvas.corrections.correct(11)
    assert len(canvas.examples) == 0 and canvas.strokes  # nothing lost


def test_without_teach_there_are_no_buttons_but_examples_exist(predictor):
    canvas = DigitCanvas(predictor)
    assert canvas.corrections is None and len(canvas.examples) == 0
