"""Labelled drawings to teach a model with: :class:`Drawing` and :class:`DrawingSet`.

A drawing keeps what was drawn (its strokes, in canvas pixels) and what the model saw (the
float32 28x28 input), with the right digit and what the model had said. Corrections ("it is a
1") and confirmations ("yes, a 7") both count: :func:`mnist_widgets.finetune` learns from either.

A set saves to one ``.npz`` file (no pickles: plain arrays, checked when read) and loads back
exactly. By default the file sits beside the model store (:func:`default_path`), so the browser
keeps it where it keeps the model.

Examples
--------
>>> import numpy as np
>>> drawings = DrawingSet()
>>> drawings.add(Drawing((((10.0, 10.0), (10.0, 90.0)),), np.zeros((28, 28)), 1, predicted=7))
>>> drawings
DrawingSet(1 drawing: 1 x1; 1 corrected)
>>> drawings.labels.tolist(), drawings.inputs.shape
([1], (1, 28, 28))
"""

from __future__ import annotations

import io
import os
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import overload

import numpy as np

from ._fs import replace_file
from .errors import CanvasError, DataError
from .store import ModelStore

__all__ = ["Drawing", "DrawingSet", "default_path"]

SIZE = 28
FORMAT = 1
#: A drawings file larger than this is refused before it is read (about 40,000 drawings).
MAX_FILE_BYTES = 256 * 1024 * 1024
_NO_DIGIT = -1  # ``predicted=None`` in the file

Point = tuple[float, float]
Stroke = tuple[Point, ...]


@dataclass(frozen=True, eq=False)
class Drawing:
    """One labelled drawing.

    Attributes
    ----------
    strokes : tuple of tuples of (x, y)
        What was drawn, in canvas pixels (empty when only the model input is known).
    input : numpy.ndarray
        float32 ``(28, 28)`` in [0, 1]: what the model saw (read-only).
    label : int
        The right digit, 0-9.
    predicted : int or None
        What the model said when the drawing was labelled (``None``: unknown).
    """

    strokes: tuple[Stroke, ...]
    input: np.ndarray
    label: int
    predicted: int | None = None

    def __post_init__(self) -> None:
        x = np.array(self.input, dtype=np.float32)  # our own read-only copy
        if x.shape != (SIZE, SIZE) or not np.isfinite(x).all() or x.min() < 0 or x.max() > 1:
            msg = f"a drawing's input is a (28, 28) array in [0, 1], got shape {x.shape}"
            raise CanvasError(msg)
        x.flags.writeable = False
        object.__setattr__(self, "input", x)
        object.__setattr__(self, "label", _digit(self.label, "label"))
        if self.predicted is not None:
            object.__setattr__(self, "predicted", _digit(self.predicted, "predicted"))
        strokes = tuple(tuple((float(x), float(y)) for x, y in s) for s in self.strokes)
        object.__setattr__(self, "strokes", strokes)

    @property
    def corrected(self) -> bool:
        """The model had said another digit (or nothing)."""
        return self.predicted != self.label

    def __repr__(self) -> str:
        said = "" if self.predicted is None else f", predicted={self.predicted}"
        return f"Drawing(label={self.label}{said}, {len(self.strokes)} strokes)"


