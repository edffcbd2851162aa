"""JPEG and PNG: decodable, complete, and not a decompression bomb."""

from __future__ import annotations

import struct
import warnings
from pathlib import Path

from uploader_gui.core.validation.result import (
    MAX_IMAGE_PIXELS,
    TYPE_LABELS,
    Problem,
    ValidationResult,
)


def check_image(path: Path, kind: str, result: ValidationResult) -> None:
    from PIL import Image, UnidentifiedImageError

    add = result.problems.append
    label = TYPE_LABELS[kind]
    damaged = Problem(
        "image_damaged",
        f"This {label} is damaged and cannot be displayed. Scan or save the picture again.",
    )
    truncated = Problem(
        "image_truncated",
        f"This {label} is incomplete: its end is missing, so it was probably cut off while "
        "copying. Copy or scan it again.",
    )
    bomb = Problem(
        "image_bomb",
        f"This {label} is far too large to open safely (it would expand to an enormous "
        "size in memory). Scan it again at a normal resolution.",
    )
    fmt = "JPEG" if kind == "jpeg" else "PNG"
    previous_max = Image.MAX_IMAGE_PIXELS
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS
            with Image.open(path, formats=[fmt]) as im:
                result.width, result.height = im.size
                im.verify()
            with Image.open(path, formats=[fmt]) as im:
                im.load()
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        add(bomb)
    except UnidentifiedImageError:
        add(damaged)
    except ValueError as exc:
        # Pillow raises ValueError for oversized compressed text chunks (a PNG bomb).
        add(bomb if "too large" in str(exc).lower() else damaged)
    except (OSError, SyntaxError, EOFError) as exc:
        text = str(exc).lower()
        add(truncated if "truncat" in text else damaged)
    except (TypeError, IndexError, KeyError, ZeroDivisionError, struct.error):
        add(damaged)
    finally:
        Image.MAX_IMAGE_PIXELS = previous_max
