from __future__ import annotations

import matplotlib
import numpy as np
import pytest

from mnist_widgets import plots

matplotlib.use("Agg")


def test_confusion_matrix_counts_true_by_predicted():
    y_true = np.array([0, 0, 1, 2, 2, 2])
    y_pred = np.array([0, 1, 1, 2, 0, 2])
    m = plots.confusion_matrix(y_true, y_pred)
    assert m.shape == (10, 10)
    assert m.sum() == 6
    assert m[0, 0] == 1 and m[0, 1] == 1 and m[1, 1] == 1 and m[2, 2] == 2 and m[2, 0] == 1


def test_most_confident_errors_orders_wrong_predictions_by_confidence():
    probs = np.array(
        [
            [0.9, 0.1],  # right (label 0)
            [0.2, 0.8],  # wrong, 0.8
            [0.4, 0.6],  # wrong, 0.6
            [0.05, 0.95],  # wrong, 0.95
        ]
    )
    labels = np.array([0, 0, 0, 0])
    assert plots.most_confident_errors(probs, labels, k=2).tolist() == [3, 1]
    assert plots.most_confident_errors(probs, labels, k=10).tolist() == [3, 1, 2]


def test_figures_draw_one_axis_per_digit_and_label_them():
    images = np.random.default_rng(0).integers(0, 255, size=(12, 28, 28), dtype=np.uint8)
    fig = plots.show_digits(images, labels=range(12), columns=5)
    titled = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titled == [str(i) for i in range(12)]
    assert len(fig.axes) == 15  # 3 rows x 5 columns, the last three blank


def test_history_plot_has_train_and_validation_curves():
    hist = {"loss": [1.0, 0.5], "val_loss": [1.1, 0.6], "accuracy": [0.7, 0.9]}
    fig = plots.plot_history(hist)
    loss_ax, acc_ax = fig.axes
    assert [line.get_label() for line in loss_ax.lines] == ["train_loss", "val_loss"]
    assert [line.get_label() for line in acc_ax.lines] == ["train_accuracy"]


def test_confusion_plot_title_states_accuracy():
    fig = plots.plot_confusion_matrix(np.array([1, 1, 2, 3]), np.array([1, 1, 2, 0]))
    assert "75.00%" in fig.axes[0].get_title()


@pytest.mark.parametrize("k", [0, 3])
def test_confident_errors_figure(k):
    rng = np.random.default_rng(1)
    probs = rng.dirichlet(np.ones(10), size=50)
    labels = (probs.argmax(1) + 1) % 10  # every prediction wrong
    fig = plots.show_confident_errors(rng.random((50, 28, 28)), probs, labels, k=k)
    assert sum(1 for ax in fig.axes if ax.get_title()) == k


def test_confusion_matrix_text_stays_readable_on_dark_cells():
    # Every count's colour contrasts with its cell: white on dark red, black on light red.
    from matplotlib.colors import to_rgb

    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 10, 3000)
    y_pred = np.where(rng.random(3000) < 0.9, y_true, rng.integers(0, 10, 3000))
    y_true[:200], y_pred[:200] = 4, 9  # one dominant error: the darkest cell
    fig = plots.plot_confusion_matrix(y_true, y_pred)
    ax = fig.axes[0]
    image = ax.get_images()[0]
    cells = image.to_rgba(image.get_array())

    def luminance(rgb) -> float:
        return 0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2]

    for text in ax.texts:
        col, row = (round(v) for v in text.get_position())
        contrast = abs(luminance(to_rgb(text.get_color())) - luminance(cells[row, col][:3]))
        assert contrast > 0.35, (text.get_text(), row, col, text.get_color())


def test_learning_curves_have_whole_epoch_ticks():
    fig = plots.plot_history({"loss": [0.5, 0.3], "val_loss": [0.4, 0.35], "accuracy": [0.9, 0.95]})
    for ax in fig.axes:
        ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
        assert ticks and all(float(t).is_integer() for t in ticks)
