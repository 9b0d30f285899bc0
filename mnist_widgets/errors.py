"""Exceptions raised by mnist-widgets.

Every message says what was received, what was expected, and what to do about it.
"""

from __future__ import annotations


class MnistWidgetsError(Exception):
    """Base class for every error this package raises on purpose."""


class ConfigError(MnistWidgetsError, ValueError):
    """An argument or setting is out of range or of the wrong type (``epochs=0``, a port of 99999).

    A ``ValueError`` too, so callers that caught ``ValueError`` before keep working.
    """


class DataError(MnistWidgetsError):
    """MNIST data is missing, corrupt, or does not match its published checksum."""


class ModelFormatError(MnistWidgetsError, ValueError):
    """A TF.js ``model.json`` or weights file is malformed or unsupported."""


class DownloadError(MnistWidgetsError):
    """A model could not be fetched over the network (status, timeout, size, truncation)."""


class OfflineError(DownloadError):
    """The network was needed but offline mode is on (``MNIST_WIDGETS_OFFLINE=1``): no valid
    cached copy, or ``strategy="network-only"``."""


class CacheError(MnistWidgetsError):
    """The local model store is missing an entry, corrupt, or cannot be written."""


class CanvasError(MnistWidgetsError, ValueError):
    """A drawing or image cannot be preprocessed: wrong shape, dtype, value range, NaN or inf."""


class EmptyCanvasError(CanvasError):
    """The canvas holds no ink (or too little to be a digit): there is nothing to classify."""
