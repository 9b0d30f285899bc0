"""Hostile inputs, second round (issue 20): non-finite weights, memory per model, local files,
raw exceptions, symlinked store entries.

Memory cases run in a child process under ``RLIMIT_AS`` (:func:`run_limited`), so a regression
fails the test instead of exhausting the machine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from mnist_widgets.cli import main
from mnist_widgets.errors import ModelFormatError
from mnist_widgets.predictor import Predictor
from mnist_widgets.tfjs.artifacts import ModelArtifacts
from mnist_widgets.tfjs.weights import encode_weights

REPO = Path(__file__).resolve().parents[1]
BACKENDS = ["numpy", "onnxruntime"]
INPUT = [None, 28, 28, 1]


# -- helpers ---------------------------------------------------------------------------------------


def _layers_json(layers: list[dict[str, Any]], manifest: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "format": "layers-model",
        "modelTopology": {
            "class_name": "Sequential",
            "config": {"name": "m", "layers": layers},
            "keras_version": "tfjs-layers 4.22.0",
            "backend": "tensor_flow.js",
        },
        "weightsManifest": manifest,
    }


def digit_model(
    kernel: np.ndarray | None = None, *, quantize: str | None = None
) -> tuple[dict[str, Any], dict[str, bytes]]:
    """Input 28x28x1 -> Flatten -> Dense(10, softmax): model.json and its weight files."""
    rng = np.random.default_rng(0)
    if kernel is None:
        kernel = rng.normal(0, 0.05, (784, 10)).astype(np.float32)
    layers = [
        {"class_name": "InputLayer", "config": {"name": "in", "batch_input_shape": INPUT}},
        {"class_name": "Flatten", "config": {"name": "flat"}},
        {"class_name": "Dense", "config": {"name": "dense", "units": 10, "activation": "softmax"}},
    ]
    named = [("dense/kernel", kernel), ("dense/bias", np.zeros(10, np.float32))]
    manifest, files = encode_weights(named, quantize_dtype=quantize)
    return _layers_json(layers, manifest), files


def write_model(directory: Path, model_json: dict[str, Any], files: dict[str, bytes]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "model.json").write_text(json.dumps(model_json))
    for name, data in files.items():
        (directory / name).write_bytes(data)
    return directory


def one_canvas() -> np.ndarray:
    canvas = np.zeros((280, 280), np.uint8)
    canvas[40:240, 132:150] = 255
    return canvas


def run_limited(
    code: str, *, limit_mb: int = 1024, timeout: float = 60, stderr: bool = False
) -> str:
    """Run ``code`` in a child Python whose address space is capped at ``limit_mb``; its stdout
    (then its stderr, with ``stderr=True``).

    The child has this checkout first on its path; a MemoryError or a kill shows as a failure.
    """
    prelude = textwrap.dedent(
        f"""
        import resource
        resource.setrlimit(resource.RLIMIT_AS, ({limit_mb} << 20, {limit_mb} << 20))
        """
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), str(REPO / "tests")]))
    env["OPENBLAS_NUM_THREADS"] = env["OMP_NUM_THREADS"] = "1"  # thread stacks cost address space
    proc = subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )
    assert proc.returncode == 0, f"child failed ({proc.returncode}):\n{proc.stderr[-3000:]}"
    return proc.stdout + (proc.stderr if stderr else "")


def refused_in_child(call: str, error: str, *, limit_mb: int = 1024) -> str:
    """Run ``call`` (an expression, ``mnist_widgets`` imported) in a child under ``limit_mb``;
    the message of the ``mnist_widgets.errors.<error>`` it raised (a failure if none)."""
    out = run_limited(
        f"""
        import mnist_widgets.data, mnist_widgets.predictor, mnist_widgets.sources
        from mnist_widgets.errors import {error}
        try:
            {call}
        except {error} as exc:
            print("refused:", exc)
        """,
        limit_mb=limit_mb,
    )
    assert out.startswith("refused:"), out
    return out


# -- 1. non-finite weights and scores --------------------------------------------------------------


def _poisoned(kind: str) -> tuple[dict[str, Any], dict[str, bytes]]:
    kernel = np.random.default_rng(1).normal(0, 0.05, (784, 10)).astype(np.float32)
    if kind in ("float32-nan", "float32-inf"):
        kernel[400, 3] = np.nan if kind == "float32-nan" else -np.inf
        return digit_model(kernel)
    if kind in ("float16-inf", "float16-nan"):
        model_json, files = digit_model(kernel, quantize="float16")
        (name,) = files
        halves = np.frombuffer(files[name], "<f2").copy()
        halves[400 * 10 + 3] = np.inf if kind == "float16-inf" else np.nan
        return model_json, {name: halves.tobytes()}
    # uint8 / uint16 with a finite scale (or min) that overflows float32 once dequantized
    dtype, field = kind.split("-")
    model_json, files = digit_model(kernel, quantize=dtype)
    spec = model_json["weightsManifest"][0]["weights"][0]["quantization"]
    spec[field] = 1e38 if field == "scale" else -3e39
    return model_json, files


@pytest.mark.parametrize(
    "kind",
    ["float32-nan", "float32-inf", "float16-inf", "float16-nan", "uint8-scale", "uint16-min"],
)
@pytest.mark.parametrize("backend", BACKENDS)
def test_non_finite_weights_are_refused_after_decoding_naming_the_weight(kind, backend):
    model_json, files = _poisoned(kind)
    artifacts = ModelArtifacts(model_json, files)  # the files themselves are well formed
    with pytest.raises(ModelFormatError, match=r"weight 'dense/kernel' holds [\d,]+ non-finite"):
        Predictor(artifacts, backend=backend)


def test_non_finite_weights_are_refused_by_the_keras_decoder_too():
    pytest.importorskip("tensorflow")
    from mnist_widgets.tfjs.codec import decode_model

    match = r"'dense/kernel' holds 1 non-finite values \(NaN\)"
    with pytest.raises(ModelFormatError, match=match):
        decode_model(ModelArtifacts(*_poisoned("float32-nan")))


def _overflowing_model() -> tuple[dict[str, Any], dict[str, bytes]]:
    """Finite weights whose scores overflow float32 on any inked image (3e38 per ink pixel)."""
    return digit_model(np.full((784, 10), 3e38, np.float32))


@pytest.mark.parametrize("backend", BACKENDS)
def test_scores_that_are_not_finite_are_an_error_never_a_digit(backend):
    predictor = Predictor(ModelArtifacts(*_overflowing_model()), backend=backend)
    with pytest.raises(ModelFormatError, match="scores for image 0 of the batch are not finite"):
        predictor.predict(one_canvas())
    with pytest.raises(ModelFormatError, match="not finite"):
        predictor.predict_batch([one_canvas()])


def test_cli_predict_with_non_finite_scores_prints_one_line_and_fails(tmp_path, capsys):
    model = write_model(tmp_path / "model", *_overflowing_model())
    image = tmp_path / "one.png"
    Image.fromarray(one_canvas()).save(image)
    code = main(["predict", str(image), "--model", str(model), "--backend", "numpy"])
    captured = capsys.readouterr()
    assert code == 1 and captured.out == ""
    assert captured.err.count("\n") == 1 and "not finite" in captured.err


def test_cli_predict_with_nan_weights_prints_one_line_and_fails(tmp_path, capsys):
    model = write_model(tmp_path / "model", *_poisoned("float32-nan"))
    image = tmp_path / "one.png"
    Image.fromarray(one_canvas()).save(image)
    code = main(["predict", str(image), "--model", str(model)])
    captured = capsys.readouterr()
    assert code == 1 and captured.out == ""
    assert captured.err.count("\n") == 1 and "'dense/kernel'" in captured.err


# -- 5. raw exceptions where a package error is promised ------------------------------------------


@pytest.mark.parametrize("argv", [["cache", "list"], ["cache", "fetch", "URL"], ["predict"]])
def test_a_cache_path_with_an_unknown_user_is_a_config_error(argv, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MNIST_WIDGETS_CACHE", "~nosuchuser-mnist-widgets/models")
    monkeypatch.setenv("MNIST_WIDGETS_OFFLINE", "1")  # nothing may leave the machine anyway
    url = "http://127.0.0.1:9/model.json"
    if argv[0] == "predict":
        image = tmp_path / "one.png"
        Image.fromarray(one_canvas()).save(image)
        argv = ["predict", str(image), "--model", url]
    argv = [url if a == "URL" else a for a in argv]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "MNIST_WIDGETS_CACHE" in err and "~nosuchuser" in err


def test_the_store_refuses_an_unknown_user_with_a_config_error(monkeypatch):
    from mnist_widgets.errors import ConfigError
    from mnist_widgets.store import ModelStore

    monkeypatch.setenv("MNIST_WIDGETS_CACHE", "~nosuchuser-mnist-widgets/models")
    with pytest.raises(ConfigError, match="MNIST_WIDGETS_CACHE"):
        ModelStore()
    with pytest.raises(ConfigError, match="model store root"):
        ModelStore("~nosuchuser-mnist-widgets")


def test_a_nul_byte_in_a_path_is_our_error_everywhere(tmp_path):
    from mnist_widgets.errors import CacheError, MnistWidgetsError
    from mnist_widgets.serve import serve_directory
    from mnist_widgets.sources import read_artifacts
    from mnist_widgets.store import ModelStore

    artifacts = ModelArtifacts(*digit_model())
    bad = str(tmp_path / "a\x00b")
    with pytest.raises(CacheError, match="NUL byte"):
        ModelStore(bad).write("m", artifacts)
    with pytest.raises(MnistWidgetsError, match="NUL byte"):
        Predictor(bad)
    with pytest.raises(MnistWidgetsError, match="NUL byte"):
        read_artifacts(bad)
    with pytest.raises(MnistWidgetsError, match="NUL byte"):
        read_artifacts("file://" + bad)
    with pytest.raises(MnistWidgetsError, match="NUL byte"):
        serve_directory(bad)


def test_fetch_with_a_store_at_a_nul_path_returns_the_network_model_with_a_warning(tmp_path):
    from _serving import serve_directory

    from mnist_widgets.loader import CacheWriteWarning, fetch_artifacts
    from mnist_widgets.store import ModelStore

    model = write_model(tmp_path / "model", *digit_model())
    with serve_directory(model) as server, pytest.warns(CacheWriteWarning, match="NUL byte"):
        result = fetch_artifacts(
            server.url + "model.json", store=ModelStore(str(tmp_path / "a\x00b"))
        )
    assert result.source == "network" and result.entry is None
    assert result.artifacts is not None and "dense/kernel" in str(result.artifacts.model_json)


@pytest.mark.parametrize(
    ("value", "what"),
    [
        ("abc", "dtype <U3"),
        ([[0.0] * 28] * 27 + [[0.0] * 27], "no rectangular array"),
        ({"pixels": 0}, "dtype object"),
        (np.zeros((28, 28), np.complex64) + 0.5j, "dtype complex64"),
        (np.array([["x"] * 28] * 28), "dtype <U1"),
    ],
)
def test_preprocessed_input_that_is_no_real_array_is_a_canvas_error(value, what):
    from mnist_widgets.errors import CanvasError

    predictor = Predictor(ModelArtifacts(*digit_model()), backend="numpy")
    with pytest.raises(CanvasError, match=what):
        predictor.predict(value, preprocessed=True)


@pytest.mark.parametrize("name", ["a/b", "a b", "_x", "é", "-x", "x:0"])
def test_layer_names_tfjs_cannot_use_are_refused_at_the_graph_check(name):
    from mnist_widgets.tfjs.graph import check_artifacts

    model_json, files = digit_model()
    layers = model_json["modelTopology"]["config"]["layers"]
    layers[2]["config"]["name"] = name
    for weight in model_json["weightsManifest"][0]["weights"]:
        weight["name"] = weight["name"].replace("dense", name)
    artifacts = ModelArtifacts(model_json, files)
    with pytest.raises(ModelFormatError, match=r"field 'name' must start with a letter or digit"):
        check_artifacts(artifacts, source="m")
    with pytest.raises(ModelFormatError, match="field 'name'"):
        Predictor(artifacts, backend="numpy")


def test_cli_export_of_a_layer_named_with_a_slash_prints_one_line(tmp_path, capsys):
    model_json, files = digit_model()
    model_json["modelTopology"]["config"]["layers"][2]["config"]["name"] = "a/b"
    for weight in model_json["weightsManifest"][0]["weights"]:
        weight["name"] = weight["name"].replace("dense", "a/b")
    model = write_model(tmp_path / "model", model_json, files)
    assert main(["export", str(model), "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "layer 'a/b' (Dense): field 'name' must start" in err


# -- 6. the store and symlinked entries ------------------------------------------------------------


def test_an_entry_moved_away_behind_a_symlink_is_never_copied_through_it(tmp_path):
    import shutil

    from _serving import serve_directory

    from mnist_widgets.loader import CacheWriteWarning, fetch_artifacts
    from mnist_widgets.store import ModelStore

    model = write_model(tmp_path / "model", *digit_model())
    store = ModelStore(tmp_path / "store")
    other_disk = tmp_path / "other-disk"
    other_disk.mkdir()
    with serve_directory(model) as server:
        url = server.url + "model.json"
        first = fetch_artifacts(url, cache="digits", store=store)
        assert first.source == "network" and first.entry is not None
        shutil.move(store.root / "digits", other_disk / "digits")
        (store.root / "digits").symlink_to(other_disk / "digits", target_is_directory=True)
        before = sorted(p.name for p in (other_disk / "digits").iterdir())
        for _ in range(2):
            with pytest.warns(CacheWriteWarning, match="is a symbolic link"):
                again = fetch_artifacts(url, cache="digits", store=store)
            assert again.source == "network" and again.entry is None
    assert sorted(p.name for p in (other_disk / "digits").iterdir()) == before
    assert (store.root / "digits").is_symlink()


def test_a_symlinked_tmp_folder_is_not_written_through(tmp_path):
    import shutil

    from mnist_widgets.errors import CacheError
    from mnist_widgets.store import ModelStore

    store = ModelStore(tmp_path / "store")
    artifacts = ModelArtifacts(*digit_model())
    store.write("digits", artifacts)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.rmtree(store.root / ".tmp", ignore_errors=True)
    (store.root / ".tmp").symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(CacheError, match="is a symbolic link"):
        store.write("digits", artifacts)
    assert list(elsewhere.iterdir()) == []
    assert store.read("digits").model_json == artifacts.model_json


# -- 3. local files: regular files only, the caps a download has -----------------------------------

LOCAL_CASES = ["dev-zero", "model-json-links-to-dev-zero", "weights-link-to-dev-zero", "sparse-3gb"]


def _hostile_local_model(tmp_path: Path, case: str) -> str:
    if case == "dev-zero":
        return "/dev/zero"
    model = write_model(tmp_path / case, *digit_model())
    if case == "model-json-links-to-dev-zero":
        (model / "model.json").unlink()
        (model / "model.json").symlink_to("/dev/zero")
    elif case == "weights-link-to-dev-zero":
        (model / "group1-shard1of1.bin").unlink()
        (model / "group1-shard1of1.bin").symlink_to("/dev/zero")
    else:  # a sparse model.json of 3 GB: no disk used, but read whole it takes 3 GB
        with (model / "model.json").open("r+b") as fh:
            fh.truncate(3 * 1024**3)
    return str(model)


@pytest.mark.parametrize("case", LOCAL_CASES)
def test_local_models_that_are_not_regular_files_or_too_big_are_refused_unread(tmp_path, case):
    model = _hostile_local_model(tmp_path, case)
    image = tmp_path / "one.png"
    Image.fromarray(one_canvas()).save(image)
    out = run_limited(
        f"""
        from mnist_widgets.cli import main
        from mnist_widgets.sources import read_artifacts
        from mnist_widgets.errors import ModelFormatError
        try:
            read_artifacts({model!r})
        except ModelFormatError as exc:
            print("refused:", exc)
        argv = ["predict", {str(image)!r}, "--model", {model!r}, "--backend", "numpy"]
        print("exit", main(argv))
        """,
        limit_mb=1024,
        timeout=60,
        stderr=True,
    )
    assert out.startswith("refused:") and "\nexit 1\nmnist-widgets predict: error: " in out
    assert out.count("\n") == 3
    assert any(
        what in out
        for what in (
            "is a character device, not a regular file",
            "more than the 33,554,432",
            "more than the 31,400 it may have",
        )
    ), out


def test_a_weight_file_of_another_size_than_the_manifest_is_refused_before_reading(tmp_path):
    model = write_model(tmp_path / "m", *digit_model())
    with (model / "group1-shard1of1.bin").open("r+b") as fh:
        fh.truncate(4 * 1024**3)  # sparse: read whole, 4 GiB
    out = refused_in_child(
        f"mnist_widgets.sources.read_artifacts({str(model)!r})", "ModelFormatError"
    )
    assert "has 4,294,967,296 bytes, more than the 31,400" in out


@pytest.mark.parametrize("where", ["model", "model.json", "image"])
def test_a_fifo_never_blocks_a_load_or_a_prediction(tmp_path, where):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    image = tmp_path / "one.png"
    Image.fromarray(one_canvas()).save(image)
    if where == "model":
        argv = ["predict", str(image), "--model", str(fifo)]
    elif where == "model.json":
        model = write_model(tmp_path / "m", *digit_model())
        (model / "model.json").unlink()
        os.mkfifo(model / "model.json")
        argv = ["predict", str(image), "--model", str(model)]
    else:
        argv = ["predict", str(fifo)]
    code = f"""
        from mnist_widgets.cli import main
        raise SystemExit(0 if main({argv!r}) == 1 else 3)
        """
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=30,  # a FIFO with no writer blocks forever: the test fails instead
        env=env,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count("\n") == 1 and "a FIFO (named pipe), not a regular file" in proc.stderr


def _mnist_dir(tmp_path: Path) -> Path:
    """A data dir whose train images come first: the other three files are never reached."""
    directory = tmp_path / "mnist"
    directory.mkdir()
    for stem in ("train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        (directory / stem).write_bytes(b"never read")
    return directory


def test_a_gzip_bomb_in_place_of_mnist_stops_at_the_known_size(tmp_path):
    import gzip

    directory = _mnist_dir(tmp_path)
    member = gzip.compress(bytes(64 * 1024**2), compresslevel=9)  # 64 MiB of zeros, ~64 KB
    (directory / "train-images-idx3-ubyte.gz").write_bytes(member * 64)  # 4 GiB inflated, ~4 MB
    out = refused_in_child(f"mnist_widgets.data.load_mnist({str(directory)!r})", "DataError")
    assert "inflates to more than the 47,040,016 bytes" in out


def test_a_sparse_4_gib_idx_file_is_refused_by_its_size_before_reading(tmp_path):
    directory = _mnist_dir(tmp_path)
    with (directory / "train-images-idx3-ubyte").open("wb") as fh:
        fh.truncate(4 * 1024**3)
    out = run_limited(
        f"""
        from mnist_widgets.cli import main
        from mnist_widgets.data import load_mnist
        from mnist_widgets.errors import DataError
        try:
            load_mnist({str(directory)!r})
        except DataError as exc:
            print("refused:", exc)
        raise SystemExit(main(["data", "info", "--data-dir", {str(directory)!r}]) != 1)
        """,
        limit_mb=1024,
    )
    assert out.startswith("refused:") and "4,294,967,296 bytes, more than the 47,040,016" in out


# -- 2. memory per model, batches in chunks, huge canvases -----------------------------------------


def _wide_conv_model(filters: int, activations: int) -> tuple[dict[str, Any], dict[str, bytes]]:
    """Conv2D(filters, 3x3, same) on 28x28x1, ``activations`` ReLU layers, a 28x28 max pool,
    Dense(10): each layer's output stays under the per-layer cap, the weights stay small."""
    rng = np.random.default_rng(0)
    conv = {"name": "conv", "filters": filters, "kernel_size": [3, 3], "padding": "same"}
    layers = [
        {"class_name": "InputLayer", "config": {"name": "in", "batch_input_shape": INPUT}},
        {"class_name": "Conv2D", "config": {**conv, "activation": "relu"}},
        *(
            {"class_name": "Activation", "config": {"name": f"act{i}", "activation": "relu"}}
            for i in range(activations)
        ),
        {"class_name": "MaxPooling2D", "config": {"name": "pool", "pool_size": [28, 28]}},
        {"class_name": "Flatten", "config": {"name": "flat"}},
        {"class_name": "Dense", "config": {"name": "dense", "units": 10, "activation": "softmax"}},
    ]
    named = [
        ("conv/kernel", rng.normal(0, 0.1, (3, 3, 1, filters)).astype(np.float32)),
        ("conv/bias", np.zeros(filters, np.float32)),
        ("dense/kernel", rng.normal(0, 0.01, (filters, 10)).astype(np.float32)),
        ("dense/bias", np.zeros(10, np.float32)),
    ]
    manifest, files = encode_weights(named)
    return _layers_json(layers, manifest), files


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_model_whose_layers_together_hold_gigabytes_is_refused_at_the_graph_check(
    tmp_path, backend
):
    # 40000 filters: 31.4 M values per layer (under the 67.1 M per-layer cap), 11 such layers:
    # 1.4 GB per image. A 3 MB download.
    model = write_model(tmp_path / "wide", *_wide_conv_model(40_000, 10))
    call = f"mnist_widgets.predictor.Predictor({str(model)!r}, backend={backend!r})"
    out = refused_in_child(call, "ModelFormatError")
    assert "values per sample in all" in out
    assert "more than the 67,108,864 this reader allows" in out


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_big_batch_runs_in_chunks_inside_the_memory_budget(tmp_path, backend):
    # 8000 filters: ~75 MB of working memory per image; a batch of 64 at once would take ~5 GB.
    model = write_model(tmp_path / "big", *_wide_conv_model(8_000, 1))
    out = run_limited(
        f"""
        import numpy as np
        from mnist_widgets.predictor import Predictor
        predictor = Predictor({str(model)!r}, backend={backend!r})
        rng = np.random.default_rng(0)
        images = [rng.random((28, 28), dtype=np.float32) for _ in range(64)]
        batch = predictor.predict_batch(images, preprocessed=True)
        one = [predictor.predict(images[i], preprocessed=True) for i in (0, 37, 63)]
        same = all(
            np.allclose(batch[i].probabilities, p.probabilities, atol=1e-5)
            for i, p in zip((0, 37, 63), one)
        )
        print(len(batch), same)
        """,
        limit_mb=1024,
        timeout=180,
    )
    assert out.split() == ["64", "True"]


@pytest.mark.parametrize("shape", [(40_000, 40_000), (40_000, 40_000, 4), (5000, 4000)])
def test_a_huge_canvas_array_is_refused_before_any_full_size_copy(shape):
    # a broadcast view: a real uint8 array of that shape that itself takes no memory
    canvas = np.broadcast_to(np.uint8(255), shape)
    out = run_limited(
        f"""
        import numpy as np
        from mnist_widgets.errors import CanvasError
        from mnist_widgets.preprocessing import preprocess
        from mnist_widgets.predictor import Predictor
        canvas = np.broadcast_to(np.uint8(255), {shape!r})
        for call in (preprocess, Predictor(backend="numpy").predict):
            try:
                call(canvas)
            except CanvasError as exc:
                print("refused:", exc)
        try:
            Predictor(backend="numpy").predict(canvas, preprocessed=True)
        except CanvasError as exc:
            print("refused:", exc)
        """,
        limit_mb=1024,
    )
    assert canvas.shape == shape
    lines = out.splitlines()
    assert len(lines) == 3 and all(line.startswith("refused:") for line in lines)
    assert "at most 16,777,216 are read" in lines[0] and "at most 16,777,216" in lines[1]
    assert "needs a (28, 28) array" in lines[2]
