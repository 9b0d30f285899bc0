"""Where what ships with the package lives: the trained model and the tutorial notebooks."""

from __future__ import annotations

from pathlib import Path

from .errors import MnistWidgetsError

_PACKAGE = Path(__file__).resolve().parent


def _candidates() -> list[Path]:
    # An installed wheel carries the model inside the package (hatch force-include in
    # pyproject.toml); a source checkout (editable install) has it at <repo>/models/mnist.
    return [_PACKAGE / "_models" / "mnist", _PACKAGE.parent / "models" / "mnist"]


def shipped_model_dir() -> Path:
    """Return the directory holding the shipped model's ``model.json`` and weights.

    Raises
    ------
    MnistWidgetsError
        Neither location holds a ``model.json``.
    """
    for path in _candidates():
        if (path / "model.json").is_file():
            return path
    looked = ", ".join(str(p) for p in _candidates())
    msg = (
        f"the shipped MNIST model is missing (looked for model.json in {looked}); reinstall "
        "mnist-widgets, or pass a model yourself: Predictor(model), Predictor.from_url(URL), "
        "or `mnist-widgets predict --model URL_OR_PATH`"
    )
    raise MnistWidgetsError(msg)


#: The tutorials, in order (``mnist-widgets tutorials DIR`` copies them out).
TUTORIALS = (
    "01_train.ipynb",
    "02_export.ipynb",
    "03_offline_cache.ipynb",
    "04_draw.ipynb",
    "05_teach.ipynb",
)


def tutorials_dir() -> Path:
    """The directory holding the tutorial notebooks: inside an installed wheel
    (``mnist_widgets/_tutorials``), or a source checkout's ``notebooks/``.

    Raises
    ------
    MnistWidgetsError
        Neither location holds them.
    """
    candidates = [_PACKAGE / "_tutorials", _PACKAGE.parent / "notebooks"]
    for path in candidates:
        if all((path / name).is_file() for name in TUTORIALS):
            return path
    looked = ", ".join(str(p) for p in candidates)
    msg = f"the tutorial notebooks are missing (looked in {looked}); reinstall mnist-widgets"
    raise MnistWidgetsError(msg)


def shipped_onnx() -> bytes | None:
    """The shipped model's prebuilt ONNX graph (``model.onnx`` beside it), if it is there.

    The engine runs it only if its key matches the model's files (else it builds one), so a
    stale file costs time, never a wrong answer. Regenerate it after replacing the model:
    ``mnist-widgets export models/mnist --format onnx --out models/mnist``.
    """
    try:
        return (shipped_model_dir() / "model.onnx").read_bytes()
    except OSError:
        return None
