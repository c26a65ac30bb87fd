"""Training callbacks: validation image grids and the inference-weights export."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.utilities import rank_zero_info
from torchvision.utils import make_grid, save_image

from restore.io.weights import export_weights, load_net


class ImageGrids(L.Callback):
    """Save a ``degraded | restored | clean`` grid per validation task each validation run.

    Files: ``{dirpath}/step{global_step:07d}_{task}.png``, one row per image (at most
        ``max_images``).
    Also sent to a TensorBoard logger when one is configured.
    """

    def __init__(self, dirpath: str | Path, max_images: int = 4) -> None:
        self.dirpath = Path(dirpath)
        self.max_images = max_images

    def on_validation_batch_end(
        self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0
    ):
        if batch_idx != 0 or not outputs or not trainer.is_global_zero or trainer.sanity_checking:
            return
        self.dirpath.mkdir(parents=True, exist_ok=True)
        for task, (degraded, restored, clean) in outputs.items():
            n = min(self.max_images, clean.shape[0])
            rows = torch.stack([degraded[:n], restored[:n], clean[:n]], dim=1).flatten(0, 1)
            grid = make_grid(rows.float().clamp(0, 1).cpu(), nrow=3, padding=2, pad_value=1.0)
            save_image(grid, self.dirpath / f"step{trainer.global_step:07d}_{task}.png")
            for logger in trainer.loggers:
                if hasattr(getattr(logger, "experiment", None), "add_image"):
                    logger.experiment.add_image(f"val/{task}", grid, trainer.global_step)


class ExportWeights(L.Callback):
    """At the end of training, export the best checkpoint's network (or the last one) to
    ``path``."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def on_fit_end(self, trainer, pl_module) -> None:
        if not trainer.is_global_zero:
            return
        net = pl_module.net
        best = (
            trainer.checkpoint_callback.best_model_path
            if isinstance(trainer.checkpoint_callback, ModelCheckpoint)
            else ""
        )
        if best and Path(best).is_file():
            net = load_net(best)
        export_weights(net, self.path)
        rank_zero_info(
            f"Exported inference weights to {self.path} (from {best or 'final weights'})"
        )
