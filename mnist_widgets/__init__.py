"""mnist-widgets: offline-first handwritten-digit recognition for Jupyter.

Train the TensorFlow.js ``mnist-node`` CNN, export it in the TF.js layers format, load it by URL
through a verified local model store, and draw digits in a notebook cell.

Importing this package is cheap: TensorFlow is imported only when a function needs it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._lazy import lazy_getattr

__version__ = "0.1.0"

# public name -> submodule that defines it (resolved lazily by __getattr__)
_EXPORTS: dict[str, str] = {
    # data / model / training
    "load_mnist": "data",
    "find_mnist": "data",
    "fetch_mnist": "data",
    "build_model": "model",
    "train": "training",
    # TF.js layers format
    "save_layers_model": "keras_io",
    "load_layers_model": "keras_io",
    # offline-first loading and the model store
    "fetch_model": "keras_io",
    "FetchResult": "loader",
    "NetworkOptions": "loader",
    "ModelStore": "store",
    "list_models": "store",
    "remove_model": "store",
    "serve_directory": "serve",
    "shipped_model_dir": "_shipped",
    # drawing and prediction
    "preprocess": "preprocessing",
    "Predictor": "predictor",
    "Prediction": "predictor",
    "DigitCanvas": "widget",
    # teaching it your handwriting
    "Drawing": "drawings",
    "DrawingSet": "drawings",
    "CorrectionBar": "corrections",
    "finetune": "finetuning",
    "finetune_info": "finetuning",
    "PersonalModel": "personal",
    # errors
    "MnistWidgetsError": "errors",
    "ConfigError": "errors",
    "DataError": "errors",
    "ModelFormatError": "errors",
    "DownloadError": "errors",
    "CacheError": "errors",
    "OfflineError": "errors",
    "CanvasError": "errors",
    "EmptyCanvasError": "errors",
}

__all__ = ["__version__", *_EXPORTS]

__getattr__ = lazy_getattr(__name__, _EXPORTS)


def __dir__() -> list[str]:
    return sorted(__all__)


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from ._shipped import shipped_model_dir
    from .corrections import CorrectionBar
    from .data import fetch_mnist, find_mnist, load_mnist
    from .drawings import Drawing, DrawingSet
    from .errors import (
        CacheError,
        CanvasError,
        ConfigError,
        DataError,
        DownloadError,
        EmptyCanvasError,
        MnistWidgetsError,
        ModelFormatError,
        OfflineError,
    )
    from .finetuning import finetune, finetune_info
    from .keras_io import fetch_model, load_layers_model, save_layers_model
    from .loader import FetchResult, NetworkOptions
    from .model import build_model
    from .personal import PersonalModel
    from .predictor import Prediction, Predictor
    from .preprocessing import preprocess
    from .serve import serve_directory
    from .store import ModelStore, list_models, remove_model
    from .training import train
    from .widget import DigitCanvas
