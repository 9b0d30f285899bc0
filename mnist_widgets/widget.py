"""``DigitCanvas``: draw a digit in a notebook cell and watch the model read it as you draw.

The browser only shows the strokes; the kernel keeps them as point lists, so no image data travels
back from the browser (ipycanvas's ``sync_image_data`` would send the whole canvas on every update).

Two images come from the points:

- what was drawn (:attr:`DigitCanvas.image`): the strokes with the user's pen, ``BRUSH`` px wide,
  as the screen shows them;
- what the model sees (:attr:`DigitCanvas.model_input`, the 28x28 preview): the strokes inked
  again with a pen relative to the drawing's size
  (:func:`~mnist_widgets.preprocessing.prepare_strokes`), so a digit drawn 30 px tall has MNIST's
  stroke thickness just as one drawn 250 px tall does. A fixed pen makes a small digit a blob.
"""

from __future__ import annotations

import functools
import html
import io
import math
import time
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
import numpy as np
import traitlets
from ipycanvas import Canvas, hold_canvas
from PIL import Image, ImageDraw, ImageFont

from .corrections import CorrectionBar
from .drawings import DrawingSet
from .errors import CanvasError
from .preprocessing import prepare_strokes

if TYPE_CHECKING:
    from .predictor import Prediction, Predictor

__all__ = ["DigitCanvas"]

SIZE = 280  # drawing canvas side, as in the article's app
BRUSH = 20  # px: a digit ~200 px tall becomes ~2 px strokes in MNIST's 20 px box, like MNIST's own
THROTTLE = 0.15  # s: at most one prediction this often while a stroke is being drawn
INK = "#1b1b1b"
PAPER = "#ffffff"
FRAME = "#9e9e9e"
BAR = "#90a4ae"
BAR_TOP = "#1e88e5"
_BARS_W, _BARS_H = 230, 120
_VIEW = 84  # the 28x28 model input shown 3x
_DIGIT_HTML = '<div style="font-size: 64px; font-weight: bold; line-height: 76px">{}</div>'

Point = tuple[float, float]


