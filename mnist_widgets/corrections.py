"""``CorrectionBar``: say which digit a drawing is, in one click, and keep it to teach the model.

Below a :class:`~mnist_widgets.DigitCanvas`: a **Yes, it is 7** button for a right prediction, a
row of ten digit buttons for a wrong one, and **Undo** for the last of either. Each click keeps the
drawing (its strokes, the model's 28x28 input, the right digit and what the model said) in
:attr:`CorrectionBar.examples` (a :class:`~mnist_widgets.DrawingSet`) and clears the canvas for
the next one; Undo takes it back out and puts its strokes back on the canvas.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from .drawings import Drawing, DrawingSet
from .errors import CanvasError

if TYPE_CHECKING:  # pragma: no cover
    from .widget import DigitCanvas

__all__ = ["CorrectionBar"]

_DIGIT_W = "34px"


class CorrectionBar(widgets.VBox):
    """Buttons that label the canvas's drawing and keep it in :attr:`examples`.

    Parameters
    ----------
    canvas
        The :class:`~mnist_widgets.DigitCanvas` whose drawings are labelled.
    examples
        Where the drawings go (default: a new, empty :class:`~mnist_widgets.DrawingSet`).

    Examples
    --------
    >>> bar = CorrectionBar(canvas)  # doctest: +SKIP
    >>> canvas.draw_stroke([(80, 120), (150, 40), (150, 240)]).digit  # doctest: +SKIP
    7
    >>> bar.correct(1)  # it is a 1  # doctest: +SKIP
    Drawing(label=1, predicted=7, 1 strokes)
    """

    def __init__(self, canvas: DigitCanvas, examples: DrawingSet | None = None) -> None:
        self.canvas = canvas
        self.examples = examples if examples is not None else DrawingSet()
        self._yes = widgets.Button(
            description="Yes", icon="check", layout=widgets.Layout(width="110px")
        )
        self._yes.on_click(self._guard(lambda _: self.confirm()))
        self._digits = []
        for digit in range(10):
            button = widgets.Button(
                description=str(digit),
                tooltip=f"it is a {digit}",
                layout=widgets.Layout(width=_DIGIT_W, padding="0"),
            )
            button.on_click(self._guard(functools.partial(self._on_digit, digit)))
            self._digits.append(button)
        self._undo = widgets.Button(
            description="Undo", icon="undo", tooltip="take back the last drawing kept",
            layout=widgets.Layout(width="90px"),
        )  # fmt: skip
        self._undo.on_click(self._guard(lambda _: self.undo()))
        self._status = widgets.HTML()
        question = widgets.HBox(
            [
                widgets.HTML("<b>Right?</b>", layout=widgets.Layout(width="52px")),
                self._yes,
                widgets.HTML("or it is:", layout=widgets.Layout(margin="0 4px 0 12px")),
                *self._digits,
                self._undo,
            ],
            layout=widgets.Layout(align_items="center", flex_flow="row wrap"),
        )
        super().__init__([question, self._status])
        self.add_class("mnist-widgets-corrections")
        canvas.observe(self._guard(self._refresh), names="prediction")
        self._refresh()

    # --- programmatic API (what the buttons do) ----------------------------------------------

    def correct(self, digit: int) -> Drawing:
        """Keep the canvas's drawing as ``digit`` and clear the canvas for the next one.

        Raises
        ------
        CanvasError
            Nothing is drawn, the drawing is not a digit to the model (too little ink, too
            small: what the model saw would teach it nothing), or ``digit`` is not 0-9.
        """
        prediction = self.canvas.prediction
        if prediction is None or not self.canvas.strokes:
            raise CanvasError("nothing is drawn: draw a digit, then say which it is")
        if prediction.digit is None:
            why = getattr(prediction, "reason", None) or "no digit"
            raise CanvasError(f"the model saw no digit here ({why}): draw it again, larger")
        drawing = Drawing(self.canvas.strokes, prediction.input, digit, prediction.digit)
        self.examples.add(drawing)
        self.canvas.clear()
        self._refresh()
        return drawing

    def confirm(self) -> Drawing:
        """Keep the drawing as the digit the model read (it was right); clear the canvas."""
        prediction = self.canvas.prediction
        if prediction is None or prediction.digit is None or not self.canvas.strokes:
            raise CanvasError("nothing the model read as a digit: draw one, then say which it is")
        return self.correct(prediction.digit)

    def undo(self) -> Drawing | None:
        """Take the last kept drawing back out and redraw its strokes; ``None`` if none."""
        if not self.examples:
            return None
        drawing = self.examples.pop()
        self.canvas.clear()
        for stroke in drawing.strokes:
            self.canvas.draw_stroke(stroke)
        self._refresh()
        return drawing

    # --- internals ---------------------------------------------------------------------------

    def _on_digit(self, digit: int, _: Any) -> None:
        self.correct(digit)

    def _guard(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """Callbacks print into the canvas's output area, like its own."""

        @functools.wraps(fn)
        def wrapper(*args: Any) -> Any:
            with self.canvas.output:
                return fn(*args)

        return wrapper

    def _refresh(self, *_: Any) -> None:
        prediction = self.canvas.prediction
        digit = prediction.digit if prediction is not None and self.canvas.strokes else None
        self._yes.disabled = digit is None
        self._yes.description = "Yes" if digit is None else f"Yes, {digit}"
        for button in self._digits:
            button.disabled = digit is None  # not a digit to the model: nothing to teach
        self._undo.disabled = not self.examples
        n = len(self.examples)
        if n:
            per = ", ".join(f"{d}: {c}" for d, c in self.examples.counts().items())
            fixed = sum(d.corrected for d in self.examples)
            text = f"{n} kept ({fixed} corrected) - {per}"
        else:
            text = "Draw a digit, then say if the model read it right."
        self._status.value = f"<small>{text}</small>"
