"""Restoring a Ray Data dataset: :class:`RayRestorer`, a callable class for
``ray.data.Dataset.map_batches`` (Ray starts one per worker, so the model loads once per worker).

Needs the ``ray`` extra (``pip install 'restore[ray]'``); this module itself does not import Ray.
Example, a folder in, a folder out (see also ``scripts/ray_restore.py``)::

    import ray
    from restore.ray_data import RayRestorer

    ds = ray.data.read_images("photos/", include_paths=True)     # {"image": HxWxC uint8, "path"}
    ds = ds.map_batches(RayRestorer, fn_constructor_kwargs={"task": "denoise"},
                        batch_size=4, concurrency=2, num_cpus=1)  # num_gpus=1 on a GPU cluster
    ds.write_images("restored/", column="image", file_format="png")
"""

from __future__ import annotations

from typing import Any

import numpy as np

from restore.errors import failure_message
from restore.io.masks import holes_in_mask
from restore.jobs import JobOptions, restore_pixels
from restore.options import TASKS

__all__ = ["TASKS", "RayRestorer"]


class RayRestorer:
    """Restores the ``image`` column of each batch (Ray's dict of NumPy arrays) in place.

    Args:
        weights, model: a weights file or a shipped model name (default: the shipped default).
        task: one of :data:`restore.options.TASKS`, as :func:`restore.jobs.restore_pixels` does
            them: ``denoise`` (``sigma`` None: blind), ``inpaint``, ``restore`` or ``auto`` (the
            holes come from the ``mask`` column: ``(H, W)``, read by the mask rule of
            :mod:`restore.io.masks`: above half the range, True, or 1 in a 0/1 array is a
            hole), or ``repair`` (old photos: the model finds the damage; the mask found goes
            to a ``damage`` column).
        sigma: the noise level (0-255 scale), None: blind.
        column: the image column; images ``(H, W[, C])`` uint8, uint16 or float32 (on any range:
            restored on their own, as float TIFFs are), of one size (an ``(N, H, W[, C])``
            array) or not (an object array or list); alpha is kept.
        restorer_kwargs: passed to ``Restorer`` (``device``, ``tile``, ``precision``...).

    Other columns pass through unchanged; the output images keep their dtype and shape. An image
    that fails (a bad value, out of memory) fails alone: it passes through unchanged and the
    ``error`` column says why in one line naming it (its ``path`` when the dataset has one);
    ``error`` is empty for the others.
    """

    def __init__(
        self,
        weights: str | None = None,
        model: str | None = None,
        task: str = "denoise",
        sigma: float | None = None,
        column: str = "image",
        **restorer_kwargs: Any,
    ) -> None:
        from restore.models.weights import load_model
        from restore.restorer import Restorer

        self.options = JobOptions(task=task, sigma=sigma)
        net = load_model(weights, model)[0]
        self.restorer = Restorer(net, **restorer_kwargs)
        self.task, self.column = task, column

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        images = batch[self.column]
        masks = batch.get("mask")
        if self.task in ("inpaint", "restore") and masks is None:
            raise ValueError(f"task {self.task} needs a 'mask' column")
        paths = batch.get("path")
        out, found, errors = [], [], []
        for i, image in enumerate(images):
            image = np.asarray(image)
            try:
                holes = None if masks is None else holes_in_mask(np.asarray(masks[i]))
                restored = restore_pixels(self.restorer, image, holes, self.options)
                out.append(restored.image)
                found.append(restored.holes)
                errors.append("")
            except Exception as err:  # noqa: BLE001 - one image's failure is its own
                out.append(image)
                found.append(np.zeros(image.shape[:2], bool))
                errors.append(failure_message(paths[i] if paths is not None else f"row {i}", err))
        result = dict(batch)
        result[self.column] = _stack(out, images)
        result["error"] = np.array(errors, dtype=object)
        if self.task == "repair":
            result["damage"] = _stack(found, images)
        return result


def _stack(arrays: list[np.ndarray], like: Any) -> Any:
    """One ``(N, ...)`` array when the input column was one (same sizes), else an object array
    of the images (sizes differ)."""
    if isinstance(like, np.ndarray) and like.dtype != object:
        return np.stack(arrays)
    column = np.empty(len(arrays), dtype=object)
    for i, array in enumerate(arrays):
        column[i] = array
    return column