class DigitCanvas(widgets.VBox):
    """A drawing canvas with live digit recognition: predicted digit, probabilities, model input.

    Parameters
    ----------
    predictor : Predictor or None
        What classifies the drawing; ``None`` builds :class:`~mnist_widgets.Predictor` with the
        shipped model.
    backend : str
        With ``predictor=None``: the engine of that Predictor (``"auto"``, ``"onnxruntime"``,
        ``"numpy"`` or ``"tensorflow"``; see :class:`~mnist_widgets.Predictor`).
    teach : bool
        Show the correction buttons (:class:`~mnist_widgets.corrections.CorrectionBar`): a
        drawing the model read right or wrong is kept, with its right digit, in ``examples``.
    clock : callable, optional
        Returns the time in seconds (default :func:`time.monotonic`); while a stroke is drawn, a
        prediction runs at most once per ``THROTTLE`` seconds of it. Tests pass a fake clock.

    Attributes
    ----------
    examples : DrawingSet
        The drawings kept with the correction buttons, for :func:`~mnist_widgets.finetune`.
    corrections : CorrectionBar or None
        The buttons (``teach=True``); ``corrections.correct(digit)``, ``.confirm()`` and
        ``.undo()`` do what they do.
    prediction : Prediction or None
        The last prediction (observable with ``observe``); ``None`` before drawing and after
        ``clear()``. A drawing that is not a digit (a click, a short dash, a tiny scribble) gives
        ``digit=None`` and a ``reason`` the widget shows, e.g. "draw bigger".

    Examples
    --------
    In a notebook cell (draw with the mouse, a pen or a finger):

    >>> canvas = DigitCanvas()  # doctest: +SKIP
    >>> canvas  # doctest: +SKIP
    >>> canvas.draw_stroke([(140, 40), (140, 240)]).digit  # doctest: +SKIP
    1
    """

    prediction = traitlets.Any(None, allow_none=True)

    def __init__(
        self,
        predictor: Predictor | None = None,
        *,
        backend: str = "auto",
        clock: Callable[[], float] = time.monotonic,
        teach: bool = False,
        **kwargs: Any,
    ) -> None:
        if predictor is None:
            from .predictor import Predictor  # deferred: a canvas given a predictor needs none

            predictor = Predictor(backend=backend)
        self.predictor = predictor
        self._strokes: list[list[Point]] = []
        self._current: list[Point] | None = None
        self._clock = clock
        self._last_predict = -math.inf  # the first prediction of a stroke is never held back
        self._base = _blank()  # finished strokes, rasterised once; the open stroke is added on top

        self.canvas = Canvas(
            width=SIZE, height=SIZE, layout=widgets.Layout(width=f"{SIZE}px", height=f"{SIZE}px")
        )
        self.canvas.add_class("mnist-widgets-canvas")
        # A Label's fixed line height would clip a large digit: an HTML element sized for it.
        self._digit = widgets.HTML("", layout=widgets.Layout(height="80px", min_width="60px"))
        self._confidence = widgets.HTML("", layout=widgets.Layout(height="20px"))
        self._digit.add_class("mnist-widgets-prediction")
        self._confidence.add_class("mnist-widgets-status")  # "97.1% sure", or why no digit
        self._bars = Canvas(
            width=_BARS_W,
            height=_BARS_H,
            layout=widgets.Layout(width=f"{_BARS_W}px", height=f"{_BARS_H}px"),
        )
        self._view = Canvas(
            width=_VIEW,
            height=_VIEW,
            layout=widgets.Layout(width=f"{_VIEW}px", height=f"{_VIEW}px"),
        )
        self.output = widgets.Output(layout=widgets.Layout(max_height="160px", overflow="auto"))
        undo = widgets.Button(description="Undo", icon="undo", layout=widgets.Layout(width="90px"))
        clear = widgets.Button(
            description="Clear", icon="trash", layout=widgets.Layout(width="90px")
        )
        undo.on_click(self._guard(lambda _: self.undo()))
        clear.on_click(self._guard(lambda _: self.clear()))

        # ipycanvas's registration methods (untyped) and the handlers they get
        callbacks: list[tuple[Callable[..., Any], Callable[..., Any]]] = [
            (self.canvas.on_mouse_down, self._on_mouse_down),
            (self.canvas.on_mouse_move, self._on_mouse_move),
            (self.canvas.on_mouse_up, self._on_mouse_up),
            (self.canvas.on_mouse_out, self._on_mouse_out),
            (self.canvas.on_touch_start, self._on_touch_start),
            (self.canvas.on_touch_move, self._on_touch_move),
            (self.canvas.on_touch_end, self._on_touch_end),
            (self.canvas.on_touch_cancel, self._on_touch_end),
            (self.canvas.on_client_ready, self._redraw),
            (self._bars.on_client_ready, self._show_prediction),
            (self._view.on_client_ready, self._show_prediction),
        ]
        for register, handler in callbacks:
            register(self._guard(handler))
        self.observe(self._guard(self._show_prediction), names="prediction")

        side = widgets.VBox(
            [
                widgets.HTML("<b>Prediction</b>"),
                self._digit,
                self._confidence,
                self._bars,
                widgets.HTML("<small>what the model sees (28x28)</small>"),
                self._view,
            ],
            layout=widgets.Layout(margin="0 0 0 16px"),
        )
        left = widgets.VBox([self.canvas, widgets.HBox([undo, clear])])
        teach_row = widgets.Box()  # the correction buttons go here (teach=True)
        super().__init__([widgets.HBox([left, side]), teach_row, self.output], **kwargs)
        self.add_class("mnist-widgets-digit-canvas")  # the whole composite, e.g. for screenshots
        #: The drawings kept with the correction buttons (``teach=True``), to fine-tune with.
        self.examples = DrawingSet()
        self.corrections: CorrectionBar | None = None
        if teach:
            self.corrections = CorrectionBar(self, self.examples)
            teach_row.children = (self.corrections,)
        self._redraw()
        self._show_prediction()

    # --- programmatic API --------------------------------------------------------------------

    @property
    def strokes(self) -> tuple[tuple[Point, ...], ...]:
        """The finished strokes, each a tuple of ``(x, y)`` canvas points (read-only copy)."""
        return tuple(tuple(s) for s in self._strokes)

    @property
    def image(self) -> np.ndarray:
        """What was drawn, with the screen's pen: uint8 ``(280, 280)``, white ink on black.

        Not what the model sees (that is :attr:`model_input`); ``Predictor.predict(image)`` still
        reads it, re-inking its strokes where the pen is thick for the drawing's size.
        """
        if not self._current:
            return np.asarray(self._base)  # already a copy: later strokes do not change it
        img = self._base.copy()
        _rasterise(img, self._current)
        return np.asarray(img)

    @property
    def model_input(self) -> np.ndarray:
        """What the model sees: float32 ``(28, 28)`` in [0, 1], the strokes inked at a pen width
        relative to the drawing's size (all zeros before drawing). The 28x28 preview shows it."""
        x = prepare_strokes(self._all_strokes()).input
        return np.zeros((28, 28), np.float32) if x is None else x

    def draw_stroke(self, points: Iterable[Sequence[float]]) -> Prediction | None:
        """Add a stroke through ``points`` (canvas pixels, 0-280) and return the new prediction.

        Raises :class:`~mnist_widgets.CanvasError` (a ``ValueError``) for points that are not a
        non-empty sequence of finite ``(x, y)`` pairs.
        """
        stroke = _validate_points(points)
        self._end_stroke()
        self._strokes.append(stroke)
        _rasterise(self._base, stroke)
        with hold_canvas():
            _paint(self.canvas, stroke)
        self._predict()
        prediction: Prediction | None = self.prediction  # (a traitlets.Any trait)
        return prediction

    def clear(self) -> None:
        """Remove every stroke; the prediction becomes ``None``."""
        self._strokes.clear()
        self._current = None
        self._base = _blank()
        self._redraw()
        self.prediction = None

    def undo(self) -> None:
        """Remove the last stroke (or the one being drawn) and predict again."""
        if self._current is not None:
            self._current = None  # never part of _base: nothing to rebuild
        elif self._strokes:
            self._strokes.pop()
            self._base = _blank()
            for stroke in self._strokes:
                _rasterise(self._base, stroke)
        self._redraw()
        if self._strokes:
            self._predict()
        else:
            self.prediction = None

    # --- mouse and touch ---------------------------------------------------------------------

    def _on_mouse_down(self, x: float, y: float) -> None:
        self._end_stroke()  # a release we never saw (outside the page): close that stroke first
        self._current = [(float(x), float(y))]
        with hold_canvas():
            _paint(self.canvas, self._current)
        self._predict(throttled=True)

    def _on_mouse_move(self, x: float, y: float) -> None:
        if self._extend(x, y):
            self._predict(throttled=True)

    def _on_mouse_up(self, x: float, y: float) -> None:
        self._extend(x, y)
        self._end_stroke()  # predicts once; a throttled prediction from the move would be a second

    def _on_mouse_out(self, x: float, y: float) -> None:
        # Leaving the canvas ends the stroke: otherwise a release outside would leave it "stuck"
        # and the next hover would keep drawing.
        self._extend(min(max(x, 0.0), SIZE), min(max(y, 0.0), SIZE))
        self._end_stroke()

    def _on_touch_start(self, touches: list[Point]) -> None:
        if touches:
            self._on_mouse_down(*touches[0])

    def _on_touch_move(self, touches: list[Point]) -> None:
        if touches:
            self._on_mouse_move(*touches[0])

    def _on_touch_end(self, touches: list[Point]) -> None:
        self._end_stroke()

    # --- internals ---------------------------------------------------------------------------

    def _extend(self, x: float, y: float) -> bool:
        """Add a point to the open stroke and paint it; False if no stroke is open or no move."""
        if self._current is None:
            return False  # hovering, or a press that started outside the canvas
        last = self._current[-1]
        point = (float(x), float(y))
        if math.dist(last, point) < 1.0:
            return False
        self._current.append(point)
        with hold_canvas():
            self.canvas.stroke_line(*last, *point)
        return True

    def _end_stroke(self) -> None:
        if self._current is None:
            return
        stroke, self._current = self._current, None
        self._strokes.append(stroke)
        _rasterise(self._base, stroke)
        self._predict()

    def _all_strokes(self) -> list[list[Point]]:
        return [*self._strokes, *([self._current] if self._current else [])]

    def _predict(self, *, throttled: bool = False) -> None:
        now = self._clock()
        if throttled and now - self._last_predict < THROTTLE:
            return
        self._last_predict = now
        self.prediction = self.predictor.predict_strokes(self._all_strokes())

    def _guard(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """Run a callback with its prints and tracebacks shown in the widget's output area."""

        @functools.wraps(fn)
        def wrapper(*args: Any) -> Any:
            with self.output:
                return fn(*args)

        return wrapper

    def _redraw(self, *_: Any) -> None:
        with hold_canvas():
            self.canvas.clear()
            self.canvas.fill_style = PAPER
            self.canvas.fill_rect(0, 0, SIZE, SIZE)
            self.canvas.stroke_style = FRAME
            self.canvas.line_width = 2
            self.canvas.stroke_rect(1, 1, SIZE - 2, SIZE - 2)  # a frame drawn, not a CSS border
            for stroke in self._all_strokes():
                _paint(self.canvas, stroke)

    def _show_prediction(self, *_: Any) -> None:
        pred = self.prediction
        empty = pred is None or pred.digit is None
        self._digit.value = "" if empty else _DIGIT_HTML.format(pred.digit)
        if pred is not None and pred.digit is None:
            self._confidence.value = f"<small>{html.escape(pred.reason or '')}</small>"
        else:
            self._confidence.value = "" if empty else f"<small>{pred.confidence:.1%} sure</small>"
        probs = np.zeros(10) if pred is None else np.asarray(pred.probabilities, dtype=float)
        _paint_bars(self._bars, probs, None if empty else pred.digit)
        x = np.zeros((28, 28)) if pred is None else np.asarray(pred.input)
        big = np.repeat(np.repeat(np.rint(x * 255).astype(np.uint8), 3, 0), 3, 1)
        self._view.put_image_data(np.repeat(big[:, :, None], 3, axis=2), 0, 0)

    # --- static views: a saved notebook on GitHub or nbviewer, a report -----------------------

    def snapshot(self) -> Image.Image:
        """The drawing, the predicted digit and the ten probabilities as one image (RGB).

        What a renderer without a live kernel shows of this widget: the canvas itself is drawn
        by commands sent to the browser, which a saved notebook does not keep.
        """
        return _snapshot(self.image, self.prediction)

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any] | None:
        """The live widget, plus a PNG :meth:`snapshot` and a one-line text for static views."""
        bundle: dict[str, Any] | None = super()._repr_mimebundle_(**kwargs)
        if bundle is None:
            return None
        png = io.BytesIO()
        self.snapshot().save(png, format="PNG", optimize=True)
        bundle["image/png"] = png.getvalue()
        pred = self.prediction
        said = "empty" if pred is None or pred.digit is None else f"predicted {pred.digit}"
        bundle["text/plain"] = f"DigitCanvas ({said}; run the notebook to draw)"
        return bundle


