from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from mnist_widgets import _shipped
from mnist_widgets.drawn import drawn_digits
from mnist_widgets.engines import BACKENDS
from mnist_widgets.errors import CanvasError, MnistWidgetsError, ModelFormatError
from mnist_widgets.predictor import Prediction, Predictor
from mnist_widgets.preprocessing import pool_like_article, preprocess
from mnist_widgets.serve import serve_directory
from mnist_widgets.sources import read_artifacts
from mnist_widgets.tfjs.codec import encode_model


@pytest.fixture(scope="module")
def seed_model(seed_model_dir):
    from mnist_widgets.keras_io import load_layers_model

    return load_layers_model(seed_model_dir)


@pytest.fixture(scope="module")
def predictor(seed_model) -> Predictor:
    return Predictor(seed_model)


@pytest.fixture(scope="module")
def drawn(mnist):
    (_, _), (x_test, y_test) = mnist
    canvases, labels, _ = drawn_digits(x_test, y_test, n=1000, seed=0)
    return canvases, labels


def _one() -> np.ndarray:
    canvas = np.zeros((280, 280), np.uint8)
    canvas[40:240, 132:150] = 255
    return canvas


@pytest.fixture(scope="module")
def shipped_predictor() -> Predictor:
    return Predictor()  # models/mnist, the package's default


@pytest.mark.slow
@pytest.mark.parametrize("which", ["seed", "shipped"])
def test_accuracy_on_1000_redrawn_test_digits(which, request, drawn):
    # The article's model (not trained for drawings) and ours both hold up after preprocessing.
    predictor = request.getfixturevalue("predictor" if which == "seed" else "shipped_predictor")
    canvases, labels = drawn
    digits = np.array([p.digit for p in predictor.predict_batch(canvases)])
    accuracy = float((digits == labels).mean())
    assert accuracy >= 0.985, accuracy


@pytest.mark.slow
def test_shipped_model_scores_at_least_995_on_mnist_test(shipped_predictor, mnist):
    (_, _), (x_test, y_test) = mnist
    predictions = shipped_predictor.predict_batch(x_test / 255.0, preprocessed=True)
    accuracy = float(np.mean([p.digit for p in predictions] == y_test))
    assert accuracy >= 0.995, accuracy


@pytest.mark.slow
def test_article_pooling_loses_accuracy_on_the_same_set(predictor, drawn):
    # The drawn set must be hard enough to show why the MNIST recipe matters.
    canvases, labels = drawn
    pooled = [pool_like_article(c) for c in canvases[:300]]
    digits = np.array([p.digit for p in predictor.predict_batch(pooled, preprocessed=True)])
    assert float((digits == labels[:300]).mean()) < 0.85


def test_prediction_fields(predictor):
    canvas = _one()
    p = predictor.predict(canvas)
    assert isinstance(p, Prediction)
    assert p.digit == 1
    assert p.probabilities.shape == (10,)
    assert p.probabilities.dtype == np.float32
    assert float(p.probabilities.sum()) == pytest.approx(1.0, abs=1e-5)
    assert p.digit == int(np.argmax(p.probabilities))
    np.testing.assert_array_equal(p.input, preprocess(canvas))
    top = p.top(3)
    assert top[0][0] == 1 and len(top) == 3
    assert top[0][1] >= top[1][1] >= top[2][1]
    assert p.confidence == pytest.approx(top[0][1])
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.digit = 7  # type: ignore[misc]
    with pytest.raises(ValueError, match="read-only"):
        p.probabilities[0] = 1.0


def test_empty_canvas_is_not_classified(predictor):
    p = predictor.predict(np.zeros((280, 280), np.uint8))
    assert p.digit is None and p.empty
    assert p.probabilities.shape == (10,) and not p.probabilities.any()
    assert p.input.shape == (28, 28) and not p.input.any()
    assert p.top(3) == []
    assert p.reason == "nothing drawn" and "nothing drawn" in repr(p)


