"""Training: a short run that learns, reproducibility, Ctrl-C keeps the best weights, augment."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

from mnist_widgets._tf import keras, tensorflow
from mnist_widgets.errors import ConfigError
from mnist_widgets.training import augment_batch, split_rows, train


@pytest.fixture(scope="module")
def small_test(mnist):
    """All training images, 1,000 test images: for tests that check mechanics, not accuracy."""
    (x_train, y_train), (x_test, y_test) = mnist
    return (x_train, y_train), (x_test[:1000], y_test[:1000])


def test_short_run_on_a_subset_clearly_learns(mnist, capsys):
    _, history = train(epochs=2, subset=3000, seed=1, data=mnist, verbose="notebook")
    assert history.epochs_completed == 2 and not history.interrupted
    assert history.train_samples == 2550 and history.validation_samples == 450
    assert history.test_accuracy > 0.85  # chance is 0.10
    assert history.history["loss"][1] < history.history["loss"][0]
    assert set(history.history) >= {"loss", "accuracy", "val_loss", "val_accuracy"}
    lr = history.history["learning_rate"]
    assert lr[0] > lr[1] >= 0  # cosine decay
    assert history.best_epoch in (1, 2)
    assert history.best_val_accuracy == max(history.history["val_accuracy"])
    # the notebook progress: one summary line per epoch, no per-batch lines
    err = capsys.readouterr().err
    assert "epoch 1/2: " in err and "epoch 2/2: " in err


def test_split_rows_are_the_rows_train_validates_on(small_test):
    """Scripts evaluate on a seeded run's held-out digits through split_rows: they must be the
    rows train() validated on (one epoch: the returned weights are the ones validated)."""
    (x, y), _ = small_test
    model, history = train(
        epochs=1, subset=1000, seed=3, data=small_test, verbose=0, label_smoothing=0
    )
    val_rows, train_rows = split_rows(len(x), 3, subset=1000)
    assert len(val_rows) == history.validation_samples == 150
    assert len(train_rows) == history.train_samples and not set(val_rows) & set(train_rows)
    probs = model.predict(x[val_rows, :, :, None] / np.float32(255), verbose=0)
    truth = probs[np.arange(len(val_rows)), y[val_rows]]
    assert np.mean(probs.argmax(axis=1) == y[val_rows]) == pytest.approx(history.best_val_accuracy)
    assert np.mean(-np.log(truth)) == pytest.approx(history.history["val_loss"][0], rel=1e-4)


def test_same_seed_same_run(small_test):
    runs = [train(epochs=1, subset=400, seed=7, data=small_test, verbose=0) for _ in range(2)]
    (m1, h1), (m2, h2) = runs
    assert h1.history == h2.history
    for a, b in zip(m1.get_weights(), m2.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    _, h3 = train(epochs=1, subset=400, seed=8, data=small_test, verbose=0)
    assert h3.history != h1.history


def test_ctrl_c_stops_cleanly_and_keeps_the_best_weights(small_test):
    seen: dict[int, tuple[float, list[np.ndarray]]] = {}

    class Interrupt(keras().callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen[epoch + 1] = (logs["val_accuracy"], self.model.get_weights())

        def on_train_batch_end(self, batch, logs=None):
            if len(seen) == 3 and batch == 2:
                raise KeyboardInterrupt

    model, history = train(
        epochs=10, subset=1000, seed=3, data=small_test, verbose=0, callbacks=[Interrupt()]
    )
    assert history.interrupted and history.epochs_completed == 3
    best = max(seen, key=lambda e: seen[e][0])
    assert history.best_epoch == best
    for kept, expected in zip(model.get_weights(), seen[best][1], strict=True):
        np.testing.assert_array_equal(kept, expected)
    # The test figures are those of the returned model (the kept weights), not of the last epoch.
    _, (x_test, y_test) = small_test
    probabilities = model.predict(x_test[..., None] / 255.0, verbose=0)
    kept_accuracy = float(np.mean(probabilities.argmax(axis=1) == y_test))
    assert history.test_accuracy == pytest.approx(kept_accuracy, abs=1e-6)


def test_augment_batch_moves_pixels_within_range_and_is_seeded(mnist):
    tf = tensorflow()
    (x, _), _ = mnist
    images = tf.constant(x[:64, :, :, None].astype(np.float32) / 255.0)
    out = augment_batch(images, tf.constant(5, tf.int64)).numpy()
    assert out.shape == (64, 28, 28, 1) and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0
    np.testing.assert_array_equal(out, augment_batch(images, tf.constant(5, tf.int64)).numpy())
    assert not np.array_equal(out, augment_batch(images, tf.constant(6, tf.int64)).numpy())
    changed = np.abs(out - images.numpy()).reshape(64, -1).max(axis=1)
    assert (changed > 0.1).mean() > 0.9  # nearly every image is altered
    # still a digit: thinner or thicker strokes change the ink, within limits; blank stays blank
    ratio = out.reshape(64, -1).sum(1) / images.numpy().reshape(64, -1).sum(1)
    assert ratio.min() > 0.4 and ratio.max() < 3.0
    assert augment_batch(tf.zeros((2, 28, 28, 1)), tf.constant(1, tf.int64)).numpy().max() == 0


def test_augmented_training_runs_and_learns(small_test):
    _, history = train(epochs=2, subset=2000, seed=2, augment=True, data=small_test, verbose=0)
    assert history.test_accuracy > 0.5


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"epochs": 0}, "epochs must be a positive integer"),
        ({"batch_size": -1}, "batch_size must be"),
        ({"validation_split": 1.0}, r"validation_split must be in \[0, 1\)"),
        ({"subset": 1}, "subset must be"),
        ({"label_smoothing": 1.0}, r"label_smoothing must be in \[0, 1\)"),
        ({"verbose": "loud"}, "verbose must be"),
    ],
)
def test_bad_arguments_are_rejected_before_training(mnist, kwargs, message):
    with pytest.raises(ConfigError, match=message):
        train(data=mnist, **{"subset": 100, "epochs": 1, **kwargs})


# ----------------------------------------------------------------------------- CLI


def test_cli_trains_a_tiny_subset_and_saves_both_formats(tmp_path, capsys):
    from mnist_widgets.cli import main

    keras_file, tfjs_dir = tmp_path / "out" / "model.keras", tmp_path / "tfjs"
    argv = ["train", "--epochs", "1", "--batch_size", "64", "--subset", "300", "--seed", "1"]
    argv += ["--keras-file", str(keras_file), "--model_save_path", str(tfjs_dir)]
    argv += ["--history-file", str(tmp_path / "history.json")]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "Trained:       1/1 epochs" in out and "Test accuracy: 0." in out
    assert str(keras_file) in out and str(tfjs_dir) in out
    assert keras().models.load_model(keras_file).count_params() == 594_922
    assert (tfjs_dir / "model.json").is_file()
    saved = json.loads((tmp_path / "history.json").read_text())
    assert saved["epochs"] == 1 and len(saved["history"]["val_accuracy"]) == 1
    assert saved["train_samples"] == 255 and 0.1 < saved["test_accuracy"] <= 1


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--keras-file", "model.h5"], "must end in .keras"),
        (["--model-save-path", "FILE"], "is a file; expected a directory"),
        (["--epochs", "0"], "epochs must be a positive integer"),
    ],
)
def test_cli_rejects_bad_arguments_with_one_clean_line(tmp_path, capsys, extra, message):
    from mnist_widgets.cli import main

    (tmp_path / "FILE").write_text("not a directory")
    extra = [str(tmp_path / e) if e == "FILE" else e for e in extra]
    assert main(["train", "--subset", "100", *extra]) == 1
    err = capsys.readouterr().err
    assert err.startswith("mnist-widgets train: error: ") and message in err
    assert err.count("\n") == 1


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--epochs", "0"], "epochs must be a positive integer"),
        (["--label-smoothing", "1"], "label_smoothing must be in [0, 1)"),
    ],
)
def test_cli_checks_arguments_before_loading_data(tmp_path, capsys, extra, message):
    from mnist_widgets.cli import main

    # An empty --data-dir would fail with "no MNIST data": the argument error must come first.
    argv = ["train", "--data-dir", str(tmp_path), *extra]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("mnist-widgets train: error: ") and message in err
    assert "no MNIST data" not in err


def test_a_signal_mid_batch_stops_at_the_batch_end_and_restores_the_handler(small_test):
    """A real SIGINT while a batch runs: the batch finishes (the interrupt is raised between
    batches, never inside TensorFlow's native code), then training stops as for Ctrl-C."""

    class Signal(keras().callbacks.Callback):
        at: int | None = None

        def on_train_batch_begin(self, batch, logs=None):
            if batch == 1 and self.at is None:
                self.at = int(self.model.optimizer.iterations.numpy())
                signal.raise_signal(signal.SIGINT)

    sent = Signal()
    model, history = train(
        epochs=3, subset=1000, seed=3, data=small_test, verbose=0, callbacks=[sent]
    )
    assert history.interrupted and history.epochs_completed == 0
    assert int(model.optimizer.iterations.numpy()) == sent.at + 1  # the batch under way ran
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


@pytest.mark.slow
def test_cli_real_ctrl_c_saves_the_best_weights_and_exits_130(tmp_path):
    """A real SIGINT to the training process, as a user pressing Ctrl-C in a terminal."""
    keras_file, history_file = tmp_path / "m.keras", tmp_path / "h.json"
    cmd = [sys.executable, "-m", "mnist_widgets", "train", "--epochs", "100", "--subset", "1500"]
    cmd += ["--seed", "1", "--keras-file", str(keras_file), "--history-file", str(history_file)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        for line in proc.stdout:  # Keras prints "Epoch 3/100" once two epochs are done
            if line.startswith("Epoch 3/"):
                proc.send_signal(signal.SIGINT)
                break
        out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert "Interrupted after" in err and "Traceback" not in err
    saved = json.loads(history_file.read_text())
    assert saved["interrupted"] and 2 <= saved["epochs"] < 100
    assert saved["best_epoch"] == 1 + int(np.argmax(saved["history"]["val_accuracy"]))
    assert keras_file.is_file() and "(interrupted with Ctrl-C)" in out


def test_pick_variant_takes_one_seeded_version_per_example():
    from mnist_widgets.training import pick_variant

    tf = tensorflow()
    # 32 examples x 3 versions; version v of every example is filled with the value v
    images = tf.constant(
        np.broadcast_to(np.arange(3.0)[None, :, None, None, None], (32, 3, 28, 28, 1))
    )
    picked = pick_variant(images, tf.constant(11, tf.int64)).numpy()
    assert picked.shape == (32, 28, 28, 1)
    versions = picked[:, 0, 0, 0]
    assert set(versions.tolist()) == {0.0, 1.0, 2.0}
    np.testing.assert_array_equal(pick_variant(images, tf.constant(11, tf.int64)).numpy(), picked)


def test_pen_recipe_trains_on_pen_drawn_copies(mnist, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))  # the copies' cache: not the user's
    (x, y), (x_test, y_test) = mnist
    data = (x[:1200], y[:1200]), (x_test[:300], y_test[:300])
    _, history = train(epochs=1, seed=2, recipe="pen", data=data, verbose=0)
    assert history.epochs_completed == 1
    assert len(list((tmp_path / "mnist-widgets" / "augment").iterdir())) == 1
    with pytest.raises(ConfigError, match="recipe must be one of pen"):
        train(epochs=1, recipe="pencil", data=data)


def test_interpolate_mixes_the_starting_and_the_trained_weights(small_test):
    from mnist_widgets.model import build_model

    def start():  # the same starting model twice: weights and dropout seeds
        keras().utils.set_random_seed(0)
        return build_model()

    before = start().get_weights()
    trained, _ = train(epochs=1, subset=300, seed=4, data=small_test, verbose=0, model=start())
    half, _ = train(
        epochs=1, subset=300, seed=4, data=small_test, verbose=0, model=start(), interpolate=0.5
    )
    for b, t, h in zip(before, trained.get_weights(), half.get_weights(), strict=True):
        np.testing.assert_allclose(h, (b + t) / 2, atol=1e-6)
    with pytest.raises(ConfigError, match="interpolate needs a starting model"):
        train(epochs=1, subset=300, data=small_test, interpolate=0.5)
