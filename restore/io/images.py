"""Image files: decode with OpenCV, keep metadata, write atomically; float arrays for training.

Pixels are decoded by OpenCV (8/16-bit, gray, gray + alpha, RGB, RGBA; 32-bit float TIFF). Pillow
reads only the header: size (to refuse decompression bombs before anything is decoded; float TIFFs
by their own header), EXIF (orientation is applied to the pixels and reset to 1 in the saved EXIF)
and the ICC profile. A file whose image data stops early (a PNG without its IEND chunk, a JPEG
without its end marker) or that the decoder reports as corrupt is refused, naming the file; data
after a complete image (a phone's "motion photo" video, appended bytes) is ignored. CMYK files
(JPEG, TIFF) are decoded by Pillow and converted to sRGB, through their embedded ICC profile when
they have one (the output then carries an sRGB profile). 8-bit outputs are encoded by Pillow so
EXIF and ICC can be kept where the format allows (JPEG, PNG, WebP, TIFF); 16-bit outputs (PNG,
TIFF) and 32-bit float outputs (TIFF) are encoded by OpenCV, which keeps the bit depth but not the
metadata.
"""

from __future__ import annotations

import io
import os
import struct
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageCms

from restore.io.atomic import atomic_path
from restore.options import MAX_PIXELS

_PIL_FORMAT = {
    ".png": "PNG",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".webp": "WEBP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
    ".bmp": "BMP",
}
_ORIENTATION = 0x0112
# TIFF tags that describe how the pixels are stored (size, samples, photometric interpretation,
# strips, tiles, compression, ...). A TIFF's "EXIF" from Pillow holds them too; copied into the
# output they would describe the input's layout (say CMYK) and corrupt the file.
_LAYOUT_TAGS = {
    254,
    255,
    256,
    257,
    258,
    259,
    262,
    266,
    273,
    277,
    278,
    279,
    284,
    317,
    320,
    322,
    323,
    324,
    325,
    338,
    339,
    340,
    341,
    530,
    531,
    532,
}

_PILLOW_GUARD = threading.Lock()  # Pillow's MAX_IMAGE_PIXELS is lifted only while we read a header
_STDERR = threading.Lock()  # one decode at a time has its C library's messages captured
# What libjpeg says (through OpenCV) when it decodes damaged data and goes on (other formats'
# decoders fail outright on damage; their benign warnings are not a reason to refuse a file).
_CORRUPT_MESSAGES = ("corrupt jpeg data", "premature end of jpeg")


class ImageFileError(ValueError):
    """A file that cannot be read or written; the message names the file and the problem."""


class ImageTooLargeError(ImageFileError):
    """An image file above the caller's limit on pixels, refused from its header."""


@dataclass
class ImageFile:
    """Decoded pixels and metadata.

    Attributes:
        pixels: ``H x W`` or ``H x W x C`` (gray + alpha, RGB or RGBA); uint8, uint16 or float32,
            the latter on its own scale: [0, 1] for ordinary images, any range for HDR.
        exif: EXIF block, or None. As read (:func:`read_image_file`): the orientation already
            applied to ``pixels`` and reset to 1, the TIFF tags that describe the stored layout
            removed.
        icc: ICC colour profile, or None. As read: the file's (sRGB's for a CMYK file converted
            through its profile). :func:`write_image_file` writes both into 8-bit JPEG, PNG,
            WebP and TIFF files.
    """

    pixels: np.ndarray
    exif: bytes | None = None
    icc: bytes | None = None


