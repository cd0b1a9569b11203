"""Character images: check they decode, prepare them at the backend's frame size (cached PNGs)."""

from __future__ import annotations

import io
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from .errors import BadInputError
from .files import file_digest, write_atomic

if TYPE_CHECKING:
    from PIL import Image

# PIL loads only when an image is decoded: `f1gen status` checks only that images exist.

FORMATS = ("PNG", "JPEG", "WEBP")
MAX_PIXELS = 50_000_000
MIN_SIDE = 256  # smaller, and Ovi upscales it into a blur
PAD_COLOR = (0, 0, 0)


def is_file(path: Path) -> bool:
    """True when path names a regular file (False for odd paths rather than raising)."""
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


def _open(path: Path) -> Image.Image:
    from PIL import Image

    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        return Image.open(path, formats=FORMATS)


def is_folder(path: Path) -> bool:
    """True when path names a folder (False for odd paths rather than raising)."""
    try:
        return path.is_dir()
    except (OSError, ValueError):
        return False


def missing(path: Path, *, kind: str = "an image") -> str | None:
    """None when path is a file; otherwise what is wrong and the fix (kind: what it should be)."""
    if is_file(path):
        return None
    if is_folder(path):
        return "is a folder, not a file: name the file inside it"
    if _exists(path):  # /dev/zero, a FIFO: reading one would never end, or block
        return f"not a regular file (a device, a pipe or a socket): name {kind} file"
    return "no such file: check the path (it is relative to the storyboard)"


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except (OSError, ValueError):
        return False


def size(path: Path) -> tuple[int, int]:
    """Width and height of an image that inspect() accepted (read from its header)."""
    with _open(path) as image:
        width, height = image.size
    return int(width), int(height)


def inspect(path: Path) -> str | None:
    """None when path is a PNG, JPEG or WebP that decodes; otherwise what is wrong and the fix."""
    from PIL import Image, UnidentifiedImageError

    if not is_file(path):
        return missing(path)
    try:
        with _open(path) as image:
            if image.width * image.height > MAX_PIXELS:
                return f"{image.width}x{image.height} is too large: scale it down"
            image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        return "too many pixels to be a character image: scale it down"
    except UnidentifiedImageError:
        return "not a PNG, JPEG or WebP image: convert it"
    except (OSError, SyntaxError, ValueError) as exc:
        return f"does not decode ({' '.join(str(exc).split())}): re-export it"
    return None


def prepared_name(
    source_digest: str, fit: Literal["cover", "contain"], size: tuple[int, int]
) -> str:
    """The cache file name of a prepared image."""
    return f"{source_digest[:16]}-{fit}-{size[0]}x{size[1]}.png"


def prepare(
    source: Path,
    *,
    fit: Literal["cover", "contain"],
    size: tuple[int, int],
    cache_dir: Path,
    digest: str | None = None,
) -> Path:
    """An RGB PNG of source at size (the backend's frame size: Ovi keeps the image's aspect),
    cover-cropped or padded, reused from cache_dir when present."""
    from PIL import Image, ImageOps

    digest = digest or file_digest(source)
    target = cache_dir / prepared_name(digest, fit, size)
    if target.is_file():
        return target
    try:
        with _open(source) as image:
            upright = ImageOps.exif_transpose(image).convert("RGB")
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombWarning) as exc:
        raise BadInputError(f"{source}: does not decode ({exc}): re-export it") from None
    if fit == "cover":
        result = ImageOps.fit(upright, size, method=Image.Resampling.LANCZOS)
    else:
        result = ImageOps.pad(upright, size, method=Image.Resampling.LANCZOS, color=PAD_COLOR)
    encoded = io.BytesIO()
    result.save(encoded, format="PNG")
    write_atomic(target, encoded.getvalue())
    return target
