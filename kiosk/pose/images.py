"""Loading photos as (H, W, 3) uint8 RGB arrays, upright (EXIF orientation applied)."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)


class ImageLoadError(ValueError):
    """An image could not be read; the message names the file and the reason."""

    def __init__(self, path: str | Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason


def load_image(path: str | Path) -> np.ndarray:
    """Read an image file as an (H, W, 3) uint8 RGB array.

    EXIF orientation is applied (the array is upright as a viewer shows it); palette, greyscale,
    CMYK, 16-bit and alpha images are converted to RGB (alpha dropped). Raises ImageLoadError
    naming the file and the reason for missing, empty, corrupt or unsupported files.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    path = Path(path)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise ImageLoadError(path, "no such file") from None
    except OSError as exc:
        raise ImageLoadError(path, f"cannot read: {exc.strerror or exc}") from exc
    if path.is_dir():
        raise ImageLoadError(path, "is a directory, not an image")
    if size == 0:
        raise ImageLoadError(path, "empty file (0 bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                im.load()
                im = ImageOps.exif_transpose(im)
                if im.mode in ("I;16", "I;16B", "I;16L", "I"):
                    arr = np.asarray(im, dtype=np.float64)
                    scale = 255.0 / max(float(arr.max()), 1.0)
                    im = Image.fromarray((arr * scale).astype(np.uint8), "L")
                rgb = im.convert("RGB")
    except UnidentifiedImageError:
        raise ImageLoadError(path, "not a recognised image format") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageLoadError(path, f"too large to decode safely ({exc})") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageLoadError(path, f"corrupt or truncated image ({exc})") from None
    arr = np.asarray(rgb, dtype=np.uint8)
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ImageLoadError(path, f"unexpected decoded shape {arr.shape}")
    return np.ascontiguousarray(arr)
