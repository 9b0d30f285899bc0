"""finetune: the last layer learns a hand the base misreads and keeps MNIST; only it changes."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import numpy as np
import pytest

from mnist_widgets import handwriting
from mnist_widgets.drawings import Drawing, DrawingSet
from mnist_widgets.engines._plan import cut, plan_artifacts
from mnist_widgets.errors import ConfigError, ModelFormatError
from mnist_widgets.finetuning import finetune, finetune_info, model_sha256
from mnist_widgets.predictor import Predictor
from mnist_widgets.tfjs.artifacts import ModelArtifacts
from mnist_widgets.tfjs.graph import load_weights, parse_graph
from mnist_widgets.tfjs.weights import replace_weights
from mnist_widgets.widget import DigitCanvas


def drawn(predictor: Predictor, drawings: list[tuple[int, handwriting.Strokes]]) -> DrawingSet:
    """Each drawing through the widget's own path (draw_stroke), kept with its right digit."""
    canvas = DigitCanvas(predictor)
    kept = DrawingSet()
    for digit, strokes in drawings:
        canvas.clear()
        for stroke in strokes:
            canvas.draw_stroke(stroke)
        kept.add(Drawing(canvas.strokes, canvas.prediction.input, digit, canvas.prediction.digit))
    return kept


def accuracy(predictor: Predictor, drawings: DrawingSet) -> float:
    got = [p.digit for p in predictor.predict_batch(drawings.inputs, preprocessed=True)]
    return float(np.mean(np.array(got) == drawings.labels))


@pytest.fixture(scope="module")
def base() -> Predictor:
    return Predictor(backend="numpy")


@pytest.fixture(scope="module")
def taught(base):
    """5 flagged 1s and 5 crossed 7s to learn from; 20 new drawings of every digit to test on."""
    train = drawn(base, handwriting.sample([1, 7], 5, seed=100))
    test = drawn(base, handwriting.sample(range(10), 20, seed=200))
    return train, test, finetune(base, train)


def test_the_base_misreads_the_hand_and_the_tuned_model_reads_new_drawings(base, taught):
    train, test, tuned = taught
    ones = DrawingSet([d for d in test if d.label == 1])
    assert accuracy(base, ones) < 0.5  # the continental 1 reads as 7
    assert accuracy(tuned, ones) >= 0.95
    assert accuracy(tuned, test) >= 0.95
    assert accuracy(tuned, train) == 1.0


def test_mnist_accuracy_stays(base, taught, mnist):
    (_, _), (x_test, y_test) = mnist
    x = x_test[:2000].astype(np.float32) / 255.0

    def mnist_accuracy(predictor: Predictor) -> float:
        got = [p.digit for p in predictor.predict_batch(x, preprocessed=True)]
        return float(np.mean(np.array(got) == y_test[:2000]))

    assert mnist_accuracy(taught[2]) >= mnist_accuracy(base) - 0.005


def test_only_the_last_layer_changes_and_the_model_says_where_it_came_from(base, taught):
    _, _, tuned = taught
    old, new = base.artifacts, tuned.artifacts
    assert old is not None and new is not None
    assert new.model_json["modelTopology"] == old.model_json["modelTopology"]
    assert {p: len(b) for p, b in new.weight_files.items()} == {
        p: len(b) for p, b in old.weight_files.items()
    }
    graph = parse_graph(old.model_json, source="base")
    before, after = load_weights(graph, old, source="a"), load_weights(graph, new, source="b")
    changed = {name for name in before if not np.array_equal(before[name], after[name])}
    assert changed == {"dense_2/kernel", "dense_2/bias"}
    info = finetune_info(tuned)
    assert info is not None and finetune_info(base) is None
    assert info.base_sha256 == model_sha256(old)
    assert (info.examples, dict(info.per_digit), info.layer) == (10, {1: 5, 7: 5}, "dense_2")
    created = datetime.fromisoformat(info.created)
    assert abs((datetime.now(timezone.utc) - created).total_seconds()) < 600
    # the record is plain JSON in model.json, where TF.js keeps userDefinedMetadata
    assert json.loads(new.model_json_bytes())["userDefinedMetadata"]["mnist_widgets"]["finetune"]


def test_the_same_drawings_give_the_same_model(base, taught):
    train, _, tuned = taught
    again = finetune(base, train)
    assert again.artifacts.weight_files == tuned.artifacts.weight_files
    other = finetune(base, train, seed=1)  # other replay digits: another (equally good) model
    assert other.artifacts.weight_files != tuned.artifacts.weight_files


def test_onnxruntime_gives_the_model_numpy_gives(base, taught):
    train, test, tuned = taught
    on_onnx = finetune(Predictor(backend="onnxruntime"), train)
    assert on_onnx.backend == "onnxruntime"
    x = test.inputs[:, :, :, None]
    assert np.abs(on_onnx.engine(x) - tuned.engine(x)).max() < 1e-3


