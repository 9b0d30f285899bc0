"""The personal model in the store: saved, reloaded cache-first (offline too), reset, downloaded,
and loaded by real TF.js 4.22."""

from __future__ import annotations

import base64
import re
import subprocess
import sys
import warnings

import numpy as np
import pytest
from _node import read_json_lines
from test_finetuning import drawn

from mnist_widgets import handwriting
from mnist_widgets.errors import ConfigError
from mnist_widgets.finetuning import finetune, finetune_info, model_sha256
from mnist_widgets.personal import PersonalModel, PersonalModelWarning
from mnist_widgets.predictor import Predictor
from mnist_widgets.sources import write_artifacts
from mnist_widgets.store import ModelStore


@pytest.fixture(scope="module")
def base() -> Predictor:
    return Predictor(backend="numpy")


@pytest.fixture(scope="module")
def tuned(base) -> Predictor:
    return finetune(base, drawn(base, handwriting.sample([1, 7], 3, seed=5)))


@pytest.fixture
def images() -> np.ndarray:
    return np.random.default_rng(0).random((4, 28, 28, 1), dtype=np.float32)


def test_saved_then_loaded_cache_first_offline_then_reset(
    tmp_path, base, tuned, images, monkeypatch
):
    mine = PersonalModel(store=ModelStore(tmp_path / "store"))
    assert mine.url == "cache://mnist-mine" and not mine.exists() and mine.info() is None
    assert mine.load(base) is base  # nothing stored yet: the base model
    entry = mine.save(tuned)
    assert entry.url == "cache://mnist-mine" and mine.exists()
    assert [e.name for e in mine.store.list_models()] == ["mnist-mine"]
    monkeypatch.setenv("MNIST_WIDGETS_OFFLINE", "1")  # the next visit, without a network
    again = mine.load(base)
    assert again is not base and again.backend == base.backend
    assert np.array_equal(again.engine(images), tuned.engine(images))
    info = mine.info()
    assert info == finetune_info(tuned) and info.base_sha256 == model_sha256(base.artifacts)
    assert info.examples == 6
    assert mine.reset() is True and not mine.exists() and mine.reset() is False
    assert mine.load(base) is base


def test_a_personal_model_of_another_base_still_loads_with_a_warning(tmp_path, tuned, base):
    mine = PersonalModel("cache://mine-2", store=ModelStore(tmp_path))
    mine.save(tuned)
    with pytest.warns(PersonalModelWarning, match="another model than the base") as caught:
        mine.load(tuned)  # tuned is not what it was fine-tuned from
    assert caught[0].filename == __file__  # the user's line, not the package's
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mine.load(base)


def test_a_damaged_personal_model_falls_back_to_the_base_and_says_so(tmp_path, tuned, base):
    mine = PersonalModel(store=ModelStore(tmp_path))
    entry = mine.save(tuned)
    weights = next(p for p in entry.path.iterdir() if p.suffix == ".bin")
    weights.write_bytes(b"\0" * weights.stat().st_size)
    with pytest.warns(PersonalModelWarning, match="cannot be read") as caught:
        assert mine.load(base) is base
    assert caught[0].filename == __file__


def test_only_a_finetuned_model_is_saved(tmp_path, base):
    with pytest.raises(ConfigError, match="fine-tuned model"):
        PersonalModel(store=ModelStore(tmp_path)).save(base)


def test_the_download_links_carry_the_files(tmp_path, tuned):
    mine = PersonalModel(store=ModelStore(tmp_path))
    mine.save(tuned)
    html = mine.download_link().value
    links = dict(re.findall(r'download="([^"]+)" href="data:[^;]+;base64,([^"]+)"', html))
    files = {"model.json": tuned.artifacts.model_json_bytes(), **tuned.artifacts.weight_files}
    assert {name: base64.b64decode(data) for name, data in links.items()} == files


@pytest.mark.node
def test_real_tfjs_loads_the_personal_model_and_its_record(tmp_path, tuned, images, node_tfjs):
    mine = PersonalModel(store=ModelStore(tmp_path / "store"))
    mine.save(tuned)
    write_artifacts(mine.store.read(mine.name), tmp_path / "mine")  # the downloaded files
    images.tofile(tmp_path / "inputs.f32")
    out = node_tfjs("metadata.js", tmp_path / "mine", tmp_path / "inputs.f32", *images.shape)
    (line,) = read_json_lines(out)
    probs = np.asarray(line["probs"], np.float32).reshape(line["shape"])
    assert np.abs(probs - tuned.engine(images)).max() <= 1e-5
    record = line["metadata"]["mnist_widgets"]["finetune"]
    assert record == finetune_info(tuned).to_json()


def test_a_saved_personal_model_starts_without_building_its_graph_again(tmp_path, tuned):
    """Saving keeps the ONNX graph beside the model: a later process imports no ``onnx``."""
    PersonalModel(store=ModelStore(tmp_path)).save(tuned)
    code = (
        "import sys; from mnist_widgets.personal import PersonalModel; "
        "from mnist_widgets.store import ModelStore; "
        f"p = PersonalModel(store=ModelStore({str(tmp_path)!r})).load(); "
        "assert p.backend == 'onnxruntime' and p.artifacts is not None, p; "
        "print(sorted(m for m in sys.modules if m == 'onnx' or m.startswith('onnx.')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
