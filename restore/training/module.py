"""Lightning module: trains a :class:`RestorationVAE` on images corrupted on the fly, on the
device."""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping
from typing import Any

import kornia
import lightning as L
import torch
import torch.nn.functional as F
import torchmetrics
from torch import Tensor

from restore.corruption import Corruption, CorruptionResult
from restore.metrics import damage_average_precision, gaussian_nll, interval_coverage, psnr, ssim
from restore.models.heads import HEADS, has_head
from restore.models.noise_level import asymmetric_level_loss, cell_noise_level, upsample_level
from restore.models.vae import DECODED_HEADS, RestorationVAE
from restore.models.weights import saved_config

LIKELIHOODS = ("laplace", "gaussian")
DISTILL_CROPS = ("weak_noise", "teacher_better", "all")


def scale_nll_loss(restored: Tensor, log_scale: Tensor, clean: Tensor) -> Tensor:
    """Gaussian negative log-likelihood per pixel (nats, constants dropped) of ``clean`` under
    ``N(restored, exp(log_scale)^2)``; all ``(B, C, H, W)`` on the [0, 1] scale."""
    log_scale = log_scale.float().clamp(-12.0, 2.0)
    err = (clean.float() - restored.float()) * torch.exp(-log_scale)
    return (log_scale + 0.5 * err**2).mean()


# Hand-made 3 x 3 filters whose local energy describes texture: the two gradients, the two
# diagonals and the Laplacian.
_TEXTURE_FILTERS = torch.tensor(
    [
        [[0, 0, 0], [-1, 0, 1], [0, 0, 0]],
        [[0, -1, 0], [0, 0, 0], [0, 1, 0]],
        [[-1, 0, 0], [0, 0, 0], [0, 0, 1]],
        [[0, 0, -1], [0, 0, 0], [1, 0, 0]],
        [[0, 1, 0], [1, -4, 1], [0, 1, 0]],
    ],
    dtype=torch.float32,
)[:, None]


def texture_statistics_loss(
    output: Tensor, clean: Tensor, mask: Tensor, scales: int = 3, window: float = 2.0
) -> Tensor:
    """How far the local texture statistics of ``output`` are from those of ``clean`` inside the
    holes (``mask`` ``(B, 1, H, W)``, 1 = hole): the mean over the hole pixels of ``|log(e_out) -
    log(e_clean)|``, ``e`` the local energy (squared response, Gaussian-weighted over ``window``
    pixels) of the grey image under :data:`_TEXTURE_FILTERS`, at ``scales`` scales (1, 1/2,
    1/4, ...). Phase-free: it asks for the right amount and orientation of detail in each place,
    not for the true pixels, so a haze costs much and a plausible texture little. Images on the
    [0, 1] scale; 0 where nothing is missing."""
    grey = [kornia.color.rgb_to_grayscale(x.float()) if x.shape[1] == 3 else x.float()
            for x in (output, clean)]  # fmt: skip
    hole = mask.float()
    filters = _TEXTURE_FILTERS.to(grey[0])
    size = 2 * int(math.ceil(3 * window)) + 1
    total = grey[0].new_zeros(())
    for scale in range(scales):
        if scale:
            grey = [F.avg_pool2d(g, 2) for g in grey]
            hole = F.max_pool2d(hole, 2)
        energy = [
            kornia.filters.gaussian_blur2d(
                F.conv2d(F.pad(g, [1] * 4, mode="replicate"), filters).square(),
                (size, size),
                (window, window),
                border_type="replicate",
            )
            for g in grey
        ]
        gap = (torch.log(energy[0] + 1e-5) - torch.log(energy[1] + 1e-5)).abs().mean(1, True)
        total = total + (gap * hole).sum() / hole.sum().clamp_min(1)
    return total / scales