def _blank() -> Image.Image:
    return Image.new("L", (SIZE, SIZE), 0)


def _rasterise(img: Image.Image, stroke: Sequence[Point]) -> None:
    """Draw a stroke as the browser shows it: round caps and joints (a disc at every point)."""
    draw = ImageDraw.Draw(img)
    r = BRUSH / 2
    if len(stroke) > 1:
        draw.line(stroke, fill=255, width=BRUSH, joint="curve")
    for x, y in stroke:
        draw.ellipse((x - r, y - r, x + r, y + r), fill=255)


def _paint(canvas: Canvas, stroke: Sequence[Point]) -> None:
    canvas.stroke_style = INK
    canvas.fill_style = INK
    canvas.line_width = BRUSH
    canvas.line_cap = "round"
    canvas.line_join = "round"
    if len(stroke) > 1:
        canvas.stroke_lines(stroke)
    else:
        canvas.fill_circle(stroke[0][0], stroke[0][1], BRUSH / 2)


def _paint_bars(canvas: Canvas, probs: np.ndarray, top: int | None) -> None:
    step, width, base, height = _BARS_W / 10, 15, _BARS_H - 20, _BARS_H - 30
    with hold_canvas():
        canvas.clear()
        canvas.fill_style = "#eceff1"
        canvas.fill_rects(np.arange(10) * step + 4, base - height, width, height)
        canvas.fill_style = BAR
        heights = np.maximum(probs * height, 0.5)
        canvas.fill_rects(np.arange(10) * step + 4, base - heights, width, heights)
        if top is not None:
            canvas.fill_style = BAR_TOP
            canvas.fill_rect(top * step + 4, base - heights[top], width, heights[top])
        canvas.fill_style = "#37474f"
        canvas.font = "13px sans-serif"
        canvas.text_align = "center"
        for d in range(10):
            canvas.fill_text(str(d), d * step + 4 + width / 2, _BARS_H - 5)


