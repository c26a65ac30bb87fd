"""The networks: the restoration VAE (:mod:`.vae`), its heads and the one table of its optional
parts (:mod:`.heads`), its noise estimator (:mod:`.noise_level`), hole fills (:mod:`.fill`), and
its weight files (:mod:`.weights`: the one place that knows their format, and the loader every
front end uses). Training lives in :mod:`restore.training`; stride padding, crops and flips,
which the data share, in :mod:`restore.geometry`."""

from restore.models.vae import Encoding, RestorationVAE, VAEOutput, gaussian_kl, reparameterize

__all__ = ["Encoding", "RestorationVAE", "VAEOutput", "gaussian_kl", "reparameterize"]
