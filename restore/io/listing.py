"""Finding image files: the suffixes restore reads and a sorted listing. Standard library only, so
the command line starts fast."""

from __future__ import annotations

import os
from pathlib import Path

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp")


def is_image_file(path: Path) -> bool:
    """A file whose suffix (any case) is one of :data:`IMAGE_SUFFIXES`."""
    return path.suffix.lower() in IMAGE_SUFFIXES and path.is_file()


def list_images(root: str | Path, recursive: bool = True) -> list[Path]:
    """Image files in ``root`` (and its subfolders when ``recursive``, symlinked ones too, each
    real folder once: a link loop ends), sorted by path."""
    root = Path(root)
    if not recursive:
        return sorted(p for p in root.glob("*") if is_image_file(p))
    found, seen = [], set()
    for folder, subfolders, files in os.walk(root, followlinks=True):
        try:
            info = os.stat(folder)
        except OSError:
            subfolders[:] = []
            continue
        if (info.st_dev, info.st_ino) in seen:  # reached again through a link
            subfolders[:] = []
            continue
        seen.add((info.st_dev, info.st_ino))
        found += [p for p in (Path(folder) / f for f in files) if is_image_file(p)]
    return sorted(found)


def image_suffix(data: bytes) -> str | None:
    """The suffix of the image format whose signature ``data`` (a file's first bytes; 12 are
    enough) starts with: ``.png``, ``.jpg``, ``.tif`` (TIFF and BigTIFF), ``.bmp`` or ``.webp``;
    None for anything else (bytes with no name to go by, such as an upload)."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return ".png"
    if data.startswith(b"\xff\xd8\xff"):
        return ".jpg"
    if data[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return ".tif"
    if data.startswith(b"BM"):
        return ".bmp"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return ".webp"
    return None