def test_predict_batch_matches_predict(predictor, drawn):
    canvases, _ = drawn
    images = [*canvases[:150], np.zeros((280, 280), np.uint8), *canvases[150:300]]
    batch = predictor.predict_batch(images)
    assert len(batch) == len(images)
    assert batch[150].digit is None
    for image, got in zip(images[::25], batch[::25], strict=True):
        one = predictor.predict(image)
        assert got.digit == one.digit
        np.testing.assert_allclose(got.probabilities, one.probabilities, atol=1e-5)


def test_without_xla_gives_the_same_probabilities(seed_model, predictor, drawn):
    canvases, _ = drawn
    plain = Predictor(seed_model, jit_compile=False)
    for canvas in canvases[:20]:
        np.testing.assert_allclose(
            plain.predict(canvas).probabilities, predictor.predict(canvas).probabilities, atol=1e-4
        )


def test_preprocessed_input_is_checked(predictor):
    with pytest.raises(ValueError, match=r"\(28, 28\)"):
        predictor.predict(np.zeros((280, 280), np.float32), preprocessed=True)


@pytest.mark.parametrize(
    ("value", "what"),
    [
        (np.nan, "NaN or inf"),
        (np.inf, "NaN or inf"),
        (-0.5, r"values in \[-0.5, 1\]"),
        (255.0, "values in .0, 255"),
    ],
)
def test_preprocessed_values_are_checked(predictor, value, what):
    x = np.zeros((28, 28), np.float32)
    x[4:24, 13:15] = 1.0
    x[0, 0] = value
    with pytest.raises(CanvasError, match=rf"\[0, 1\], got {what}"):
        predictor.predict(x, preprocessed=True)
    with pytest.raises(CanvasError):
        predictor.predict_batch([np.zeros((28, 28)), x], preprocessed=True)


def test_preprocessed_input_leaves_the_callers_array_alone(predictor):
    # Prediction.input is read-only; that must not be done to the caller's own float32 array.
    x = np.zeros((28, 28), np.float32)
    x[4:24, 13:15] = 1.0
    before = x.copy()
    single = predictor.predict(x, preprocessed=True)
    batch = predictor.predict_batch([x, x], preprocessed=True)
    assert x.flags.writeable
    np.testing.assert_array_equal(x, before)
    for p in [single, *batch]:
        assert not np.shares_memory(p.input, x)
        np.testing.assert_array_equal(p.input, before)
    x[0, 0] = 0.5  # still the caller's to change
    assert single.input[0, 0] == 0.0


@pytest.mark.parametrize("backend", ["auto", "numpy", "onnxruntime"])
def test_model_with_wrong_input_shape_is_rejected(backend):
    from mnist_widgets._tf import keras

    k = keras()
    flat = k.Sequential([k.Input((784,)), k.layers.Dense(10, activation="softmax")])
    with pytest.raises(ModelFormatError, match=r"\(None, 784\).*\(None, 28, 28, 1\)"):
        Predictor(flat, backend=backend)
    with pytest.raises(ModelFormatError, match=r"\(None, 784\).*\(None, 28, 28, 1\)"):
        Predictor(encode_model(flat), backend=backend)


@pytest.mark.parametrize("backend", BACKENDS)
def test_logit_outputs_become_probabilities(backend):
    from mnist_widgets._tf import keras

    k = keras()
    logits = k.Sequential([k.Input((28, 28, 1)), k.layers.Flatten(), k.layers.Dense(10)])
    p = Predictor(logits, backend=backend).predict(_one())
    assert (p.probabilities >= 0).all()
    assert float(p.probabilities.sum()) == pytest.approx(1.0, abs=1e-5)


def test_path_to_a_tfjs_model_is_loaded(seed_model_dir, predictor):
    from_path = Predictor(str(seed_model_dir / "model.json"))
    np.testing.assert_allclose(
        from_path.predict(_one()).probabilities, predictor.predict(_one()).probabilities, atol=1e-5
    )


