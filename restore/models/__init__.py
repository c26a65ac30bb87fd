"""The networks: the restoration VAE (:mod:`.vae`), its noise estimator (:mod:`.noise_level`),
hole fills (:mod:`.fill`), stride padding and flips (:mod:`.geometry`), and its weight files
(:mod:`.weights`: the one place that knows their format). Training lives in
:mod:`restore.training`."""

from restore.models.vae import Encoding, RestorationVAE, VAEOutput, gaussian_kl, reparameterize

__all__ = ["Encoding", "RestorationVAE", "VAEOutput", "gaussian_kl", "reparameterize"]
