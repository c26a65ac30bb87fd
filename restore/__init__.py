"""restore: denoise photos and fill missing regions with variational autoencoders.

``from restore import Restorer`` gives the Python API (:mod:`restore.restorer`). Layers, each
pointing only down:

* front ends: :mod:`restore.cli` (``restore-image``), :mod:`restore.ui` (``restore-ui``: page and
  HTTP API), :mod:`restore.bench` (``restore-bench``), :mod:`restore.predict` (Lightning's
  predict loop), :mod:`restore.ray_data` (Ray Data), :mod:`restore.export` (ONNX),
  :mod:`restore.calibrate` (``restore-calibrate``), :mod:`restore.train` (``restore-train``);
* inference and training: :mod:`restore.restorer`, :mod:`restore.tiling`, :mod:`restore.jobs`
  (the one job path), :mod:`restore.run_report`, :mod:`restore.training`, :mod:`restore.data`;
* models and corruption: :mod:`restore.models` (the VAE, its heads, fills, texture stage and
  weight files), :mod:`restore.corruption` (synthetic noise, camera noise, masks, damage);
* core: :mod:`restore.io` (images and masks), :mod:`restore.shipped` (the models and fitted
  noise shipped inside the package), :mod:`restore.errors`, :mod:`restore.precision`,
  :mod:`restore.convert`, :mod:`restore.geometry`, :mod:`restore.metrics`,
  :mod:`restore.visualize`, :mod:`restore.options` (option defaults, limits and number checks).

Heavy modules load on first use.
"""

__version__ = "2.0.0"


def __dir__() -> list[str]:
    return sorted([*globals(), "Restorer"])


def __getattr__(name: str):
    if name == "Restorer":
        from restore.restorer import Restorer

        return Restorer
    raise AttributeError(f"module 'restore' has no attribute {name!r}")
