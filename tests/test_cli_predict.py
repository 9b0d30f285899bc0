from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from mnist_widgets.cli import main


def _one() -> np.ndarray:
    canvas = np.zeros((280, 280), np.uint8)
    canvas[40:240, 132:150] = 255
    return canvas


@pytest.fixture
def images(tmp_path):
    paper = tmp_path / "paper.png"  # black ink on white, opaque: read as grayscale, inverted
    Image.fromarray(255 - _one()).save(paper)
    rgba = np.zeros((280, 280, 4), np.uint8)
    rgba[..., 3] = _one()  # a browser canvas export: the ink is in the alpha channel
    drawing = tmp_path / "drawing.png"
    Image.fromarray(rgba).save(drawing)
    blank = tmp_path / "blank.png"
    Image.fromarray(np.zeros((64, 64), np.uint8)).save(blank)
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not an image")
    return {"paper": paper, "drawing": drawing, "blank": blank, "broken": broken}


def test_predict_prints_digit_and_top_probabilities(images, seed_model_dir, capsys):
    code = main(
        ["predict", str(images["paper"]), str(images["drawing"]), "--model", str(seed_model_dir)]
    )
    out = capsys.readouterr().out.splitlines()
    assert code == 0
    assert out[0] == f"{images['paper']}: 1"
    assert out[4] == f"{images['drawing']}: 1"
    probabilities = [float(line.split()[1]) for line in out[1:4]]
    assert probabilities == sorted(probabilities, reverse=True) and probabilities[0] > 0.9


def test_a_path_given_twice_is_predicted_twice(images, seed_model_dir, capsys):
    path = str(images["drawing"])
    assert main(["predict", path, path, "--model", str(seed_model_dir), "--top", "1"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [out[0], out[1]] * 2 and out[0] == f"{path}: 1"


def test_blank_image_is_reported_not_classified(images, seed_model_dir, capsys):
    code = main(["predict", str(images["blank"]), "--model", str(seed_model_dir)])
    captured = capsys.readouterr()
    assert code == 1
    assert captured.out == ""
    assert "blank.png: the image holds no ink" in captured.err


@pytest.mark.parametrize(
    ("name", "message"), [("broken", "cannot read it as an image"), ("missing", "no such file")]
)
def test_unreadable_files_get_one_clean_line(images, tmp_path, capsys, name, message):
    path = images.get(name, tmp_path / "missing.png")
    assert main(["predict", str(path)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0] and "Traceback" not in err[0]


def test_model_from_the_store(images, seed_model_dir, capsys):
    from mnist_widgets.sources import read_artifacts, write_artifacts

    write_artifacts(read_artifacts(seed_model_dir), "cache://seed")  # the test's private store
    assert main(["predict", str(images["drawing"]), "--model", "cache://seed", "--top", "1"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].endswith(": 1") and len(out) == 2


def _clicks(points, width: int = 20) -> np.ndarray:
    """Dark ink on white paper: round brush marks at ``points`` joined by lines."""
    from PIL import ImageDraw

    img = Image.new("L", (280, 280), 255)
    draw = ImageDraw.Draw(img)
    if len(points) > 1:
        draw.line(points, fill=0, width=width, joint="curve")
    for x, y in points:
        draw.ellipse((x - width / 2, y - width / 2, x + width / 2, y + width / 2), fill=0)
    return np.asarray(img)


@pytest.mark.parametrize(
    ("points", "width", "message"),
    [
        ([(140, 140)], 20, "not a digit: the ink is a dot, a short dash or a blob"),
        ([(128, 140), (152, 140)], 20, "not a digit: the ink is a dot, a short dash or a blob"),
        (
            [(100, 100), (108, 96), (104, 110)],
            16,
            "not a digit: the ink is a dot, a short dash or a blob",
        ),
        ([(140, 140)], 5, "not a digit: too little ink"),
    ],
    ids=["dot", "dash", "scribble", "speck"],
)
def test_a_dot_or_a_dash_is_not_classified(
    tmp_path, seed_model_dir, capsys, points, width, message
):
    path = tmp_path / "mark.png"
    Image.fromarray(_clicks(points, width)).save(path)
    code = main(["predict", str(path), "--model", str(seed_model_dir)])
    captured = capsys.readouterr()
    assert code == 1 and captured.out == ""
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and f"mark.png: {message}" in err[0]


def test_model_url_finds_the_entry_cache_fetch_stored_under_another_name(
    images, seed_model_dir, capsys, monkeypatch
):
    from mnist_widgets.serve import serve_directory
    from mnist_widgets.store import ModelStore

    with serve_directory(seed_model_dir) as server:
        url = server.url + "model.json"
        assert main(["cache", "fetch", url, "--name", "u8"]) == 0
    monkeypatch.setenv("MNIST_WIDGETS_OFFLINE", "1")  # the server is gone too: only the store
    capsys.readouterr()
    assert main(["predict", str(images["drawing"]), "--model", url, "--top", "1"]) == 0
    assert capsys.readouterr().out.splitlines()[0].endswith(": 1")
    assert [entry.name for entry in ModelStore().list_models()] == ["u8"]  # no second copy


def test_model_onnx_from_export_predicts_like_the_tfjs_model(images, seed_model_dir, capsys):
    pytest.importorskip("onnxruntime")
    out_dir = images["drawing"].parent / "onnx"
    assert main(["export", str(seed_model_dir), "--format", "onnx", "--out", str(out_dir)]) == 0
    capsys.readouterr()
    drawing = str(images["drawing"])
    assert main(["predict", drawing, "--model", str(out_dir / "model.onnx")]) == 0
    from_onnx = capsys.readouterr().out
    assert main(["predict", drawing, "--model", str(seed_model_dir)]) == 0
    assert from_onnx == capsys.readouterr().out and from_onnx.startswith(f"{drawing}: 1")
    code = main(["predict", drawing, "--model", str(out_dir / "model.onnx"), "--backend", "numpy"])
    assert code == 1 and "runs on backend='onnxruntime'" in capsys.readouterr().err
    (out_dir / "broken.onnx").write_bytes(b"not onnx")
    assert main(["predict", drawing, "--model", str(out_dir / "broken.onnx")]) == 1
    err = capsys.readouterr().err
    assert "not an ONNX model" in err and len(err.strip().splitlines()) == 1