def test_from_url_goes_through_the_store_and_works_offline(seed_model_dir, predictor, monkeypatch):
    with serve_directory(seed_model_dir) as server:
        online = Predictor.from_url(server.url + "model.json")
        url = server.url + "model.json"
    assert online.fetch_result.source == "network"
    assert online.backend == "onnxruntime" and online.fetch_result.model is None  # no Keras
    monkeypatch.setenv("MNIST_WIDGETS_OFFLINE", "1")  # the server is gone too
    offline = Predictor.from_url(url, backend="tensorflow")
    assert offline.fetch_result.source == "cache"
    assert offline.fetch_result.model is offline.model  # the Keras model, as fetch_model gives
    expected = predictor.predict(_one()).probabilities
    np.testing.assert_allclose(offline.predict(_one()).probabilities, expected, atol=1e-5)


def test_a_store_hit_parses_the_graph_once(seed_model_dir, monkeypatch):
    from mnist_widgets.tfjs import graph

    with serve_directory(seed_model_dir) as server:
        Predictor.from_url(server.url + "model.json")  # stored
        parsed = []
        real = graph.parse_topology
        monkeypatch.setattr(
            graph, "parse_topology", lambda *a, **k: parsed.append(1) or real(*a, **k)
        )
        for backend in BACKENDS:
            hit = Predictor.from_url(server.url + "model.json", backend=backend)
            assert hit.fetch_result.source == "cache" and hit.backend == backend
    assert len(parsed) == len(BACKENDS)  # the loader's check; each engine builds from its graph


def test_http_source_goes_through_the_store(seed_model_dir, monkeypatch):
    with serve_directory(seed_model_dir) as server:
        url = server.url + "model.json"
        online = Predictor(url)
    assert online.fetch_result.source == "network"
    monkeypatch.setenv("MNIST_WIDGETS_OFFLINE", "1")
    offline = Predictor(url)  # the same URL, the server gone: the store's copy
    assert offline.fetch_result.source == "cache"
    by_name = Predictor(offline.fetch_result.cache_url, backend="numpy")
    for other in (offline, by_name):
        np.testing.assert_allclose(
            other.predict(_one()).probabilities, online.predict(_one()).probabilities, atol=1e-5
        )


@pytest.fixture(scope="module")
def backend_predictors(seed_model_dir) -> dict[str, Predictor]:
    return {b: Predictor(seed_model_dir, backend=b) for b in BACKENDS}


def test_every_backend_gives_the_same_predictions(backend_predictors, drawn):
    canvases, _ = drawn
    reference = backend_predictors["tensorflow"]
    assert reference.model is not None
    for backend, predictor in backend_predictors.items():
        assert predictor.backend == backend
        assert repr(predictor).endswith(f"backend='{backend}')")
        batch = predictor.predict_batch(canvases[:100])
        for got, want in zip(batch, reference.predict_batch(canvases[:100]), strict=True):
            assert got.digit == want.digit
            np.testing.assert_allclose(got.probabilities, want.probabilities, atol=1e-5)
        one = predictor.predict(canvases[0])
        np.testing.assert_allclose(one.probabilities, batch[0].probabilities, atol=1e-5)
        assert one.probabilities.dtype == np.float32 and not one.probabilities.flags.writeable


def test_default_backend_and_model_kinds(seed_model, seed_model_dir):
    assert Predictor(seed_model_dir).backend == "onnxruntime"
    assert Predictor(seed_model).backend == "tensorflow"  # a keras.Model: its compiled path
    numpy_from_keras = Predictor(seed_model, backend="numpy")  # ... or encoded for an engine
    assert numpy_from_keras.backend == "numpy" and numpy_from_keras.model is seed_model
    from_artifacts = Predictor(read_artifacts(seed_model_dir))
    assert from_artifacts.predict(_one()).digit == 1
    with pytest.raises(ValueError, match="unknown backend 'cuda'"):
        Predictor(seed_model_dir, backend="cuda")


def _child(code: str, env: dict[str, str], *args: object) -> dict:
    """Run ``code`` in a fresh interpreter; its last stdout line, parsed as JSON."""
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


