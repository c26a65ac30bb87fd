"""Training: the Lightning module that trains a restoration VAE on images corrupted on the fly
(:mod:`.module`; :mod:`.adaptation` adapts one to a camera's noise), its callbacks
(:mod:`.callbacks`: image grids, the weights export), the Hydra configs and ``restore-train``'s
overrides (:mod:`.config`) and the post-hoc calibration fits (:mod:`.calibration`). The data
modules are in :mod:`restore.data`; ``restore-train`` (:mod:`restore.train`) composes them."""
