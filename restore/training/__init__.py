"""Training: the Lightning module that trains a restoration VAE on images corrupted on the fly
(:mod:`.module`) and its callbacks (:mod:`.callbacks`: image grids, the weights export). The data
modules are in :mod:`restore.data`; ``restore-train`` (:mod:`restore.train`) composes them."""
