"""Loading photos as (H, W, 3) uint8 RGB arrays, upright (EXIF orientation applied)."""

from __future__ import annotations

import contextlib
import logging
import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from kiosk.core.safefile import FileRefused, open_regular

log = logging.getLogger(__name__)


class ImageLoadError(ValueError):
    """An image could not be read; the message names the file and the reason."""

    def __init__(self, path: str | Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason


#: Larger images are refused before decoding (a decompression bomb decodes to gigabytes).
MAX_PIXELS = 50_000_000


@contextlib.contextmanager
def open_image(path: str | Path, max_pixels: int = MAX_PIXELS) -> Iterator[Any]:
    """A PIL image of a regular file, its size checked before any pixel is decoded.

    The one way images are opened (photos, renditions, replay frames): FIFOs, devices and
    directories are refused without blocking (kiosk.core.safefile); empty files, unknown formats,
    corrupt or truncated data and images over max_pixels raise ImageLoadError naming the file.
    """
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    try:
        f = open_regular(path)
    except FileNotFoundError:
        raise ImageLoadError(path, "no such file") from None
    except FileRefused as exc:
        raise ImageLoadError(path, str(exc).removeprefix(f"{path}: ")) from None
    except OSError as exc:
        raise ImageLoadError(path, f"cannot read: {exc.strerror or exc}") from None
    with f:
        if os.fstat(f.fileno()).st_size == 0:
            raise ImageLoadError(path, "empty file (0 bytes)")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                with Image.open(f) as im:
                    w, h = im.size
                    if w * h > max_pixels:
                        raise ImageLoadError(path, f"{w}x{h} pixels, more than the {max_pixels} this "
                                             "kiosk decodes; scale it down")
                    yield im
        except ImageLoadError:
            raise
        except UnidentifiedImageError:
            raise ImageLoadError(path, "not a readable image (not a recognised image format)") from None
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ImageLoadError(path, f"too large to decode safely ({exc}); scale it down") from None
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            raise ImageLoadError(path, f"corrupt or truncated image ({exc})") from None


def load_image(path: str | Path) -> np.ndarray:
    """Read an image file as an (H, W, 3) uint8 RGB array.

    EXIF orientation is applied (the array is upright as a viewer shows it); palette, greyscale,
    CMYK, 16-bit and alpha images are converted to RGB (alpha dropped). Raises ImageLoadError
    naming the file and the reason for missing, empty, corrupt, oversized or unsupported files.
    """
    from PIL import Image, ImageOps

    with open_image(path) as im:
        im.load()
        im = ImageOps.exif_transpose(im)
        if im.mode in ("I;16", "I;16B", "I;16L", "I"):
            arr = np.asarray(im, dtype=np.float64)
            scale = 255.0 / max(float(arr.max()), 1.0)
            im = Image.fromarray((arr * scale).astype(np.uint8), "L")
        rgb = im.convert("RGB")
    arr = np.asarray(rgb, dtype=np.uint8)
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ImageLoadError(path, f"unexpected decoded shape {arr.shape}")
    return np.ascontiguousarray(arr)