def _orient(pixels: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation (1-8) to ``pixels``, as Pillow's ``ImageOps.exif_transpose``."""
    ops = {
        2: lambda a: a[:, ::-1],
        3: lambda a: a[::-1, ::-1],
        4: lambda a: a[::-1],
        5: lambda a: np.swapaxes(a, 0, 1),  # transpose
        6: lambda a: np.rot90(a, -1),
        7: lambda a: np.swapaxes(a[::-1, ::-1], 0, 1),  # transverse
        8: lambda a: np.rot90(a, 1),
    }
    return np.ascontiguousarray(ops[orientation](pixels)) if orientation in ops else pixels


def _png_complete(f) -> bool:
    """Whether the PNG chunks reach IEND before the file ends (data after it is ignored)."""
    f.seek(8)
    while True:
        head = f.read(8)
        if len(head) < 8:
            return False
        length, kind = struct.unpack(">I4s", head)
        if kind == b"IEND":
            return True
        f.seek(length + 4, os.SEEK_CUR)  # data and CRC


def _jpeg_complete(data: bytes) -> bool:
    """Whether the JPEG's marker segments and scans reach its end marker (EOI); an EXIF thumbnail
    inside APP1 and data after the EOI (a motion photo's video) do not count."""
    pos = 2
    while pos + 2 <= len(data):
        if data[pos] != 0xFF:
            return False
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0xD9:
            return True
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:  # no length
            pos += 2
            continue
        if pos + 4 > len(data):
            return False
        pos += 2 + struct.unpack(">H", data[pos + 2 : pos + 4])[0]
        if marker == 0xDA:  # entropy-coded data: up to the next marker but stuffing and restarts
            while True:
                pos = data.find(b"\xff", pos)
                if pos < 0 or pos + 1 >= len(data):
                    return False
                following = data[pos + 1]
                if following == 0 or 0xD0 <= following <= 0xD7 or following == 0xFF:
                    pos += 1 if following == 0xFF else 2
                    continue
                break
    return False


def _incomplete(path: Path) -> bool:
    """A PNG or JPEG whose image data stops before its end: the file was cut short."""
    with open(path, "rb") as f:
        head = f.read(8)
        if head == b"\x89PNG\r\n\x1a\n":
            return not _png_complete(f)
        if head[:2] == b"\xff\xd8":
            f.seek(0)
            return not _jpeg_complete(f.read())
    return False


@contextmanager
def _pillow_unguarded() -> Iterator[None]:
    """Pillow's own decompression-bomb guard lifted while a header is read (the caller checks the
    size against its own limit before decoding anything), and restored after."""
    with _PILLOW_GUARD:
        saved = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = None
        try:
            yield
        finally:
            Image.MAX_IMAGE_PIXELS = saved


@contextmanager
def _c_messages() -> Iterator[list[str]]:
    """Capture what C libraries (OpenCV, libjpeg, libpng, libtiff) print on the process's
    standard error during the block: the list holds its lines after the block."""
    lines: list[str] = []
    with _STDERR, tempfile.TemporaryFile() as sink:
        try:
            saved = os.dup(2)
        except OSError:  # no standard error to redirect
            yield lines
            return
        os.dup2(sink.fileno(), 2)
        try:
            yield lines
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            text = sink.read().decode(errors="replace")
            lines.extend(line.strip() for line in text.splitlines() if line.strip())


def tiff_size(path: Path) -> tuple[int, int] | None:
    """``(width, height)`` of a TIFF's first image from its header, without decoding; None when
    the header cannot be read."""
    try:
        with open(path, "rb") as f:
            head = f.read(16)
            order = {b"II": "<", b"MM": ">"}.get(head[:2])
            if order is None:
                return None
            magic = struct.unpack(order + "H", head[2:4])[0]
            big = magic == 43
            if big:
                f.seek(struct.unpack(order + "Q", head[8:16])[0])
                count = struct.unpack(order + "Q", f.read(8))[0]
                entry, size = "HHQ8s", 20
            elif magic == 42:
                f.seek(struct.unpack(order + "I", head[4:8])[0])
                count = struct.unpack(order + "H", f.read(2))[0]
                entry, size = "HHI4s", 12
            else:
                return None
            found = {}
            for _ in range(min(count, 4096)):
                tag, kind, _, value = struct.unpack(order + entry, f.read(size))
                if tag in (256, 257):
                    fmt = {3: "H", 4: "I", 16: "Q"}.get(kind)
                    if fmt is None:
                        return None
                    found[tag] = struct.unpack(order + fmt, value[: struct.calcsize(fmt)])[0]
            return (found[256], found[257]) if len(found) == 2 else None
    except (OSError, struct.error):
        return None


def _cmyk_to_rgb(path: Path) -> tuple[np.ndarray, bytes | None]:
    """RGB pixels of a CMYK file, through its ICC profile if it has one; the sRGB profile then."""
    try:
        with Image.open(path) as im:
            icc = im.info.get("icc_profile")
            if icc:
                srgb = ImageCms.createProfile("sRGB")
                rgb = ImageCms.profileToProfile(
                    im, ImageCms.ImageCmsProfile(io.BytesIO(icc)), srgb, outputMode="RGB"
                )
                return np.asarray(rgb), ImageCms.ImageCmsProfile(srgb).tobytes()
            return np.asarray(im.convert("RGB")), None
    except (OSError, ValueError, SyntaxError, ImageCms.PyCMSError) as err:
        raise ImageFileError(f"{path}: cannot decode CMYK image data ({err})") from err


def _check_size(path: Path, width: int, height: int, max_pixels: int | None) -> None:
    if max_pixels is not None and width * height > max_pixels:
        raise ImageTooLargeError(
            f"{path}: {width}x{height} = {width * height / 1e6:.0f} megapixels is "
            f"above the limit of {max_pixels / 1e6:.0f} (raise --max-pixels)"
        )


def check_max_pixels(max_pixels: float | None) -> int | None:
    """``max_pixels`` as an int (None: no limit); ``ValueError`` unless it is a positive number."""
    if max_pixels is None:
        return None
    if isinstance(max_pixels, bool) or not isinstance(max_pixels, (int, float, np.number)):
        raise ValueError(f"max_pixels must be a positive number, got {max_pixels!r}")
    if not (np.isfinite(max_pixels) and max_pixels >= 1):
        raise ValueError(f"max_pixels must be a positive number, got {max_pixels!r}")
    return int(max_pixels)


def read_image_file(path: str | Path, max_pixels: int | None = MAX_PIXELS) -> ImageFile:
    """Read an image with EXIF orientation applied. Images above ``max_pixels`` (None: no limit)
    are refused from their header, before anything is decoded. Raises :class:`ImageFileError`
    on bad input."""
    path = Path(path)
    max_pixels = check_max_pixels(max_pixels)
    try:
        size = path.stat().st_size
    except OSError as err:
        raise ImageFileError(f"{path}: cannot read ({err.strerror or err})") from err
    if size == 0:
        raise ImageFileError(f"{path}: empty file (0 bytes)")
    try:
        with _pillow_unguarded(), Image.open(path) as header:
            width, height = header.size
            fmt, mode = header.format, header.mode
            _check_size(path, width, height, max_pixels)  # before getexif(): it may decode
            exif = header.getexif()
            icc = header.info.get("icc_profile")
    except ImageFileError:
        raise
    except (OSError, ValueError, SyntaxError) as err:
        if path.suffix.lower() in (".tif", ".tiff"):  # Pillow reads no colour float TIFFs
            return _read_float_tiff(path, max_pixels, err)
        raise ImageFileError(f"{path}: not a supported image ({err})") from err
    if _incomplete(path):
        raise ImageFileError(
            f"{path}: truncated or damaged file (its image data stops before the end)"
        )
    if mode == "CMYK":
        pixels, icc = _cmyk_to_rgb(path)
    else:
        pixels = _decode(path)
    gray_alpha = mode in ("LA", "La")
    rgba = pixels.ndim == 3 and pixels.shape[2] == 4
    if fmt == "TIFF" and pixels.dtype == np.uint8 and (gray_alpha or rgba):
        # OpenCV decodes 8-bit TIFFs with alpha through libtiff's RGBA reader, which premultiplies
        # the colour by alpha (and drops the alpha of gray + alpha); Pillow keeps the stored colour.
        try:
            with _pillow_unguarded(), Image.open(path) as im:
                pixels = np.asarray(im.convert("LA" if gray_alpha else "RGBA"))
        except (OSError, ValueError, SyntaxError) as err:
            raise ImageFileError(f"{path}: cannot decode image data ({err})") from err
    if (
        gray_alpha
        and pixels.ndim == 3
        and pixels.shape[2] == 4
        and (pixels[:, :, 0] == pixels[:, :, 1]).all()
        and (pixels[:, :, 0] == pixels[:, :, 2]).all()
    ):
        pixels = np.ascontiguousarray(pixels[:, :, [0, 3]])  # OpenCV expands gray + alpha to RGBA
    orientation = exif.get(_ORIENTATION, 1)
    pixels = _orient(pixels, orientation)
    for tag in _LAYOUT_TAGS & set(exif):
        del exif[tag]
    exif_bytes = None
    if len(exif):
        exif[_ORIENTATION] = 1
        exif_bytes = exif.tobytes()
    return ImageFile(pixels, exif_bytes, icc)


def _decode(path: Path) -> np.ndarray:
    """OpenCV's decode of ``path`` as gray, gray + alpha, RGB or RGBA; uint8, uint16 or float32.
    What the decoder says goes into the error naming the file, not onto the terminal; data it
    reports as corrupt is refused."""
    with _c_messages() as messages:
        pixels = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    corrupt = [m for m in messages if any(c in m.lower() for c in _CORRUPT_MESSAGES)]
    if corrupt:
        raise ImageFileError(f"{path}: corrupt image data ({corrupt[0]})")
    if pixels is None:
        said = _decoder_reason(messages)
        raise ImageFileError(f"{path}: cannot decode image data" + (f" ({said})" if said else ""))
    if pixels.dtype not in (np.uint8, np.uint16, np.float32):
        raise ImageFileError(f"{path}: unsupported pixel type {pixels.dtype}")
    if pixels.ndim == 3 and pixels.shape[2] == 1:
        pixels = pixels[:, :, 0]
    elif pixels.ndim == 3:
        code = cv2.COLOR_BGRA2RGBA if pixels.shape[2] == 4 else cv2.COLOR_BGR2RGB
        pixels = cv2.cvtColor(pixels, code)
    return pixels


def _decoder_reason(messages: list[str]) -> str:
    """The decoder's reason in a few words: OpenCV's explanation (its lines starting with ``>``),
    else the end of its first message."""
    explained = [m.lstrip("> ").rstrip(":") for m in messages if m.startswith(">")]
    if explained:
        return explained[0]
    return messages[0].rsplit(": ", 1)[-1][:200] if messages else ""


def _read_float_tiff(path: Path, max_pixels: int | None, header_error: Exception) -> ImageFile:
    """A colour 32-bit float TIFF, which only OpenCV decodes (its size is read from its header
    first)."""
    size = tiff_size(path)
    if size is None:
        raise ImageFileError(f"{path}: not a supported image ({header_error})")
    _check_size(path, *size, max_pixels)
    try:
        pixels = _decode(path)
    except ImageFileError:
        raise ImageFileError(f"{path}: not a supported image ({header_error})") from header_error
    if pixels.dtype != np.float32:
        raise ImageFileError(f"{path}: not a supported image ({header_error})")
    _check_size(path, pixels.shape[1], pixels.shape[0], max_pixels)
    if not np.isfinite(pixels).all():
        raise ImageFileError(f"{path}: float image has NaN or infinite values")
    return ImageFile(pixels)


def write_image_file(path: str | Path, image: ImageFile, quality: int = 95) -> None:
    """Write atomically (temporary file in the same folder, then rename); never leaves a partial
    file.

    The format follows the suffix. 16-bit pixels go to PNG/TIFF at 16 bits; JPEG, WebP and BMP get
    8 bits. Float32 pixels go to TIFF as float32, values as they are; other formats get them
    clipped to [0, 1] at 16 bits (PNG) or 8 bits. Raises :class:`ImageFileError` naming the file
    when it cannot be written.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in _PIL_FORMAT:
        raise ImageFileError(f"{path}: unsupported output format {suffix or '(none)'}")
    pixels = image.pixels
    if pixels.dtype == np.float32 and suffix not in (".tif", ".tiff"):
        depth = np.uint16 if suffix == ".png" else np.uint8
        top = np.iinfo(depth).max
        pixels = np.round(np.clip(pixels, 0.0, 1.0) * top).astype(depth)
    if pixels.dtype == np.uint16 and suffix not in (".png", ".tif", ".tiff"):
        pixels = np.round(pixels / 257.0).astype(np.uint8)
    try:
        with atomic_path(path) as tmp:
            if pixels.dtype in (np.uint16, np.float32):
                if pixels.ndim == 3 and pixels.shape[2] == 2:  # OpenCV writes no gray + alpha: RGBA
                    pixels = pixels[:, :, [0, 0, 0, 1]]
                bgr = (
                    pixels
                    if pixels.ndim == 2
                    else cv2.cvtColor(
                        pixels, cv2.COLOR_RGBA2BGRA if pixels.shape[2] == 4 else cv2.COLOR_RGB2BGR
                    )
                )
                if not cv2.imwrite(str(tmp), bgr):
                    raise OSError("OpenCV could not encode the image")
            else:
                _save_pil(tmp, pixels, _PIL_FORMAT[suffix], image, quality)
    except (OSError, ValueError, cv2.error) as err:
        raise ImageFileError(
            f"{path}: cannot write ({getattr(err, 'strerror', None) or err})"
        ) from err


def _save_pil(tmp: Path, pixels: np.ndarray, fmt: str, image: ImageFile, quality: int) -> None:
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


# --------------------------------------------------------------------------------------------------
# float arrays for training and evaluation


def to_float(image: np.ndarray) -> np.ndarray:
    """uint8 / uint16 pixels as float32 in ``[0, 1]`` (scaled by 255 / 65535); floats as they
    are."""
    if image.dtype.kind == "f":
        return image.astype(np.float32, copy=False)
    return image.astype(np.float32) / np.iinfo(image.dtype).max


def decode_image(path: str | Path, channels: int = 3) -> np.ndarray:
    """Decode an image file to an ``(H, W, channels)`` array of its own type (uint8, uint16 or
    float32), alpha dropped.

    As :func:`read_image`, without the conversion to float (a quarter or half of the memory);
    colour files read as luma (``channels=1``) come back as float32 in ``[0, 1]``.
    """
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, got {channels}")
    image = read_image_file(path).pixels
    if image.ndim == 3 and image.shape[2] in (2, 4):
        image = image[:, :, :-1]
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2RGB) if channels == 3 else image
    elif channels == 1:
        image = cv2.cvtColor(to_float(image), cv2.COLOR_RGB2GRAY)
    return np.ascontiguousarray(image.reshape(image.shape[0], image.shape[1], channels))


def read_image(path: str | Path, channels: int = 3) -> np.ndarray:
    """Decode an image file to a float32 ``(H, W, channels)`` array in ``[0, 1]``.

    Decoded by :func:`read_image_file`, as in ``restore-image``: EXIF orientation applied, truncated
    files refused. 8-bit and 16-bit files are scaled by 255 and 65535; alpha is dropped.
    ``channels=3`` gives RGB (gray is replicated), ``channels=1`` gives luma (ITU-R BT.601
    weights, as ``cv2.cvtColor``).

    Raises:
        ValueError: ``channels`` is not 1 or 3, or the file is missing, empty, truncated or cannot
            be decoded (:class:`ImageFileError`, whose message names the file).
    """
    return to_float(decode_image(path, channels))