def test_the_pull_alone_works_and_settings_are_checked(base, taught):
    train, _, _ = taught
    assert finetune(base, train, replay=0, pull=0.1).artifacts is not None
    with pytest.raises(ConfigError, match="no examples"):
        finetune(base, DrawingSet())
    for bad in ({"replay": 101}, {"max_steps": 0}, {"example_weight": 0.0}, {"pull": -1.0}):
        with pytest.raises(ConfigError, match="out of range"):
            finetune(base, train, **bad)


def test_a_model_whose_last_layer_is_not_a_classifier_is_refused(base, taught):
    model_json = json.loads(base.artifacts.model_json_bytes())
    layers = model_json["modelTopology"]["model_config"]["config"]["layers"]
    assert layers[-1]["config"]["name"] == "dense_2"
    layers[-1]["config"]["activation"] = "tanh"
    odd = Predictor(ModelArtifacts(model_json, base.artifacts.weight_files), backend="numpy")
    with pytest.raises(
        ModelFormatError, match="last layer, which must be a Dense layer with a softmax"
    ):
        finetune(odd, taught[0])


def test_cut_gives_the_features_the_last_layer_reads(base):
    from mnist_widgets.engines import plan_engine
    from mnist_widgets.engines.numpy import activation

    plan = plan_artifacts(base.artifacts, source="shipped")
    head = plan.steps[-1]
    body = plan_engine(cut(plan, head.input), "numpy")
    x = np.random.default_rng(0).random((3, 28, 28, 1), dtype=np.float32)
    features = body(x)
    assert features.shape == (3, 512)
    logits = features @ head.kernel + head.bias
    assert np.allclose(activation("softmax", logits), base.engine(x), atol=1e-6)
    with pytest.raises(ModelFormatError, match="no layer"):
        cut(plan, "nope")


def test_replace_weights_keeps_every_other_byte_and_requantizes():
    from mnist_widgets.tfjs.weights import encode_weights

    rng = np.random.default_rng(0)
    named = [
        (n, rng.normal(size=s).astype(np.float32))
        for n, s in [("a/kernel", (5, 3)), ("b/kernel", (3, 2))]
    ]
    manifest, files = encode_weights(named, quantize_dtype="uint8", shard_size_bytes=7)
    model_json = {"modelTopology": {}, "weightsManifest": manifest}
    new_b = rng.normal(size=(3, 2)) * 10
    new_json, new_files = replace_weights(model_json, files, {"b/kernel": new_b})
    assert {p: len(b) for p, b in new_files.items()} == {p: len(b) for p, b in files.items()}
    stream, old_stream = b"".join(new_files.values()), b"".join(files.values())
    assert stream[:15] == old_stream[:15]  # a/kernel: 15 uint8 bytes, untouched
    spec = new_json["weightsManifest"][0]["weights"][1]["quantization"]
    decoded = np.frombuffer(stream[15:], np.uint8) * spec["scale"] + spec["min"]
    assert np.abs(decoded.reshape(3, 2) - new_b).max() <= spec["scale"]
    assert model_json["weightsManifest"][0]["weights"][1]["quantization"] != spec  # copied
    with pytest.raises(ModelFormatError, match="no weight named"):
        replace_weights(model_json, files, {"c/kernel": new_b})
    with pytest.raises(ModelFormatError, match="shape"):
        replace_weights(model_json, files, {"b/kernel": new_b.T})


def test_the_bundled_replay_features_are_the_shipped_models(base):
    """replay.npz carries the shipped model's features of its digits (a first fine-tuning in the
    browser need not compute them). After the shipped model changes, this fails until
    ``python scripts/replay_digits.py --features-only`` runs."""
    from mnist_widgets.finetuning import _replay, bundle_features

    bundled = _replay()
    fresh = bundle_features(base)
    assert str(fresh["features_body"]) == bundled.body, (
        "the shipped model changed: run `python scripts/replay_digits.py --features-only`"
    )
    computed = fresh["features"] * fresh["features_step"] + fresh["features_lo"]
    assert bundled.features is not None
    assert np.abs(bundled.features - computed).max() <= float(fresh["features_step"])


def test_another_model_computes_its_own_replay_features(seed_model_dir, taught):
    seed = Predictor(str(seed_model_dir), backend="numpy")  # the article's model, another body
    tuned = finetune(seed, taught[0])
    assert finetune_info(tuned).base_sha256 == model_sha256(seed.artifacts)
    assert accuracy(tuned, taught[0]) == 1.0


def test_a_progress_bar_when_asked_and_none_when_not(base, taught, capsys):
    finetune(base, taught[0], progress=True)
    assert "fine-tuning" in capsys.readouterr().err
    finetune(base, taught[0], progress=False)
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    "metadata", [None, "text", {"mnist_widgets": "x"}, {"mnist_widgets": {"finetune": {"a": 1}}}]
)
def test_someone_elses_metadata_is_no_record_and_is_replaced(base, taught, metadata):
    model_json = json.loads(base.artifacts.model_json_bytes())
    model_json["userDefinedMetadata"] = metadata
    other = Predictor(ModelArtifacts(model_json, base.artifacts.weight_files), backend="numpy")
    assert finetune_info(other) is None
    assert finetune_info(finetune(other, taught[0])).examples == 10
