"""Fast image reading: a 3DIEBench view as an HxWx3 uint8 RGB array at a resolution.

JPEGs are decoded with simplejpeg (libjpeg-turbo straight into a numpy array, the
same pixels as Pillow's decoder at 0.5-0.7x its cost, see benchmarks/loader.py);
other formats fall back to Pillow. ``dct_scaling`` lets libjpeg decode at a
reduced size (1/2, 1/4, 1/8) when the target is at most that size: much faster,
but the pixels then differ slightly from the reference bilinear resize, so it
is opt-in.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import simplejpeg
from PIL import Image, UnidentifiedImageError

from iebench.core.errors import IebenchError
from iebench.data.preprocess import resize, resized_size

JPEG_MAGIC = b"\xff\xd8"
# Most pixels decoded from one file (Pillow's default bound against decompression bombs): a
# header of a few bytes can claim 65535 x 65535 pixels, 12 GiB once decoded.
MAX_PIXELS = 89_478_485


def read_image(path: Path, resolution: int | None = None, dct_scaling: bool = False) -> np.ndarray:
    """The image at ``path`` as HxWx3 uint8 RGB, shorter side resized to ``resolution``.

    Raises IebenchError naming the file when it is missing or not a decodable image.
    """
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        raise IebenchError(f"{path}: image missing") from None
    except OSError as error:
        raise IebenchError(f"{path}: cannot read ({error.strerror})") from None
    image = decode(data, path, resolution if dct_scaling else None)
    return image if resolution is None else resize(image, resolution)


def decode(data: bytes, path: Path, min_shorter_side: int | None = None) -> np.ndarray:
    """Decode image bytes to HxWx3 uint8 RGB; ``path`` only names the file in errors.

    With ``min_shorter_side``, a JPEG is decoded at the smallest DCT scale whose
    shorter side is still at least that size.
    """
    if data[:2] == JPEG_MAGIC:
        try:
            width, height = _jpeg_size(data)
            if width * height > MAX_PIXELS:
                raise IebenchError(f"{path}: {width}x{height} pixels, more than {MAX_PIXELS}")
            if min_shorter_side is None:
                return simplejpeg.decode_jpeg(data, colorspace="RGB")
            scaled_width, scaled_height = resized_size(width, height, min_shorter_side)
            return simplejpeg.decode_jpeg(
                data, colorspace="RGB", min_width=scaled_width, min_height=scaled_height
            )
        except ValueError as error:
            raise IebenchError(f"{path}: corrupt JPEG ({error})") from None
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.width * image.height > MAX_PIXELS:
                raise IebenchError(
                    f"{path}: {image.width}x{image.height} pixels, more than {MAX_PIXELS}"
                )
            return np.asarray(image.convert("RGB"))
    # Pillow's plugins raise any of these on malformed files (its documented ValueError and
    # TypeError, struct errors as ValueError; DecompressionBombError past its own bound).
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, TypeError):
        raise IebenchError(f"{path}: not a decodable image") from None
    except Image.DecompressionBombError:
        raise IebenchError(f"{path}: more than {MAX_PIXELS} pixels") from None


def _jpeg_size(data: bytes) -> tuple[int, int]:
    height, width, _, _ = simplejpeg.decode_jpeg_header(data)
    return width, height
