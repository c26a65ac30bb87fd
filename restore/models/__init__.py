"""The restoration VAE and its Lightning training module (weight files:
:mod:`restore.io.weights`)."""

from restore.models.vae import Encoding, RestorationVAE, VAEOutput, gaussian_kl, reparameterize

__all__ = ["Encoding", "RestorationVAE", "VAEOutput", "gaussian_kl", "reparameterize"]
