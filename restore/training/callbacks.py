"""Training callbacks: validation image grids and the inference-weights export."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.utilities import rank_zero_info
from torchvision.utils import make_grid, save_image

from restore.io.atomic import atomic_path
from restore.models.weights import export_weights, load_net


class ImageGrids(L.Callback):
    """Save a ``degraded | restored | clean`` grid per validation task each validation run, an
    animation of them across training, and a sheet of samples at the end.

    Files in ``dirpath``:

    * ``step{global_step:07d}_{task}.png``: one row per image (at most ``max_images``);
    * ``progress.gif``: one frame per validation run, the synthetic tasks' grids one above the
      other (rebuilt from the PNGs after each run, so it survives a resumed run);
    * ``samples.png`` at the end of training: the first validation image corrupted by the first
      validation task with holes (else the first task), then ``samples`` draws of the model
      (``Restorer.sample``'s decoding of prior samples), then the clean image.

    The grids also go to a TensorBoard logger when one is configured.
    """

    def __init__(self, dirpath: str | Path, max_images: int = 4, samples: int = 6) -> None:
        self.dirpath = Path(dirpath)
        self.max_images = max_images
        self.samples = samples
        self._clean: torch.Tensor | None = None

    def on_validation_batch_end(
        self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0
    ):
        if batch_idx != 0 or not outputs or not trainer.is_global_zero or trainer.sanity_checking:
            return
        self.dirpath.mkdir(parents=True, exist_ok=True)
        if isinstance(batch, torch.Tensor) and self._clean is None:
            self._clean = batch[:1].detach().float().cpu()
        for task, (degraded, restored, clean) in outputs.items():
            n = min(self.max_images, clean.shape[0])
            rows = torch.stack([degraded[:n], restored[:n], clean[:n]], dim=1).flatten(0, 1)
            grid = make_grid(rows.float().clamp(0, 1).cpu(), nrow=3, padding=2, pad_value=1.0)
            save_image(grid, self.dirpath / f"step{trainer.global_step:07d}_{task}.png")
            for logger in trainer.loggers:
                if hasattr(getattr(logger, "experiment", None), "add_image"):
                    logger.experiment.add_image(f"val/{task}", grid, trainer.global_step)

    def on_validation_epoch_end(self, trainer, pl_module) -> None:
        if trainer.is_global_zero and not trainer.sanity_checking and self.dirpath.is_dir():
            write_progress_gif(self.dirpath, sorted(pl_module.val_tasks))

    def on_fit_end(self, trainer, pl_module) -> None:
        if not trainer.is_global_zero or self._clean is None or self.samples < 1:
            return
        tasks = list(pl_module.val_tasks.items())
        name, corruption = next(((n, c) for n, c in tasks if c.masks is not None), tasks[0])
        clean = self._clean.to(pl_module.device)
        g = torch.Generator().manual_seed(pl_module.hparams.val_seed)
        result = corruption(clean, generator=g)
        keep_known = len(corruption.noise) == 0 and corruption.damage is None
        draws = pl_module.net.sample(
            result.degraded, result.mask, self.samples, keep_known, generator=g
        )[:, 0]
        row = torch.cat([result.degraded, draws.float(), clean]).clamp(0, 1).cpu()
        self.dirpath.mkdir(parents=True, exist_ok=True)
        sheet = make_grid(row, nrow=len(row), padding=2, pad_value=1.0)
        save_image(sheet, self.dirpath / "samples.png")
        rank_zero_info(f"Samples of task {name}: {self.dirpath / 'samples.png'}")


def write_progress_gif(folder: Path, tasks: list[str], seconds: float = 0.8) -> Path | None:
    """``folder/progress.gif`` from the ``step<N>_<task>.png`` grids: one frame per step, the
    grids of ``tasks`` that have the first task's width stacked, the step written on top."""
    from PIL import Image, ImageDraw

    steps = sorted({p.stem.split("_", 1)[0] for p in folder.glob("step*_*.png")})
    frames = []
    for step in steps:
        grids = [folder / f"{step}_{task}.png" for task in tasks]
        images = [Image.open(p).convert("RGB") for p in grids if p.is_file()]
        images = [im for im in images if images and im.width == images[0].width]
        if not images:
            continue
        frame = Image.new("RGB", (images[0].width, 14 + sum(im.height for im in images)), "white")
        ImageDraw.Draw(frame).text((2, 1), f"step {int(step[4:])}", fill="black")
        top = 14
        for im in images:
            frame.paste(im, (0, top))
            top += im.height
        frames.append(frame)
    if not frames:
        return None
    size = max(f.size for f in frames)
    frames = [f if f.size == size else f.resize(size) for f in frames]
    path = folder / "progress.gif"
    with atomic_path(path) as tmp:
        frames[0].save(
            tmp,
            format="GIF",
            save_all=True,
            append_images=frames[1:],
            duration=int(seconds * 1000),
            loop=0,
        )
    return path


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
