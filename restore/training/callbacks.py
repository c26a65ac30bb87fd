"""Training callbacks: validation image grids, the step number of validation metrics, a progress
bar counted in steps, the resumable checkpoint of a run, and the inference-weights export."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.callbacks import ModelCheckpoint, TQDMProgressBar
from lightning.pytorch.utilities import rank_zero_info
from lightning.pytorch.utilities.exceptions import SIGTERMException
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


class LogGlobalStep(L.Callback):
    """Give each validation run's metrics the step number of the run's grids and checkpoint.

    A run's numbers are steps taken: the optimizer steps behind the weights that were measured.
    ``ImageGrids``' ``step<N>_<task>.png``, ``ModelCheckpoint``'s ``{step}`` and the training rows
    of the loggers (a training batch's loss is logged at the steps taken before it) count so;
    Lightning logs a validation run after ``N`` steps at ``N - 1`` (the last training batch's
    index). This callback logs ``step`` = ``trainer.global_step`` with the validation metrics,
    which Lightning's loggers take as the step of their row.
    """

    def on_validation_epoch_end(self, trainer, pl_module) -> None:
        if not trainer.sanity_checking:
            pl_module.log("step", float(trainer.global_step), rank_zero_only=True)


class StepProgressBar(TQDMProgressBar):
    """Lightning's tqdm bar over the whole run in optimizer steps (not batches of an epoch):
    ``15%|███   | step 30/200, 0.41 s/step, ETA 0:01:19, train/loss=...`` (:func:`progress_text`).

    The time per step leaves validation runs out; the ETA counts them in at the share of the time
    they have taken so far. Without a step limit (``trainer.max_steps`` -1) the bar has no total
    and no ETA. A resumed run counts its time from where it resumed.

    Args:
        refresh_rate: update the bar every this many steps (0: no bar).
        process_position: the bar's line, for several trainers at once (Lightning's meaning).
    """

    TRAIN_FORMAT = "{percentage:3.0f}%|{bar:16}| {desc}{postfix}"  # the others: Lightning's

    def __init__(self, refresh_rate: int = 1, process_position: int = 0) -> None:
        super().__init__(refresh_rate, process_position)
        self._start = (0.0, 0)  # time and step when training started
        self._validation_seconds = 0.0
        self._validation_start: float | None = None

    def on_train_start(self, trainer, pl_module) -> None:
        super().on_train_start(trainer, pl_module)
        total = trainer.max_steps if trainer.max_steps > 0 else None
        bar = self.train_progress_bar
        bar.bar_format = self.TRAIN_FORMAT if total else "{desc}{postfix}"
        bar.reset(total=total)
        bar.n = trainer.global_step
        self._start = (time.monotonic(), trainer.global_step)
        self._validation_seconds = 0.0

    def on_train_epoch_start(self, trainer, *_) -> None:
        """Nothing: the bar runs over all epochs."""

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        bar, step = self.train_progress_bar, trainer.global_step
        if self._should_update(step, bar.total):
            started, first = self._start
            seconds = time.monotonic() - started
            text = progress_text(step, bar.total, step - first, seconds, self._validation_seconds)
            bar.set_description_str(text, refresh=False)
            bar.n = step
            bar.set_postfix(self.get_metrics(trainer, pl_module))

    def on_validation_start(self, trainer, pl_module) -> None:
        super().on_validation_start(trainer, pl_module)
        if not trainer.sanity_checking:
            self._validation_start = time.monotonic()

    def on_validation_end(self, trainer, pl_module) -> None:
        super().on_validation_end(trainer, pl_module)
        if self._validation_start is not None:
            self._validation_seconds += time.monotonic() - self._validation_start
            self._validation_start = None


def progress_text(
    step: int,
    max_steps: int | None,
    steps_timed: int,
    seconds: float,
    validation_seconds: float = 0.0,
) -> str:
    """The training bar's text: ``step 30/200, 0.41 s/step, ETA 0:01:19``.

    ``steps_timed`` steps took ``seconds``, ``validation_seconds`` of them validating: the time
    per step leaves validation out; the ETA, the time the remaining ``max_steps - step`` steps
    take at the rate so far, counts it in. ``max_steps`` None: ``step 30, 0.41 s/step`` (no
    limit, no ETA); before a step is timed, the step alone.
    """
    text = f"step {step}" if max_steps is None else f"step {step}/{max_steps}"
    if steps_timed < 1:
        return text
    text += f", {(seconds - validation_seconds) / steps_timed:.3g} s/step"
    if max_steps is None:
        return text
    eta = max(max_steps - step, 0) * seconds / steps_timed
    return f"{text}, ETA {timedelta(seconds=round(eta))}"


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


class RunCheckpoint(L.Callback):
    """Keep ``dirpath/last.ckpt`` a full checkpoint of the run (weights, recognition network,
    optimizer, schedule, step and callbacks: what ``restore-train resume=RUN`` continues from):
    written every ``every_minutes`` of training, after each validation, at the end, and when the
    run is stopped (SIGTERM, or Ctrl-C), written to a temporary file and then renamed so a stop
    while writing leaves the previous one. ``stopped_by`` says which signal stopped the run (None
    while it runs or when it ends by itself); ``restore-train`` exits 143 or 130 then.
    """

    def __init__(self, dirpath: str | Path, every_minutes: float | None = 5.0) -> None:
        if every_minutes is not None and not every_minutes > 0:
            raise ValueError(f"every_minutes must be > 0 or null, got {every_minutes}")
        self.path = Path(dirpath) / "last.ckpt"
        self.every = None if every_minutes is None else 60.0 * float(every_minutes)
        self.stopped_by: str | None = None
        self._last = time.monotonic()

    def save(self, trainer) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        trainer.save_checkpoint(tmp, weights_only=False)  # collective: every process takes part
        if trainer.is_global_zero:
            tmp.replace(self.path)
        self._last = time.monotonic()

    def on_train_start(self, trainer, pl_module) -> None:
        self._last = time.monotonic()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if self.every is not None and time.monotonic() - self._last >= self.every:
            self.save(trainer)

    def on_validation_end(self, trainer, pl_module) -> None:
        if not trainer.sanity_checking:
            self.save(trainer)

    def on_train_end(self, trainer, pl_module) -> None:
        self.save(trainer)

    def on_exception(self, trainer, pl_module, exception: BaseException) -> None:
        if isinstance(exception, (SIGTERMException, KeyboardInterrupt)):
            self.stopped_by = "SIGTERM" if isinstance(exception, SIGTERMException) else "SIGINT"
            if trainer.global_step > 0:
                self.save(trainer)


class ExportWeights(L.Callback):
    """At the end of training, export the best checkpoint's network (or the last one) to
    ``path``.

    ``calibrate``: first re-fit the uncertainty head's calibration
    (:func:`restore.training.calibration.fit_calibration`) on the data module's validation photos
    (centre crops of its ``val_patch_size``) and real validation pairs; otherwise the network
    keeps the calibration it has (the one it was initialised from, for a fine-tune).
    ``every_minutes``: also export the network as it is every so many minutes of training, so a
    run that is cut off (a lent GPU's time running out) leaves usable weights at ``path``.
    ``dtype``: ``float32`` or ``float16`` (half the file; what ships).
    """

    def __init__(
        self,
        path: str | Path,
        calibrate: bool = False,
        every_minutes: float | None = None,
        dtype: str = "float32",
    ) -> None:
        if dtype not in ("float32", "float16"):
            raise ValueError(f"dtype must be float32 or float16, got {dtype!r}")
        if every_minutes is not None and not every_minutes > 0:
            raise ValueError(f"every_minutes must be > 0, got {every_minutes}")
        self.path = Path(path)
        self.calibrate = calibrate
        self.every = None if every_minutes is None else 60.0 * float(every_minutes)
        self.dtype = getattr(torch, dtype)
        self._last = time.monotonic()

    def on_train_start(self, trainer, pl_module) -> None:
        self._last = time.monotonic()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if self.every is None or time.monotonic() - self._last < self.every:
            return
        self._last = time.monotonic()
        if trainer.is_global_zero:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            export_weights(pl_module.net, self.path, self.dtype)

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
        if self.calibrate and net.scale_head is not None:
            self._calibrate(net.float().cpu().eval(), trainer.datamodule)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        export_weights(net, self.path, self.dtype)
        rank_zero_info(
            f"Exported inference weights to {self.path} (from {best or 'final weights'})"
        )

    @staticmethod
    def _calibrate(net, datamodule) -> None:
        from restore.training.calibration import fit_calibration

        files = list(getattr(datamodule, "val_files", []))
        pairs = {
            p.name: [(item["noisy"][None], item["clean"][None]) for item in p]
            for p in getattr(datamodule, "data_real", [])
        }
        crop = getattr(datamodule, "val_patch_size", None)
        net.calibration, count = fit_calibration(net, files, pairs=pairs, crop=crop)
        rank_zero_info(
            f"Uncertainty calibration re-fitted on {len(files)} validation photos and "
            f"{sum(map(len, pairs.values()))} real pairs ({count} values): "
            f"{net.calibration}"
        )
