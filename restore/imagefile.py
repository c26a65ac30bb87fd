"""Image files for the restoration pipeline: decode with OpenCV, keep metadata, write atomically.

Pixels are decoded by OpenCV (8/16-bit, gray, gray + alpha, RGB, RGBA). Pillow reads only the
header: size (to refuse decompression bombs before decoding), EXIF (orientation is applied to the
pixels and reset to 1 in the saved EXIF) and the ICC profile. 8-bit outputs are encoded by Pillow
so EXIF and ICC can be kept where the format allows (JPEG, PNG, WebP, TIFF); 16-bit outputs (PNG,
TIFF) are encoded by OpenCV, which keeps the bit depth but not the metadata.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

_PIL_FORMAT = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP", ".tif": "TIFF",
               ".tiff": "TIFF", ".bmp": "BMP"}
_ORIENTATION = 0x0112

Image.MAX_IMAGE_PIXELS = None  # we check the pixel count ourselves, with a clear message


class ImageFileError(ValueError):
    """A file that cannot be read or written; the message names the file and the problem."""


@dataclass
class ImageFile:
    """Decoded pixels (``H x W`` or ``H x W x C``: gray + alpha, RGB or RGBA; uint8 or uint16) and
    metadata."""

    pixels: np.ndarray
    exif: bytes | None = None  # orientation already reset to 1
    icc: bytes | None = None


def _orient(pixels: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation (1-8) to ``pixels``."""
    ops = {2: lambda a: a[:, ::-1], 3: lambda a: a[::-1, ::-1], 4: lambda a: a[::-1],
           5: lambda a: np.swapaxes(a, 0, 1), 6: lambda a: np.rot90(a, -1),
           7: lambda a: np.rot90(a, 1)[::-1], 8: lambda a: np.rot90(a, 1)}
    return np.ascontiguousarray(ops[orientation](pixels)) if orientation in ops else pixels


def _truncated(path: Path) -> bool:
    """JPEG without its end marker or PNG without IEND: the file was cut short."""
    with open(path, "rb") as f:
        head = f.read(8)
        f.seek(max(0, os.path.getsize(path) - 32))
        tail = f.read()
    if head[:2] == b"\xff\xd8":
        return b"\xff\xd9" not in tail
    if head == b"\x89PNG\r\n\x1a\n":
        return b"IEND" not in tail
    return False


