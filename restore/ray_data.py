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

TASKS = ("denoise", "inpaint", "restore", "repair")


class RayRestorer:
    """Restores the ``image`` column of each batch (Ray's dict of NumPy arrays) in place.

    Args:
        weights, model: a weights file or a shipped model name (default: the shipped default).
        task: ``denoise`` (``sigma`` None: blind), ``inpaint`` or ``restore`` (the holes come
            from the ``mask`` column: ``(H, W)``, nonzero = hole, read by the mask rule of
            :mod:`restore.io.masks`), or ``repair`` (old photos: the model finds the damage; the
            mask found goes to a ``damage`` column).
        column: the image column; images ``(H, W[, C])`` uint8, uint16 or float32 in [0, 1],
            of one size (an ``(N, H, W[, C])`` array) or not (an object array or list).
        restorer_kwargs: passed to ``Restorer`` (``device``, ``tile``, ``precision``...).

    Other columns pass through unchanged; the output images keep their dtype and shape.
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
        from restore.io.weights import load_net
        from restore.restorer import Restorer
        from restore.weights import DEFAULT_MODEL

        if task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, got {task!r}")
        net = load_net(weights, model=model or DEFAULT_MODEL)
        self.restorer = Restorer(net, **restorer_kwargs)
        self.task, self.sigma, self.column = task, sigma, column

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        images = batch[self.column]
        masks = batch.get("mask")
        if self.task in ("inpaint", "restore") and masks is None:
            raise ValueError(f"task {self.task} needs a 'mask' column")
        out, found = [], []
        for i, image in enumerate(images):
            image = np.asarray(image)
            if self.task == "denoise":
                out.append(self.restorer.denoise(image, self.sigma))
            elif self.task == "inpaint":
                out.append(self.restorer.inpaint(image, np.asarray(masks[i])))
            elif self.task == "restore":
                out.append(self.restorer.restore(image, np.asarray(masks[i]), self.sigma))
            else:
                repaired, damage = self.restorer.repair(image, self.sigma or 0.0)
                out.append(repaired)
                found.append(damage)
        result = dict(batch)
        result[self.column] = _stack(out, images)
        if found:
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
