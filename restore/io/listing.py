"""Finding image files: the suffixes restore reads and a sorted listing. Standard library only, so
the command line starts fast."""

from __future__ import annotations

from pathlib import Path

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp")


def is_image_file(path: Path) -> bool:
    """A file whose suffix (any case) is one of :data:`IMAGE_SUFFIXES`."""
    return path.suffix.lower() in IMAGE_SUFFIXES and path.is_file()


def list_images(root: str | Path, recursive: bool = True) -> list[Path]:
    """Image files in ``root`` (and its subfolders when ``recursive``), sorted by path."""
    root = Path(root)
    return sorted(p for p in (root.rglob("*") if recursive else root.glob("*")) if is_image_file(p))