def read_image_file(path: str | Path, max_pixels: int | None = None) -> ImageFile:
    """Read an image with EXIF orientation applied. Raises :class:`ImageFileError` on bad input."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as err:
        raise ImageFileError(f"{path}: cannot read ({err.strerror or err})") from err
    if size == 0:
        raise ImageFileError(f"{path}: empty file (0 bytes)")
    try:
        with Image.open(path) as header:
            width, height = header.size
            fmt, mode = header.format, header.mode
            exif = header.getexif()
            icc = header.info.get("icc_profile")
    except (OSError, ValueError, SyntaxError) as err:
        raise ImageFileError(f"{path}: not a supported image ({err})") from err
    if max_pixels is not None and width * height > max_pixels:
        raise ImageFileError(f"{path}: {width}x{height} = {width * height / 1e6:.0f} megapixels is "
                             f"above the limit of {max_pixels / 1e6:.0f} (raise --max-pixels)")
    if _truncated(path):
        raise ImageFileError(f"{path}: truncated file (the image data ends early)")
    pixels = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if pixels is None:
        raise ImageFileError(f"{path}: cannot decode image data")
    if pixels.dtype not in (np.uint8, np.uint16):
        raise ImageFileError(f"{path}: unsupported pixel type {pixels.dtype}")
    if pixels.ndim == 3 and pixels.shape[2] == 1:
        pixels = pixels[:, :, 0]
    elif pixels.ndim == 3:
        code = cv2.COLOR_BGRA2RGBA if pixels.shape[2] == 4 else cv2.COLOR_BGR2RGB
        pixels = cv2.cvtColor(pixels, code)
    gray_alpha = mode in ("LA", "La")
    rgba = pixels.ndim == 3 and pixels.shape[2] == 4
    if fmt == "TIFF" and pixels.dtype == np.uint8 and (gray_alpha or rgba):
        # OpenCV decodes 8-bit TIFFs with alpha through libtiff's RGBA reader, which premultiplies
        # the colour by alpha (and drops the alpha of gray + alpha); Pillow keeps the stored colour.
        try:
            with Image.open(path) as im:
                pixels = np.asarray(im.convert("LA" if gray_alpha else "RGBA"))
        except (OSError, ValueError, SyntaxError) as err:
            raise ImageFileError(f"{path}: cannot decode image data ({err})") from err
    if gray_alpha and pixels.ndim == 3 and pixels.shape[2] == 4 and \
            (pixels[:, :, 0] == pixels[:, :, 1]).all() and (pixels[:, :, 0] == pixels[:, :, 2]).all():
        pixels = np.ascontiguousarray(pixels[:, :, [0, 3]])  # OpenCV expands gray + alpha to RGBA
    orientation = exif.get(_ORIENTATION, 1)
    pixels = _orient(pixels, orientation)
    exif_bytes = None
    if len(exif):
        exif[_ORIENTATION] = 1
        exif_bytes = exif.tobytes()
    return ImageFile(pixels, exif_bytes, icc)


def write_image_file(path: str | Path, image: ImageFile, quality: int = 95) -> None:
    """Write atomically (temporary file in the same folder, then rename); never leaves a partial file.

    The format follows the suffix. 16-bit pixels go to PNG/TIFF at 16 bits; JPEG, WebP and BMP get
    8 bits. Raises :class:`ImageFileError` naming the file when it cannot be written.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in _PIL_FORMAT:
        raise ImageFileError(f"{path}: unsupported output format {suffix or '(none)'}")
    pixels = image.pixels
    if pixels.dtype == np.uint16 and suffix not in (".png", ".tif", ".tiff"):
        pixels = np.round(pixels / 257.0).astype(np.uint8)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".part{suffix}", dir=path.parent)
    except OSError as err:
        raise ImageFileError(f"{path}: cannot write ({err.strerror or err})") from err
    os.close(fd)
    try:
        os.chmod(tmp, _new_file_mode())  # mkstemp creates 0600; give the usual umask permissions
        if pixels.dtype == np.uint16:
            if pixels.ndim == 3 and pixels.shape[2] == 2:  # OpenCV writes no gray + alpha: RGBA
                pixels = pixels[:, :, [0, 0, 0, 1]]
            bgr = pixels if pixels.ndim == 2 else cv2.cvtColor(
                pixels, cv2.COLOR_RGBA2BGRA if pixels.shape[2] == 4 else cv2.COLOR_RGB2BGR)
            if not cv2.imwrite(tmp, bgr):
                raise OSError("OpenCV could not encode the image")
        else:
            _save_pil(tmp, pixels, _PIL_FORMAT[suffix], image, quality)
        os.replace(tmp, path)
    except (OSError, ValueError, cv2.error) as err:
        Path(tmp).unlink(missing_ok=True)
        raise ImageFileError(f"{path}: cannot write ({getattr(err, 'strerror', None) or err})") from err
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _new_file_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _save_pil(tmp: str, pixels: np.ndarray, fmt: str, image: ImageFile, quality: int) -> None:
    pil = Image.fromarray(pixels)
    if fmt == "JPEG" and pil.mode in ("RGBA", "LA"):
        pil = pil.convert(pil.mode[:-1] if pil.mode == "LA" else "RGB")
    kwargs: dict = {}
    if fmt in ("JPEG", "WEBP"):
        kwargs["quality"] = quality
    if fmt == "WEBP" and quality >= 100:
        kwargs.update(lossless=True, exact=True)  # exact: keep the colour under transparent pixels
    if fmt in ("JPEG", "PNG", "WEBP", "TIFF"):
        if image.exif:
            kwargs["exif"] = image.exif
        if image.icc:
            kwargs["icc_profile"] = image.icc
    pil.save(tmp, format=fmt, **kwargs)
