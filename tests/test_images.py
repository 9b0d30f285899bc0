"""load_image: image files read as canvases, the pixel count checked before anything is decoded."""

from __future__ import annotations

import struct
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mnist_widgets.errors import CanvasError
from mnist_widgets.images import MAX_IMAGE_PIXELS, load_image


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def write_huge_png(path: Path, width: int, height: int) -> Path:
    """A valid, fully decodable 1-bit PNG of ``width`` x ``height`` black pixels: a few dozen KB."""
    row = b"\0" * (1 + (width + 7) // 8)  # filter byte + packed bits
    packer = zlib.compressobj(9)
    idat = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat)
    path.write_bytes(png + _chunk(b"IEND", b""))
    return path


@pytest.mark.parametrize(
    "side",
    [
        20000,  # 400 M pixels: Pillow itself calls this a decompression bomb
        13000,  # 169 M: just under Pillow's error limit, ~2.5 GB to decode and convert
        4200,  # 17.6 M: Pillow would decode it quietly; still more than a digit needs
    ],
)
def test_an_image_declaring_too_many_pixels_is_refused_before_decoding(tmp_path, side):
    path = write_huge_png(tmp_path / f"{side}.png", side, side)
    assert path.stat().st_size < 200_000
    start = time.perf_counter()
    with pytest.raises(CanvasError, match="pixels") as info:
        load_image(path)
    assert time.perf_counter() - start < 2  # decoding 20000x20000 would take far longer
    assert str(path) in str(info.value) and "scale it down" in str(info.value)


def test_the_pixel_limit_is_inclusive_and_adjustable(tmp_path):
    path = write_huge_png(tmp_path / "wide.png", 64, 32)
    assert load_image(path, max_pixels=64 * 32).shape == (32, 64)
    with pytest.raises(CanvasError, match=r"64x32 pixels \(2,048\); at most 2,047"):
        load_image(path, max_pixels=64 * 32 - 1)
    assert MAX_IMAGE_PIXELS >= 280 * 280 * 100  # photos of a digit still load


def test_transparency_keeps_the_alpha_channel_and_opaque_images_become_grayscale(tmp_path):
    rgba = np.zeros((20, 30, 4), np.uint8)
    rgba[5:15, 10:12, 3] = 255
    Image.fromarray(rgba).save(tmp_path / "drawing.png")
    Image.fromarray(np.full((20, 30, 3), 200, np.uint8)).save(tmp_path / "photo.jpg")
    drawing, photo = load_image(tmp_path / "drawing.png"), load_image(tmp_path / "photo.jpg")
    assert drawing.shape == (20, 30, 4) and np.array_equal(drawing[..., 3], rgba[..., 3])
    assert photo.shape == (20, 30) and photo.dtype == np.uint8


def test_sixteen_bit_grayscale_keeps_its_precision(tmp_path):
    data = np.array([[0, 1000, 65535]], dtype=np.uint16)
    Image.fromarray(data).save(tmp_path / "deep.png")
    image = load_image(tmp_path / "deep.png")
    assert image.dtype == np.float32
    np.testing.assert_allclose(image, data / 65535, rtol=1e-6)


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "no such file"), (b"not an image", "cannot read it as an image")],
)
def test_unreadable_files_are_canvas_errors(tmp_path, content, message):
    path = tmp_path / "x.png"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(CanvasError, match=message):
        load_image(path)