def _digit(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or not 0 <= value <= 9:
        msg = f"a drawing's {what} is a digit 0-9, got {value!r}"
        raise CanvasError(msg)
    return int(value)


class DrawingSet(Sequence[Drawing]):
    """An ordered list of :class:`Drawing` (``canvas.examples``), saved to and loaded from a file.

    Parameters
    ----------
    drawings
        The drawings to start with.
    """

    def __init__(self, drawings: Iterable[Drawing] = ()) -> None:
        self._drawings: list[Drawing] = []
        for drawing in drawings:
            self.add(drawing)

    # -- the list ------------------------------------------------------------------------------

    def add(self, drawing: Drawing) -> None:
        """Append ``drawing``."""
        if not isinstance(drawing, Drawing):
            msg = f"a DrawingSet holds Drawing objects, got {type(drawing).__name__}"
            raise TypeError(msg)
        self._drawings.append(drawing)

    def extend(self, drawings: Iterable[Drawing]) -> None:
        """Append each of ``drawings``."""
        for drawing in drawings:
            self.add(drawing)

    def pop(self) -> Drawing:
        """Remove and return the last drawing (the undo of :meth:`add`); IndexError if empty."""
        if not self._drawings:
            raise IndexError("the DrawingSet is empty: nothing to undo")
        return self._drawings.pop()

    def clear(self) -> None:
        """Remove every drawing."""
        self._drawings.clear()

    @overload
    def __getitem__(self, index: int) -> Drawing: ...
    @overload
    def __getitem__(self, index: slice) -> DrawingSet: ...
    def __getitem__(self, index: int | slice) -> Drawing | DrawingSet:
        if isinstance(index, slice):
            return DrawingSet(self._drawings[index])
        return self._drawings[index]

    def __len__(self) -> int:
        return len(self._drawings)

    def __iter__(self) -> Iterator[Drawing]:
        return iter(self._drawings)

    # -- views ---------------------------------------------------------------------------------

    @property
    def inputs(self) -> np.ndarray:
        """float32 ``(n, 28, 28)``: what the model saw, one per drawing."""
        if not self._drawings:
            return np.zeros((0, SIZE, SIZE), np.float32)
        return np.stack([d.input for d in self._drawings])

    @property
    def labels(self) -> np.ndarray:
        """int64 ``(n,)``: the right digits."""
        return np.array([d.label for d in self._drawings], dtype=np.int64)

    def counts(self) -> dict[int, int]:
        """Drawings per digit, for the digits that have any."""
        return dict(sorted(Counter(d.label for d in self._drawings).items()))

    def __repr__(self) -> str:
        n = len(self._drawings)
        if not n:
            return "DrawingSet(empty)"
        per = ", ".join(f"{digit} x{count}" for digit, count in self.counts().items())
        fixed = sum(d.corrected for d in self._drawings)
        return f"DrawingSet({n} drawing{'s' if n != 1 else ''}: {per}; {fixed} corrected)"

    # -- the file ------------------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        """The set as ``.npz`` bytes (what :meth:`save` writes)."""
        strokes = [s for d in self._drawings for s in d.strokes]
        points = [p for s in strokes for p in s]
        buffer = io.BytesIO()
        np.savez_compressed(
            buffer,
            format=np.array(FORMAT),
            inputs=self.inputs,
            labels=self.labels.astype(np.uint8),
            predicted=np.array(
                [_NO_DIGIT if d.predicted is None else d.predicted for d in self._drawings],
                dtype=np.int8,
            ),
            strokes_per_drawing=np.array([len(d.strokes) for d in self._drawings], np.int32),
            points_per_stroke=np.array([len(s) for s in strokes], np.int32),
            points=np.array(points, dtype=np.float64).reshape(-1, 2),
        )
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, raw: bytes, *, source: str = "drawings") -> DrawingSet:
        """Read :meth:`to_bytes` output; anything else is a :class:`DataError` naming ``source``."""
        try:
            with np.load(io.BytesIO(raw), allow_pickle=False) as npz:
                arrays = {name: npz[name] for name in npz.files}
        except (OSError, ValueError, EOFError, KeyError) as exc:
            raise _bad(source, f"it is not a drawings .npz file ({exc})") from exc
        return cls(_drawings_of(arrays, source))

    def save(
        self, path: str | os.PathLike[str] | None = None, *, store: ModelStore | None = None
    ) -> Path:
        """Write the set to ``path`` (default: beside ``store``, :func:`default_path`) atomically;
        return the path."""
        dest = Path(path) if path is not None else default_path(store)
        replace_file(dest, self.to_bytes())
        return dest

    @classmethod
    def load(
        cls, path: str | os.PathLike[str] | None = None, *, store: ModelStore | None = None
    ) -> DrawingSet:
        """Read a set :meth:`save` wrote (default: beside ``store``, :func:`default_path`).

        Raises
        ------
        DataError
            No such file, or not a drawings file (naming what is wrong).
        """
        src = Path(path) if path is not None else default_path(store)
        try:
            size = src.stat().st_size
            if size > MAX_FILE_BYTES:
                raise _bad(str(src), f"it has {size:,} bytes, above {MAX_FILE_BYTES:,}")
            raw = src.read_bytes()
        except FileNotFoundError as exc:
            msg = f"no drawings file at {str(src)!r}; save some first (DrawingSet.save)"
            raise DataError(msg) from exc
        except OSError as exc:
            raise _bad(str(src), str(exc)) from exc
        return cls.from_bytes(raw, source=str(src))


