"""Where the Hydra configs are: ``conf/`` of a source checkout, else the copy inside the package
(``pyproject.toml`` ships ``conf`` as ``restore/conf``)."""

from __future__ import annotations

from pathlib import Path


def config_dir() -> str:
    """The Hydra config folder: ``conf/`` of a source checkout, else the copy inside the package."""
    package = Path(__file__).resolve().parents[1]
    for candidate in (package.parent / "conf", package / "conf"):
        if (candidate / "train.yaml").is_file():
            return str(candidate)
    raise FileNotFoundError("restore-train: cannot find the conf/ folder with train.yaml")