class TrainingModule(L.LightningModule):
    """ELBO training of a conditional VAE for restoration.

    Args:
        net: the VAE.
        corruption: corruption applied to each training batch on its device.
        val_tasks: named corruptions for validation; each is applied with a fixed seed per batch, so
            the validation set is the same every epoch. Tasks whose corruption adds neither noise
            nor damage are scored with the known pixels kept (pure inpainting). Real noisy/clean
            pairs from the data module are scored too, blind, under their set's name;
            ``val/psnr`` is the mean of all tasks' PSNRs. May be empty (real pairs only, or a
            subclass that validates otherwise).
        optimizer: partial optimizer, called with the parameters.
        scheduler: optional partial LR scheduler, called with the optimizer (stepped per step).
        likelihood: ``laplace`` (L1) or ``gaussian`` (L2) decoder likelihood.
        likelihood_scale: scale of that likelihood on the [0, 1] intensity scale (Laplace ``b`` or
            Gaussian ``sigma``); the reconstruction term is its negative log-likelihood per pixel.
        beta: KL weight once warmed up; ``kl_warmup_steps`` ramps it linearly from 0.
        prior_weight: weight of the reconstruction loss of the prior-mean decode (the deterministic
            restoration used at inference), added to the negative ELBO as in Sohn et al.'s hybrid
            CVAE objective; 0 trains the pure ELBO.
        noise_level_p: share of training images told their true noise level (the RMS of the
            corruption; per ``CELL``-pixel cell with a noise estimator); the rest train blind,
            which with a noise estimator means told the estimator's (detached) reading.
            Validation is blind.
        level_weight: weight of the noise estimator's loss (:func:`asymmetric_level_loss`
            against the true level of each cell).
        level_alpha: its asymmetry (< 0.5 punishes reading too little noise more).
        level_grad: the restoration's loss trains the estimator too, through the levels it tells
            the network (CBDNet's end-to-end training): it learns the level that restores best,
            its own loss keeping it near the true one; else only its own loss trains it.
        group_lr: learning rates of parameter groups by name prefix, e.g. ``{noise_estimator:
            1e-3}`` for a new part beside a fine-tuned network; the rest use the optimizer's.
        channels_last: run the network in channels-last memory format (faster on CPU and GPU).
        val_seed: base seed of the validation corruptions.
        trainable: names (prefixes) of the network's parameters to train, e.g. ``[scale_head]``
            to learn only the uncertainty head; the others are frozen. None trains all.
        texture_weight: weight of :func:`texture_statistics_loss` of the prior-mean decode
            inside the holes (a fill with the texture of real content, not a haze); 0: none.
        teacher: a frozen network to stay close to while fine-tuning (e.g. the shipped model):
            on the training crops ``distill_crops`` chooses, the prior-mean decode also pays its
            negative log-likelihood under the teacher's restoration, and the noise estimator its
            level loss against the teacher's reading (symmetric), each times
            ``distill_weight``; the other crops learn from the clean image alone. Kept out of
            the checkpoint's state.
        distill_weight: weight of those terms (> 0 with a teacher).
        distill_crops: ``weak_noise``: the crops whose noise RMS is at most
            ``distill_max_rms`` grey levels; ``teacher_better``: those the teacher restores
            closer to the clean image than the student does now (mean absolute error), so the
            student keeps what the teacher does well and learns the rest; ``all``: every crop
            (distilling the teacher into a smaller student).
        distill_max_rms: the noise RMS (grey levels) up to which ``weak_noise`` holds a crop.

    With a damage head (``net.damage``), the loss also holds the binary cross-entropy of its
    logits against the corruption's damage mask (all zeros when it has no damage op), and
    validation logs ``val/<task>/damage_ap`` (pixel average precision) for tasks with damage.
    With an uncertainty head (``net.uncertainty``), the loss also holds the Gaussian negative
    log-likelihood of the clean image under the prior-mean decode and the head's per-pixel scale
    (the decode detached: the scale learns the error, it does not change the restoration), and
    validation logs ``val/<task>/coverage90``: the share of pixels whose error lies within the
    central 90 % interval.
    """

    def __init__(
        self,
        net: RestorationVAE,
        corruption: Corruption,
        val_tasks: Mapping[str, Corruption],
        optimizer: Callable[..., torch.optim.Optimizer],
        scheduler: Callable[..., Any] | None = None,
        likelihood: str = "laplace",
        likelihood_scale: float = 0.02,
        beta: float = 1.0,
        kl_warmup_steps: int = 1000,
        prior_weight: float = 1.0,
        noise_level_p: float = 0.5,
        channels_last: bool = True,
        val_seed: int = 1234,
        trainable: list[str] | None = None,
        level_weight: float = 1.0,
        level_alpha: float = 0.3,
        level_grad: bool = False,
        group_lr: Mapping[str, float] | None = None,
        texture_weight: float = 0.0,
        teacher: RestorationVAE | None = None,
        distill_weight: float = 1.0,
        distill_crops: str = "weak_noise",
        distill_max_rms: float = 15.0,
    ) -> None:
        super().__init__()
        if likelihood not in LIKELIHOODS:
            raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got {likelihood!r}")
        if (
            likelihood_scale <= 0
            or beta < 0
            or kl_warmup_steps < 0
            or prior_weight < 0
            or texture_weight < 0
        ):
            raise ValueError(
                "likelihood_scale must be > 0; beta, kl_warmup_steps, prior_weight, "
                "texture_weight >= 0"
            )
        if teacher is not None and not (distill_weight > 0 and distill_max_rms >= 0):
            raise ValueError(
                f"with a teacher, need distill_weight > 0 and distill_max_rms >= 0, got "
                f"{distill_weight}, {distill_max_rms}"
            )
        if distill_crops not in DISTILL_CROPS:
            raise ValueError(f"distill_crops must be one of {DISTILL_CROPS}, got {distill_crops!r}")
        if not 0.0 <= noise_level_p <= 1.0:
            raise ValueError(f"noise_level_p must be in [0, 1], got {noise_level_p}")
        if level_weight < 0 or not 0.0 < level_alpha < 1.0:
            raise ValueError(
                f"need level_weight >= 0 and level_alpha in (0, 1), got {level_weight}, "
                f"{level_alpha}"
            )
        # Plain types in the checkpoint's hyperparameters (it loads with weights_only=True).
        trainable = None if trainable is None else [str(name) for name in trainable]
        group_lr = {str(k): float(v) for k, v in (group_lr or {}).items()}
        modules = ("self", "net", "corruption", "val_tasks", "optimizer", "scheduler", "teacher")
        arguments = inspect.signature(TrainingModule.__init__).parameters
        # this class's arguments as checked here (a subclass adds its own)
        self.save_hyperparameters(
            {k: v for k, v in locals().items() if k in arguments and k not in modules},
            logger=False,
        )
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        self.net = net
        self.corruption = corruption
        self.val_tasks = torch.nn.ModuleDict(val_tasks)
        self.val_metrics = torch.nn.ModuleDict()  # "<task>/<metric>" -> MeanMetric, made on use
        # a tuple keeps the teacher out of the state dict, the optimizer and the checkpoint
        self.teacher = None if teacher is None else (teacher.eval().requires_grad_(False),)
        if channels_last:
            self.net.to(memory_format=torch.channels_last)
        if trainable is not None:
            prefixes = tuple(trainable)
            names = [n for n, _ in self.net.named_parameters() if n.startswith(prefixes)]
            if not names:
                raise ValueError(f"trainable {list(trainable)} names no parameter of the network")
            for name, parameter in self.net.named_parameters():
                parameter.requires_grad_(name.startswith(prefixes))
        # The extra heads run in training only when they learn (the damage head costs as much as
        # the network's full-resolution stage).
        self.trained_heads = [
            key
            for key in DECODED_HEADS
            if has_head(net, key)
            and any(p.requires_grad for p in getattr(net, HEADS[key].attribute).parameters())
        ]

    def on_fit_start(self) -> None:
        if self.teacher is not None:
            self.teacher[0].to(self.device)
            if self.hparams.channels_last:
                self.teacher[0].to(memory_format=torch.channels_last)

    # ----------------------------------------------------------------------------------------------
    def _format(self, x: Tensor) -> Tensor:
        return x.contiguous(memory_format=torch.channels_last) if self.hparams.channels_last else x

    def _corrupt(self, corruption: Corruption, clean: Tensor, generator=None):
        with torch.autocast(device_type=clean.device.type, enabled=False):
            return corruption(clean.float(), generator=generator)

    def beta_now(self) -> float:
        """KL weight at the current step (linear warm-up)."""
        warm = self.hparams.kl_warmup_steps
        return self.hparams.beta * (1.0 if warm == 0 else min(1.0, self.global_step / warm))

    def reconstruction_nll(self, output: Tensor, clean: Tensor) -> Tensor:
        """Negative log-likelihood per pixel (nats), constant terms dropped."""
        s = self.hparams.likelihood_scale
        err = output.float() - clean.float()
        if self.hparams.likelihood == "laplace":
            return (err.abs() / s).mean()
        return (err**2 / (2 * s * s)).mean()

    def _training_inputs(self, batch: Tensor | dict[str, Any]) -> tuple[Tensor, CorruptionResult]:
        """``(clean, corrupted)`` of a training batch: clean crops corrupted here, and real
        noisy/clean crops (``{"synthetic": ..., "real": (noisy, clean)}`` batches) as they are,
        with no holes and no damage."""
        if not isinstance(batch, dict):
            return batch, self._corrupt(self.corruption, batch)
        clean = batch["synthetic"]
        result = self._corrupt(self.corruption, clean)
        noisy, real = (x.to(clean.dtype) for x in batch["real"])
        rms = (noisy.float() - real.float()).square().mean((1, 2, 3)).sqrt().mul(255.0)
        nothing = result.mask.new_zeros((real.shape[0], *result.mask.shape[1:]))
        damage = None if result.damage is None else torch.cat([result.damage, nothing])
        return torch.cat([clean, real]), CorruptionResult(
            torch.cat([result.degraded, noisy.to(result.degraded.dtype)]),
            torch.cat([result.mask, nothing]),
            torch.cat([result.rms_error, rms]),
            damage,
        )

    def training_step(self, batch: Tensor | dict[str, Any], batch_idx: int) -> Tensor:
        clean, result = self._training_inputs(batch)
        told = torch.rand(clean.shape[0], device=clean.device) < self.hparams.noise_level_p
        known = result.mask if result.damage is None else (result.mask + result.damage).clamp(0, 1)
        if self.net.noise_estimator is None:
            level = torch.where(told, result.rms_error, float("nan"))  # told as its noise level
        else:
            true_cells = cell_noise_level(result.degraded, clean, known)
            true_level = upsample_level(true_cells, tuple(clean.shape[-2:]))
            level = torch.where(told[:, None, None, None], true_level, float("nan"))
        weight = self.hparams.prior_weight
        out = self.net(
            self._format(result.degraded),
            result.mask,
            clean,
            level,
            decode_prior=weight > 0,
            heads=self.trained_heads,
            level_grad=self.hparams.level_grad,
        )
        recon = self.reconstruction_nll(out.reconstruction, clean)
        # KL in nats per image pixel, so it is on the same footing as the per-pixel reconstruction.
        kl_map = out.kl.float()
        kl = kl_map.sum(dim=(1, 2, 3)).mean() / (clean.shape[-1] * clean.shape[-2])
        beta = self.beta_now()
        elbo_loss = recon + beta * kl
        logs = {
            "train/recon_nll": recon,
            "train/kl": kl,
            "train/beta": beta,
            "train/neg_elbo": elbo_loss,
        }
        loss = elbo_loss
        if weight > 0:
            prior_recon = self.reconstruction_nll(out.prior_reconstruction, clean)
            loss = loss + weight * prior_recon
            logs["train/prior_recon_nll"] = prior_recon
        if self.hparams.texture_weight > 0 and weight > 0:
            texture = texture_statistics_loss(out.prior_reconstruction, clean, result.mask)
            loss = loss + self.hparams.texture_weight * texture
            logs["train/texture"] = texture
        if out.level_cells is not None:
            level_loss = asymmetric_level_loss(
                out.level_cells, true_cells, self.hparams.level_alpha
            )
            loss = loss + self.hparams.level_weight * level_loss
            logs["train/level_loss"] = level_loss
        if self.teacher is not None and weight > 0:
            terms = self._distillation(result, level, out, clean)
            loss = loss + self.hparams.distill_weight * sum(terms.values())
            logs.update(terms)
        if out.prior_damage_logit is not None:
            damaged = result.damage if result.damage is not None else torch.zeros_like(result.mask)
            damage_bce = F.binary_cross_entropy_with_logits(
                out.prior_damage_logit.float(), damaged.float()
            )
            loss = loss + damage_bce
            logs["train/damage_bce"] = damage_bce
        if out.prior_log_scale is not None:
            restored = out.prior_reconstruction.detach().clamp(0.0, 1.0)  # what users get
            scale_nll = scale_nll_loss(restored, out.prior_log_scale, clean)
            loss = loss + scale_nll
            logs["train/scale_nll"] = scale_nll
        self.log_dict({"train/loss": loss, **logs}, prog_bar=True, batch_size=clean.shape[0])
        kl_per_dim = kl_map.mean(dim=(0, 2, 3))  # nats per latent position, per latent channel
        self.log_dict(
            {f"train_kl_dim/{i:02d}": v for i, v in enumerate(kl_per_dim)},
            batch_size=clean.shape[0],
        )
        return loss

    def _distillation(
        self, result: CorruptionResult, level: Tensor, out: Any, clean: Tensor
    ) -> dict[str, Tensor]:
        """The teacher terms (see the class): ``train/distill_restore`` and, with both
        estimators, ``train/distill_level``; empty when no crop is chosen."""
        teacher = self.teacher[0]
        with torch.no_grad():
            mode = self.hparams.distill_crops
            if mode == "teacher_better":
                target = teacher.restore(self._format(result.degraded), result.mask, False, level)
                student = out.prior_reconstruction.detach().float().clamp(0, 1)
                error = (target.float() - clean.float()).abs().mean((1, 2, 3))
                chosen = error < (student - clean.float()).abs().mean((1, 2, 3))
            else:
                target = None  # the teacher runs on the chosen crops only
                chosen = (
                    result.rms_error <= self.hparams.distill_max_rms
                    if mode == "weak_noise"
                    else torch.ones_like(result.rms_error, dtype=torch.bool)
                )
            if not bool(chosen.any()):
                return {}
            degraded, mask = self._format(result.degraded[chosen]), result.mask[chosen]
            if target is None:
                target = teacher.restore(degraded, mask, noise_level=level[chosen])
            else:
                target = target[chosen]
        terms = {
            "train/distill_restore": self.reconstruction_nll(
                out.prior_reconstruction[chosen], target
            )
        }
        if out.level_cells is not None and teacher.noise_estimator is not None:
            with torch.no_grad():
                filled = teacher.fill_holes(degraded, mask.to(degraded.dtype))
                read = teacher.noise_estimator(filled, mask.to(degraded.dtype))
            terms["train/distill_level"] = asymmetric_level_loss(out.level_cells[chosen], read, 0.5)
        return terms

    # ----------------------------------------------------------------------------------------------
    def validation_step(
        self, batch: Tensor | dict[str, Any], batch_idx: int, dataloader_idx: int = 0
    ) -> dict[str, tuple[Tensor, Tensor, Tensor]]:
        """Score the synthetic tasks on a batch of clean crops, or a real noisy/clean pair (a dict
        from :class:`restore.data.PairedImages`) blind. Returns ``{task: (degraded, restored,
        clean)}`` for the image grids."""
        if isinstance(batch, dict):
            name, noisy, clean = batch["name"][0], batch["noisy"].float(), batch["clean"].float()
            restored = self.net.restore(self._format(noisy)).float()
            self._score(name, restored, clean, noisy)
            if self.net.noise_estimator is not None:  # the level read over the true one
                read = self.net.estimate_noise(self._format(noisy)).float().square().mean().sqrt()
                true = (noisy - clean).square().mean().sqrt().mul(255.0).clamp(min=0.25)
                self._update(f"{name}/level_ratio", (read / true).reshape(1))
            return {name: (noisy, restored, clean)} if batch_idx == 0 else {}
        clean = batch.float()
        grids = {}
        for t, (name, corruption) in enumerate(self.val_tasks.items()):
            g = torch.Generator().manual_seed(self.hparams.val_seed + 100_003 * t + batch_idx)
            result = self._corrupt(corruption, clean, g)
            keep_known = len(corruption.noise) == 0 and corruption.damage is None
            if self.net.scale_head is None:
                restored = self.net.restore(self._format(result.degraded), result.mask, keep_known)
            else:
                restored, std = self.net.restore_with_uncertainty(
                    self._format(result.degraded), result.mask, keep_known
                )
                self._update(f"{name}/coverage90", interval_coverage(restored, std, clean))
                self._update(f"{name}/scale_nll", gaussian_nll(restored, std, clean))
            restored = restored.float()
            self._score(name, restored, clean, result.degraded)
            if self.net.damage_head is not None and result.damage is not None:
                found = self.net.detect_damage(self._format(result.degraded), result.mask)
                self._update(f"{name}/damage_ap", damage_average_precision(found, result.damage))
            if batch_idx == 0:
                grids[name] = (result.degraded, restored, clean)
        return grids

    def _score(self, task: str, restored: Tensor, clean: Tensor, degraded: Tensor) -> None:
        """Accumulate per-image PSNR / SSIM of ``task`` (reduced over batches and processes)."""
        for metric, values in (
            ("psnr", psnr(restored, clean)),
            ("ssim", ssim(restored, clean)),
            ("psnr_input", psnr(degraded, clean)),
        ):
            self._update(f"{task}/{metric}", values)

    def _update(self, key: str, values: Tensor) -> None:
        if key not in self.val_metrics:
            self.val_metrics[key] = torchmetrics.MeanMetric().to(self.device)
        self.val_metrics[key].update(values)

    def on_validation_epoch_end(self) -> None:
        """Log ``val/<task>/<metric>``, ``val/psnr`` (the mean of the tasks' PSNRs) and, with an
        uncertainty head, ``val/scale_nll`` (the mean of the tasks' uncertainty NLLs)."""
        means = {"psnr": [], "scale_nll": []}
        for key, metric in self.val_metrics.items():
            value = metric.compute()
            metric.reset()
            self.log(f"val/{key}", value)
            kind = key.rsplit("/", 1)[-1]
            if kind in means:
                means[kind].append(value)
        for kind, values in means.items():
            if values:
                self.log(f"val/{kind}", torch.stack(values).mean(), prog_bar=kind == "psnr")

    def configure_optimizers(self):
        groups: dict[str, list] = {prefix: [] for prefix in self.hparams.group_lr}
        rest = []
        for name, p in self.net.named_parameters():
            if p.requires_grad:
                prefix = next((g for g in groups if name.startswith(g)), None)
                (rest if prefix is None else groups[prefix]).append(p)
        params = [{"params": rest}] + [
            {"params": ps, "lr": self.hparams.group_lr[g]} for g, ps in groups.items() if ps
        ]
        optimizer = self.optimizer_factory(params=params)
        if self.scheduler_factory is None:
            return optimizer
        scheduler = self.scheduler_factory(optimizer=optimizer)
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "step"},
        }

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["restore_net_config"] = saved_config(self.net)
