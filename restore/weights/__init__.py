"""The models shipped with restore, by name (files in this folder; loaded by
:func:`restore.io.weights.load_net`). Standard library only, so the command line starts fast.

* ``photo`` (the default): real camera noise, white noise and holes;
* ``gaussian``: the v0.5 model, better on white Gaussian noise at low sigma.

MODEL_CARD.md says how each was trained and what it scores.
"""

SHIPPED_MODELS = {"photo": "photo.pt", "gaussian": "gaussian.pt"}
DEFAULT_MODEL = "photo"
