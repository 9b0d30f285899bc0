"""DrawingSet: a list of labelled drawings that saves beside the store and loads back exactly."""

from __future__ import annotations

import io

import numpy as np
import pytest

from mnist_widgets.drawings import Drawing, DrawingSet, default_path
from mnist_widgets.errors import CanvasError, DataError
from mnist_widgets.store import ModelStore


def a_drawing(label: int = 1, predicted: int | None = 7, seed: int = 0) -> Drawing:
    rng = np.random.default_rng(seed)
    strokes = (((10.5, 20.25), (30.0, 40.0)), ((1.0, 2.0),))
    return Drawing(strokes, rng.random((28, 28), dtype=np.float32), label, predicted)


def test_a_set_saves_and_loads_back_exactly(tmp_path):
    drawings = DrawingSet([a_drawing(), a_drawing(3, None, 1), a_drawing(7, 7, 2)])
    path = drawings.save(tmp_path / "mine.npz")
    back = DrawingSet.load(path)
    assert len(back) == 3 and repr(back) == repr(drawings)
    for old, new in zip(drawings, back, strict=True):
        assert (new.strokes, new.label, new.predicted) == (old.strokes, old.label, old.predicted)
        assert np.array_equal(new.input, old.input)
    assert np.array_equal(back.inputs, drawings.inputs) and back.labels.tolist() == [1, 3, 7]
    DrawingSet().save(tmp_path / "empty.npz")
    assert len(DrawingSet.load(tmp_path / "empty.npz")) == 0


def test_the_default_file_is_beside_the_store_never_inside(tmp_path, monkeypatch):
    monkeypatch.setenv("MNIST_WIDGETS_CACHE", str(tmp_path / "models"))
    assert default_path() == tmp_path / "models.drawings.npz"
    store = ModelStore(tmp_path / "store")
    assert default_path(store) == tmp_path / "store.drawings.npz"
    DrawingSet([a_drawing()]).save()
    assert len(DrawingSet.load()) == 1 and not (tmp_path / "models").exists()
    DrawingSet([a_drawing(), a_drawing()]).save(store=store)
    assert len(DrawingSet.load(store=store)) == 2 and not store.root.exists()


def test_undo_and_the_list(tmp_path):
    drawings = DrawingSet()
    first, second = a_drawing(1), a_drawing(7, 7)
    drawings.add(first)
    drawings.add(second)
    assert drawings.pop() is second and list(drawings) == [first]
    assert drawings.counts() == {1: 1} and drawings[0] is first
    assert isinstance(drawings[:1], DrawingSet)
    drawings.clear()
    with pytest.raises(IndexError, match="nothing to undo"):
        drawings.pop()
    with pytest.raises(TypeError):
        drawings.add("a 1")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"label": 10}, "label is a digit"),
        ({"label": True}, "label is a digit"),
        ({"predicted": -1}, "predicted is a digit"),
        ({"input": np.zeros((28, 27))}, r"\(28, 28\) array"),
        ({"input": np.full((28, 28), np.nan)}, r"\(28, 28\) array"),
        ({"input": np.full((28, 28), 2.0)}, r"\(28, 28\) array"),
    ],
)
def test_a_drawing_is_checked_when_made(kwargs, match):
    args = {"strokes": (), "input": np.zeros((28, 28)), "label": 1, **kwargs}
    with pytest.raises(CanvasError, match=match):
        Drawing(**args)


def _npz(**arrays) -> bytes:
    good = DrawingSet([a_drawing()]).to_bytes()
    with np.load(io.BytesIO(good)) as npz:
        merged = {name: npz[name] for name in npz.files}
    merged.update(arrays)
    out = io.BytesIO()
    np.savez(out, **{k: v for k, v in merged.items() if v is not None})
    return out.getvalue()


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        (b"not a zip", "not a drawings .npz"),
        (_npz(labels=None), "'labels' is missing"),
        (_npz(labels=np.array([1, 2], np.uint8)), "disagree on the number"),
        (_npz(points=np.full((3, 2), np.nan)), "NaN or inf"),
        (_npz(points_per_stroke=np.array([1, 5], np.int32)), "stroke and point counts"),
        (_npz(labels=np.array([12], np.uint8)), "drawing 0: a drawing's label"),
        (_npz(format=np.array(2)), "format 2"),
        (_npz(inputs=np.zeros((1, 28, 28), np.uint8)), "'inputs' has shape"),
    ],
)
def test_a_damaged_file_is_a_data_error_naming_it(tmp_path, raw, match):
    path = tmp_path / "bad.npz"
    path.write_bytes(raw)
    with pytest.raises(DataError, match=match):
        DrawingSet.load(path)


def test_a_missing_file_says_what_to_do(tmp_path):
    with pytest.raises(DataError, match=r"no drawings file .* save some first"):
        DrawingSet.load(tmp_path / "nothing.npz")
