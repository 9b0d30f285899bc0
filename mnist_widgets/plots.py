"""Matplotlib figures for the tutorial notebooks: one call per figure, no TensorFlow.

Every function returns the ``matplotlib.figure.Figure`` it drew, so notebooks show it inline and
tests can inspect it. Matplotlib is an optional dependency (the ``notebooks`` extra).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def _figure(figsize: tuple[float, float]) -> Figure:
    """A new pyplot figure (so notebooks show it inline), as ``plt.subplots`` makes one."""
    try:
        import matplotlib.pyplot as plt  # deferred: matplotlib is optional and slow to import
    except ImportError as exc:  # pragma: no cover - depends on the environment
        msg = "plots need matplotlib: pip install 'mnist-widgets[notebooks]'"
        raise ImportError(msg) from exc
    return plt.figure(figsize=figsize)


def show_digits(
    images: np.ndarray,
    labels: Sequence[int] | np.ndarray | None = None,
    *,
    titles: Sequence[str] | None = None,
    columns: int = 10,
    size: float = 1.1,
) -> Figure:
    """Show digits in a grid, white ink on black as MNIST stores them.

    Parameters
    ----------
    images : array (N, 28, 28), uint8 or float in [0, 1]
    labels : optional labels printed above each digit
    titles : optional free-form titles (override ``labels``)
    """
    images = np.asarray(images)
    n = len(images)
    rows = max(1, -(-n // columns))
    fig = _figure((columns * size, rows * size * 1.15))
    for i, ax in enumerate(fig.subplots(rows, columns, squeeze=False).ravel()):
        ax.axis("off")
        if i >= n:
            continue
        ax.imshow(images[i], cmap="gray", vmin=0, vmax=255 if images.dtype == np.uint8 else 1)
        if titles is not None:
            ax.set_title(titles[i], fontsize=8)
        elif labels is not None:
            ax.set_title(str(int(labels[i])), fontsize=9)
    fig.tight_layout()
    return fig


def plot_class_counts(labels: np.ndarray, *, title: str = "Digits per class") -> Figure:
    """Bar chart of how many examples each digit has."""
    counts = np.bincount(np.asarray(labels), minlength=10)
    fig = _figure((6, 2.5))
    ax = fig.subplots()
    ax.bar(range(10), counts, color="#4c72b0")
    ax.set_xticks(range(10))
    ax.set_xlabel("digit")
    ax.set_ylabel("examples")
    ax.set_title(title)
    for digit, count in enumerate(counts):
        ax.text(digit, count, f"{count:,}", ha="center", va="bottom", fontsize=7)
    fig.tight_layout()
    return fig


def plot_history(history: Mapping[str, Sequence[float]] | object) -> Figure:
    """Loss and accuracy per epoch, training vs validation.

    ``history`` is a :class:`~mnist_widgets.training.TrainHistory`, a Keras ``History``, or the
    ``.history`` dict of either.
    """
    hist = getattr(history, "history", history)
    if not isinstance(hist, Mapping):
        msg = f"expected a Keras History or its .history dict, got {type(history).__name__}"
        raise TypeError(msg)
    fig = _figure((10, 3.2))
    from matplotlib.ticker import MaxNLocator  # after _figure: matplotlib is there

    ax_loss, ax_acc = fig.subplots(1, 2, squeeze=False)[0]
    for ax, key, label in ((ax_loss, "loss", "loss"), (ax_acc, "accuracy", "accuracy")):
        for prefix, style in (("", "-o"), ("val_", "--o")):
            values = hist.get(prefix + key)
            if values:
                epochs = np.arange(1, len(values) + 1)
                ax.plot(epochs, values, style, markersize=3, label=(prefix or "train_") + key)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
        ax.set_title(label)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    return fig


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int = 10) -> np.ndarray:
    """Counts ``[true, predicted]`` (pure NumPy)."""
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    return np.bincount(y_true * num_classes + y_pred, minlength=num_classes**2).reshape(
        num_classes, num_classes
    )


def plot_confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray) -> Figure:
    """Confusion matrix with counts; the diagonal is what the model got right."""
    matrix = confusion_matrix(y_true, y_pred)
    fig = _figure((5.5, 5))
    ax = fig.subplots()
    off_diagonal = matrix - np.diag(np.diag(matrix))
    ax.imshow(off_diagonal, cmap="Reds")
    dark = max(int(off_diagonal.max()), 1) * 0.55  # "Reds" is dark red from here up
    for (t, p), count in np.ndenumerate(matrix):
        if count:
            # the diagonal is not coloured (green on white); errors: white on dark red
            light = "white" if off_diagonal[t, p] >= dark else "black"
            color = "#1a7f37" if t == p else light
            ax.text(p, t, str(count), ha="center", va="center", fontsize=7, color=color)
    ax.set_xticks(range(10))
    ax.set_yticks(range(10))
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    accuracy = np.trace(matrix) / matrix.sum()
    ax.set_title(f"Confusion matrix (accuracy {accuracy:.2%}; errors in red)")
    fig.tight_layout()
    return fig


def most_confident_errors(probabilities: np.ndarray, labels: np.ndarray, k: int = 10) -> np.ndarray:
    """Indices of the ``k`` wrong predictions the model was most sure of, most confident first."""
    probabilities = np.asarray(probabilities)
    predicted = probabilities.argmax(axis=1)
    wrong = np.flatnonzero(predicted != np.asarray(labels))
    confidence = probabilities[wrong, predicted[wrong]]
    return wrong[np.argsort(-confidence, kind="stable")[:k]]


def show_confident_errors(
    images: np.ndarray, probabilities: np.ndarray, labels: np.ndarray, k: int = 10
) -> Figure:
    """The most confidently wrong digits, titled ``true -> predicted (confidence)``."""
    idx = most_confident_errors(probabilities, labels, k)
    predicted = probabilities.argmax(axis=1)
    titles = [f"{labels[i]}→{predicted[i]} ({probabilities[i, predicted[i]]:.0%})" for i in idx]
    return show_digits(images[idx], titles=titles, columns=min(10, max(1, len(idx))), size=1.3)


def compare_inputs(rows: Mapping[str, Sequence[np.ndarray]], *, size: float = 1.2) -> Figure:
    """Show several versions of the same drawings side by side, one labelled row each.

    ``rows`` maps a row label (e.g. "canvas", "article's pooling", "our preprocessing") to images.
    """
    labels = list(rows)
    columns = max(len(v) for v in rows.values())
    fig = _figure((columns * size, len(labels) * size))
    axes = fig.subplots(len(labels), columns, squeeze=False)
    for r, label in enumerate(labels):
        for c in range(columns):
            ax = axes[r][c]
            ax.set_xticks([])
            ax.set_yticks([])
            if c < len(rows[label]):
                ax.imshow(rows[label][c], cmap="gray")
            if c == 0:
                ax.set_ylabel(label, fontsize=9, rotation=0, ha="right", va="center")
    fig.tight_layout()
    return fig
