"""restore: denoise photos and fill missing regions with variational autoencoders.

Subpackages: :mod:`restore.corruption` (synthetic noise and hole masks), :mod:`restore.data`
(training images), :mod:`restore.models` (the VAE and its weight files).
"""

__version__ = "0.1.0"