def _validate_points(points: Iterable[Sequence[float]]) -> list[Point]:
    try:
        arr = np.asarray(list(points), dtype=float)
    except (TypeError, ValueError) as exc:
        msg = "a stroke is a sequence of (x, y) points, e.g. [(140, 40), (140, 240)]"
        raise CanvasError(msg) from exc
    if arr.ndim != 2 or arr.shape[1] != 2 or len(arr) == 0:
        msg = (
            f"a stroke is a non-empty sequence of (x, y) points, got an array of shape {arr.shape}"
        )
        raise CanvasError(msg)
    if not np.isfinite(arr).all():
        msg = "stroke points must be finite numbers (got NaN or inf)"
        raise CanvasError(msg)
    return [(float(x), float(y)) for x, y in arr]


def _snapshot(drawing: np.ndarray, prediction: Prediction | None) -> Image.Image:
    """Dark ink on paper at half size, then the predicted digit and the probability bars."""
    half = SIZE // 2
    out = Image.new("RGB", (half + 20 + _BARS_W, half), PAPER)
    ink = Image.fromarray(255 - drawing).resize((half, half), Image.Resampling.LANCZOS)
    out.paste(ink.convert("RGB"), (0, 0))
    draw = ImageDraw.Draw(out)
    draw.rectangle((0, 0, half - 1, half - 1), outline=FRAME)
    try:
        font: ImageFont.FreeTypeFont | ImageFont.ImageFont = ImageFont.load_default(size=16)
    except TypeError:  # Pillow < 10.1: one bitmap size
        font = ImageFont.load_default()
    left, step, width, base, height = half + 20, _BARS_W / 10, 15, half - 22, half - 54
    digit = None if prediction is None else prediction.digit
    if prediction is None or digit is None:  # nothing drawn, or not a digit: say why
        probs = np.zeros(10)
        label = "draw a digit" if prediction is None else prediction.reason or "draw a digit"
    else:
        probs = np.asarray(prediction.probabilities, dtype=float)
        label = f"{digit}  ({prediction.confidence:.1%} sure)"
    draw.text((left, 2), label, fill=INK, font=font)
    for d in range(10):
        x = left + d * step
        h = max(probs[d] * height, 0.5)
        draw.rectangle((x, base - height, x + width, base), fill="#eceff1")
        top = d == digit
        draw.rectangle((x, base - h, x + width, base), fill=BAR_TOP if top else BAR)
        draw.text((x + 3, base + 1), str(d), fill="#37474f", font=font)
    return out
