"""Import TensorFlow/Keras quietly and only when needed.

TensorFlow 2.21 writes oneDNN, CUDA-probe and CPU-feature banners straight to file descriptor 2
at import time, before absl logging is initialised, so no environment variable silences them
(tried: ``TF_CPP_MIN_LOG_LEVEL``, ``GLOG_minloglevel``, ``ABSL_MIN_LOG_LEVEL``). ipykernel forwards
fd 2 into notebook output, so the banners would land in every notebook. We capture fd 2 while
importing, drop the known banners, and pass anything else through: a real error still shows.
Both are imported by name (``importlib``): they ship no type information, so to callers they are
plain modules whose attributes are untyped.
"""

from __future__ import annotations

import importlib
import logging
import os
import re
import sys
import tempfile
from types import ModuleType

_QUIET_ENV = {
    "TF_CPP_MIN_LOG_LEVEL": "3",  # C++ logging after absl is initialised
    "GRPC_VERBOSITY": "ERROR",
}

# Lines TensorFlow prints on every import on a CPU-only machine; none is actionable for our users.
_BANNERS = re.compile(
    r"All log messages before absl::InitializeLog\(\)"
    r"|\] oneDNN custom operations are on"
    r"|cudart_stub\.cc.*Could not find cuda drivers"
    r"|cpu_feature_guard\.cc"
    r"|^To enable the following instructions:"
    r"|Unable to register cu(DNN|FFT|BLAS) factory"
    r"|computation placer already registered"
    r"|TF-TRT Warning: Could not find TensorRT"
)


def quiet_environment() -> None:
    """Set TensorFlow's logging variables, unless the user already chose values."""
    for key, value in _QUIET_ENV.items():
        os.environ.setdefault(key, value)


def _import_filtered() -> ModuleType:
    """Import tensorflow with fd 2 captured; re-emit every line that is not a known banner."""
    try:
        sys.stderr.flush()
        saved_fd = os.dup(2)
    except (OSError, ValueError):  # no usable fd 2 (unusual embedders): import plainly
        return importlib.import_module("tensorflow")
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            tensorflow = importlib.import_module("tensorflow")
        finally:
            os.dup2(saved_fd, 2)
            os.close(saved_fd)
            capture.seek(0)
            kept = [
                line
                for line in capture.read().decode("utf-8", "replace").splitlines(keepends=True)
                if not _BANNERS.search(line)
            ]
            if kept:
                sys.stderr.write("".join(kept))
    return tensorflow


def tensorflow() -> ModuleType:
    """Return the ``tensorflow`` module, imported without log noise."""
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    quiet_environment()
    tf = _import_filtered()
    tf.get_logger().setLevel(logging.ERROR)
    return tf


def keras() -> ModuleType:
    """Return the Keras 3 module, imported without log noise."""
    tensorflow()
    return importlib.import_module("keras")