def default_path(store: ModelStore | None = None) -> Path:
    """``<store root>.drawings.npz``: the file beside the model store (never inside it).

    ``store`` defaults to ``ModelStore()`` (``$MNIST_WIDGETS_CACHE`` or the user cache
    directory). In the browser, a store in ``/drive`` keeps the file in the browser's storage too.
    """
    root = (store if store is not None else ModelStore()).root.expanduser()
    return root.with_name(f"{root.name}.drawings.npz")


def _bad(source: str, problem: str) -> DataError:
    return DataError(
        f"cannot read the drawings in {source}: {problem}; it was not written by "
        "DrawingSet.save, or it is damaged"
    )


_EXPECTED = {
    "format": ((), "i"),
    "inputs": ((None, SIZE, SIZE), "f"),
    "labels": ((None,), "u"),
    "predicted": ((None,), "i"),
    "strokes_per_drawing": ((None,), "i"),
    "points_per_stroke": ((None,), "i"),
    "points": ((None, 2), "f"),
}


def _drawings_of(arrays: dict[str, np.ndarray], source: str) -> list[Drawing]:
    for name, (shape, kind) in _EXPECTED.items():
        a = arrays.get(name)
        if a is None:
            raise _bad(source, f"array {name!r} is missing")
        fits = len(a.shape) == len(shape) and all(
            want is None or got == want for got, want in zip(a.shape, shape, strict=True)
        )
        if not fits or a.dtype.kind != kind:
            raise _bad(source, f"array {name!r} has shape {a.shape} and dtype {a.dtype}")
    if int(arrays["format"]) != FORMAT:
        raise _bad(source, f"format {int(arrays['format'])} is not {FORMAT}")
    n = len(arrays["inputs"])
    per_drawing, per_stroke = arrays["strokes_per_drawing"], arrays["points_per_stroke"]
    if not (len(arrays["labels"]) == len(arrays["predicted"]) == len(per_drawing) == n):
        raise _bad(source, "the arrays disagree on the number of drawings")
    if not np.isfinite(arrays["points"]).all():
        raise _bad(source, "stroke points are NaN or inf")
    if (per_drawing < 0).any() or (per_stroke < 1).any():
        raise _bad(source, "negative stroke counts, or empty strokes")
    if int(per_drawing.sum()) != len(per_stroke) or int(per_stroke.sum()) != len(arrays["points"]):
        raise _bad(source, "the stroke and point counts disagree")
    ends = np.cumsum(per_stroke)
    strokes = [
        tuple(map(tuple, arrays["points"][end - size : end].tolist()))
        for size, end in zip(per_stroke.tolist(), ends.tolist(), strict=True)
    ]
    drawings, first = [], 0
    try:
        for i in range(n):
            count = int(per_drawing[i])
            predicted = int(arrays["predicted"][i])
            drawings.append(
                Drawing(
                    tuple(strokes[first : first + count]),
                    arrays["inputs"][i],
                    int(arrays["labels"][i]),
                    None if predicted == _NO_DIGIT else predicted,
                )
            )
            first += count
    except CanvasError as exc:
        raise _bad(source, f"drawing {len(drawings)}: {exc}") from exc
    return drawings


def as_drawing_set(examples: DrawingSet | Sequence[Drawing]) -> DrawingSet:
    """``examples`` as a DrawingSet (itself if it is one)."""
    return examples if isinstance(examples, DrawingSet) else DrawingSet(examples)
