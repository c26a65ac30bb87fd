"""Files in and out: images and hole masks, each read and written in one place (network weights:
:mod:`restore.models.weights`).

* :mod:`restore.io.listing`: :data:`IMAGE_SUFFIXES`, :func:`list_images`, :func:`image_suffix`
  (standard library only);
* :mod:`restore.io.images`: :func:`read_image_file` / :func:`write_image_file` (metadata kept,
  atomic writes), :func:`read_image` (float arrays for training), :class:`ImageFileError`
  (:class:`ImageTooLargeError` above a limit on pixels);
* :mod:`restore.io.masks`: the hole rule (:func:`holes_in_mask`), :func:`read_mask`,
  :func:`load_mask`; :mod:`restore.io.mask_rule`: :data:`MASK_RULE`, the rule in words
  (standard library only);
* :mod:`restore.io.atomic`: :func:`atomic_path`, the one atomic write.

Names load on first use, so ``from restore.io import list_images`` stays light.
"""

from importlib import import_module

_HOMES = {
    "IMAGE_SUFFIXES": "listing",
    "image_suffix": "listing",
    "is_image_file": "listing",
    "list_images": "listing",
    "ImageFile": "images",
    "ImageFileError": "images",
    "ImageTooLargeError": "images",
    "decode_image": "images",
    "read_image": "images",
    "read_image_file": "images",
    "to_float": "images",
    "write_image_file": "images",
    "holes_in_mask": "masks",
    "holes_in_mask_tensor": "masks",
    "load_mask": "masks",
    "MASK_RULE": "mask_rule",
    "read_mask": "masks",
    "atomic_path": "atomic",
}


def __dir__() -> list[str]:
    return sorted([*globals(), *_HOMES])


def __getattr__(name: str):
    if name in _HOMES:
        return getattr(import_module(f"restore.io.{_HOMES[name]}"), name)
    raise AttributeError(f"module 'restore.io' has no attribute {name!r}")
