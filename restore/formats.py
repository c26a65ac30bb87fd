"""Image file suffixes that restore reads (lower case); standard library only."""

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp")
