"""The restoration VAE, its Lightning training module and weight files."""

from restore.models.io import export_weights, init_from, load_net
from restore.models.vae import Encoding, RestorationVAE, VAEOutput, gaussian_kl, reparameterize

__all__ = ["Encoding", "RestorationVAE", "VAEOutput", "export_weights", "gaussian_kl", "init_from",
           "load_net", "reparameterize"]