_TF_FREE = """
import sys, json
import mnist_widgets as mw
from mnist_widgets.cli import main

canvas = __import__("numpy").zeros((280, 280), "uint8")
canvas[40:240, 132:150] = 255
digits = {
    "shipped": mw.Predictor().predict(canvas).digit,
    "path": mw.Predictor(sys.argv[1]).predict(canvas).digit,
}
http = mw.Predictor(sys.argv[2])
digits["http"] = http.predict(canvas).digit
digits["cache"] = mw.Predictor(http.fetch_result.cache_url).predict(canvas).digit
widget = mw.DigitCanvas()
digits["widget"] = widget.draw_stroke([(140, 40), (140, 240)]).digit
code = main(["predict", sys.argv[3], "--model", sys.argv[2]])
print(json.dumps({
    "digits": digits, "code": code, "backend": http.backend,
    "loaded": sorted(m for m in ("tensorflow", "keras") if m in sys.modules),
}))
"""


def test_drawing_path_never_imports_tensorflow(tmp_path, seed_model_dir):
    from PIL import Image

    Image.fromarray(_one()).save(tmp_path / "one.png")
    env = {**os.environ, "MNIST_WIDGETS_CACHE": str(tmp_path / "store")}
    with serve_directory(seed_model_dir) as server:
        report = _child(
            _TF_FREE, env, seed_model_dir, server.url + "model.json", tmp_path / "one.png"
        )
    assert report["loaded"] == []  # neither tensorflow nor keras was imported
    assert set(report["digits"].values()) == {1} and report["code"] == 0
    assert report["backend"] == "onnxruntime"


_START = """
import sys, json
import numpy as np
import mnist_widgets as mw

canvas = np.zeros((280, 280), "uint8")
canvas[40:240, 132:150] = 255
predictor = mw.Predictor(sys.argv[1] if len(sys.argv) > 1 else None)
result = predictor.fetch_result
print(json.dumps({
    "digit": predictor.predict(canvas).digit, "backend": predictor.backend,
    "onnx": "onnx" in sys.modules, "source": result and result.source,
    "http": sorted(m for m in ("urllib3", "filelock", "mnist_widgets.loader") if m in sys.modules),
    "cache_url": result and result.cache_url,
}))
"""


def test_onnx_is_imported_once_per_model_version_never_on_a_store_hit_or_the_shipped_model(
    tmp_path, seed_model_dir
):
    env = {**os.environ, "MNIST_WIDGETS_CACHE": str(tmp_path / "store")}

    def start(*args: str) -> dict:
        return _child(_START, env, *args)

    shipped = start()
    assert (shipped["backend"], shipped["onnx"]) == ("onnxruntime", False)
    assert shipped["http"] == []  # a local model's start imports no download code either
    with serve_directory(seed_model_dir) as server:
        miss = start(server.url + "model.json")
        hit = start(server.url + "model.json")
    by_name = start(hit["cache_url"])
    assert (miss["source"], miss["onnx"]) == ("network", True)  # built once, stored beside it
    assert (hit["source"], hit["onnx"]) == ("cache", False)
    assert by_name["onnx"] is False
    assert {r["digit"] for r in (shipped, miss, hit, by_name)} == {1}


_COLD = """
import sys, json
import numpy as np
import mnist_widgets as mw

predictor = mw.Predictor(sys.argv[1] if sys.argv[1] != "shipped" else None)
if sys.argv[2] == "canvas":
    canvas = np.zeros((280, 280), "uint8")
    canvas[40:240, 132:150] = 255
    digit = predictor.predict(canvas).digit
else:  # an MNIST-style 28x28 input
    x = np.zeros((28, 28), "float32")
    x[4:24, 13:15] = 1.0
    digit = predictor.predict(x, preprocessed=True).digit
print(json.dumps({"digit": digit, "backend": predictor.backend, "modules": sorted(sys.modules)}))
"""
#: What no cold prediction on the default backend needs, from the shipped model or a store hit.
_NOT_ON_A_COLD_PREDICTION = {
    "tensorflow",  # the Keras backend only
    "keras",
    "onnx",  # building a graph: the prebuilt one is run
    "mnist_widgets.engines.onnx",
    "mnist_widgets.tfjs.graph",  # parsing the model again: the prebuilt graph was checked
    "mnist_widgets.engines._plan",
    "mnist_widgets.loader",  # downloading
    "mnist_widgets._http",
    "urllib3",
    "filelock",  # the store's writers
    "platformdirs",  # the default store root (MNIST_WIDGETS_CACHE is set)
    "PIL.ImageDraw",  # inking strokes
}


