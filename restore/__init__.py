"""restore: denoise photos and fill missing regions with variational autoencoders.

``from restore import Restorer`` gives the Python API (:mod:`restore.restorer`). Subpackages:
:mod:`restore.corruption` (synthetic noise and hole masks), :mod:`restore.data` (training images),
:mod:`restore.models` (the VAE and its weight files). Heavy modules load on first use.
"""

__version__ = "2.0.0"


def __dir__() -> list[str]:
    return sorted([*globals(), "Restorer"])


def __getattr__(name: str):
    if name == "Restorer":
        from restore.restorer import Restorer

        return Restorer
    raise AttributeError(f"module 'restore' has no attribute {name!r}")
