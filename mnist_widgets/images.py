"""Read an image file as a canvas that :func:`~mnist_widgets.preprocessing.preprocess` accepts.

An image with transparency is read like a browser canvas (RGBA: the alpha channel is the ink when
it varies); any other image is read as grayscale, and dark ink on a light background (a scan, a
photo) is inverted by the preprocessing. 16-bit grayscale keeps its precision (floats in [0, 1]).

The pixel count is read from the file's header and checked before anything is decoded: a 48 KB PNG
can declare 20000x20000 pixels, which would take gigabytes to decode.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from ._fs import open_regular
from .errors import CanvasError

__all__ = ["MAX_IMAGE_PIXELS", "load_image"]

# 4096x4096: far more than a digit needs (the widget's canvas is 280x280), and decoding it costs
# at most ~64 MB as RGBA.
MAX_IMAGE_PIXELS = 4096 * 4096
_SIXTEEN_BIT = ("I;16", "I;16B", "I;16L", "I")


def load_image(path: str | os.PathLike[str], *, max_pixels: int = MAX_IMAGE_PIXELS) -> np.ndarray:
    """Read ``path`` as a uint8 ``(H, W)`` / ``(H, W, 4)`` array (float32 for 16-bit grayscale).

    Raises
    ------
    CanvasError
        The file is missing, is not an image Pillow can read, or declares more than
        ``max_pixels`` pixels (checked from its header, before decoding).

    Examples
    --------
    >>> import tempfile
    >>> from PIL import Image
    >>> path = Path(tempfile.mkdtemp()) / "digit.png"
    >>> Image.new("L", (28, 28), 255).save(path)  # white paper, no ink yet
    >>> load_image(path).shape
    (28, 28)
    >>> Image.new("L", (5000, 5000)).save(path)
    >>> load_image(path)
    Traceback (most recent call last):
    ...
    mnist_widgets.errors.CanvasError: ...digit.png is 5000x5000 pixels (25,000,000); at most ...
    """
    path = Path(path)
    try:
        with warnings.catch_warnings():
            # Pillow warns (and above twice its limit raises) on huge images: ours is lower.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            # A FIFO or a device would block or never end: only a regular file is opened.
            fh = open_regular(path, what="image", error=CanvasError)
            with fh, Image.open(fh) as img:  # reads the header only
                width, height = img.size
                if width * height > max_pixels:
                    msg = (
                        f"{path} is {width}x{height} pixels ({width * height:,}); at most "
                        f"{max_pixels:,} are read: scale it down (a digit needs no more than a few "
                        "hundred pixels a side)"
                    )
                    raise CanvasError(msg)
                img.load()
                if img.mode in _SIXTEEN_BIT:  # 16-bit grayscale: keep the precision
                    data = np.asarray(img, dtype=np.float32)
                    return np.clip(data / (65535 if data.max() > 255 else 255), 0, 1)
                has_alpha = img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info
                return np.asarray(img.convert("RGBA" if has_alpha else "L"))
    except CanvasError:  # ours (a ValueError too): already says what is wrong
        raise
    except FileNotFoundError as exc:
        msg = f"{path}: no such file"
        raise CanvasError(msg) from exc
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        msg = f"{path} declares too many pixels to decode safely ({exc}); scale it down"
        raise CanvasError(msg) from exc
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        # Pillow names the open file object, not the path: its "cannot identify" says no more
        detail = "" if isinstance(exc, UnidentifiedImageError) else f" ({exc})"
        msg = f"{path}: cannot read it as an image{detail}; expected PNG, JPEG or another format"
        raise CanvasError(msg) from exc