def test_a_cold_prediction_imports_only_what_it_runs(tmp_path):
    """A fresh process predicting with the shipped model or a store hit imports no module it
    does not run (each costs start-up time: issue 19), and no Pillow for a 28x28 input."""
    from mnist_widgets import shipped_model_dir
    from mnist_widgets.engines import prebuilt_onnx
    from mnist_widgets.store import ModelStore

    env = {**os.environ, "MNIST_WIDGETS_CACHE": str(tmp_path / "store")}
    artifacts = read_artifacts(shipped_model_dir())
    onnx = prebuilt_onnx(artifacts, source="shipped")
    ModelStore(tmp_path / "store").write("mnist", artifacts, derived={"model.onnx": onnx})
    for source in ("shipped", "cache://mnist"):
        for given in ("canvas", "28x28"):
            report = _child(_COLD, env, source, given)
            assert (report["digit"], report["backend"]) == (1, "onnxruntime")
            loaded = set(report["modules"])
            assert loaded & _NOT_ON_A_COLD_PREDICTION == set(), (source, given)
            assert "mnist_widgets.engines._runtime" in loaded  # (the names are real ones)
            assert ("PIL" in loaded) == (given == "canvas"), (source, given)


def test_shipped_model_dir_prefers_the_wheel_copy(tmp_path, seed_model_dir, monkeypatch):
    wheel, checkout = tmp_path / "pkg" / "_models" / "mnist", tmp_path / "repo" / "models" / "mnist"
    monkeypatch.setattr(_shipped, "_candidates", lambda: [wheel, checkout])
    with pytest.raises(MnistWidgetsError, match=r"shipped MNIST model is missing.*from_url"):
        _shipped.shipped_model_dir()
    shutil.copytree(seed_model_dir, checkout)
    assert _shipped.shipped_model_dir() == checkout
    shutil.copytree(seed_model_dir, wheel)
    assert _shipped.shipped_model_dir() == wheel


def test_default_predictor_loads_the_shipped_model(tmp_path, seed_model_dir, monkeypatch):
    shipped = tmp_path / "mnist"
    shutil.copytree(seed_model_dir, shipped)
    monkeypatch.setattr(_shipped, "_candidates", lambda: [shipped])
    monkeypatch.setenv("MNIST_WIDGETS_OFFLINE", "1")  # no network needed
    assert Predictor().predict(_one()).digit == 1


@pytest.mark.parametrize("backend", ["numpy", "onnxruntime"])
def test_predict_command_and_widget_take_a_backend(tmp_path, seed_model_dir, backend, capsys):
    from PIL import Image

    from mnist_widgets.cli import main
    from mnist_widgets.widget import DigitCanvas

    Image.fromarray(_one()).save(tmp_path / "one.png")
    args = ["predict", str(tmp_path / "one.png"), "--model", str(seed_model_dir)]
    assert main([*args, "--backend", backend, "--top", "1"]) == 0
    assert capsys.readouterr().out.splitlines()[0].endswith(": 1")
    with pytest.raises(SystemExit):
        main([*args, "--backend", "cuda"])
    assert "invalid choice: 'cuda'" in capsys.readouterr().err
    widget = DigitCanvas(backend=backend)
    assert widget.predictor.backend == backend
    assert widget.draw_stroke([(140, 40), (140, 240)]).digit == 1


def test_without_onnxruntime_the_numpy_engine_runs(tmp_path):
    # What Pyodide (JupyterLite) has: NumPy, no onnx/onnxruntime, no TensorFlow.
    code = textwrap.dedent(
        """
        import sys, json
        for name in ("onnx", "onnxruntime", "tensorflow", "keras"):
            sys.modules[name] = None  # importing it raises ImportError
        import numpy as np
        import mnist_widgets as mw
        canvas = np.zeros((280, 280), np.uint8)
        canvas[40:240, 132:150] = 255
        p = mw.Predictor()
        print(json.dumps({"backend": p.backend, "digit": p.predict(canvas).digit}))
        """
    )
    env = {**os.environ, "MNIST_WIDGETS_CACHE": str(tmp_path)}
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == {"backend": "numpy", "digit": 1}
