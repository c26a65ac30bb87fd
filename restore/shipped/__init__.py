"""What ships inside the package: the trained models by name, and fitted camera noise (files in
this folder; the models are loaded by :func:`restore.models.weights.load_net`). Standard library
only, so the command line starts fast.

* ``photo`` (the default): real camera noise, white noise and holes;
* ``photo-fast``: ``photo`` distilled into a narrower network (the same tasks and heads with
  fewer channels, for CPUs where time counts);
* ``gaussian``: the v0.5 model, better on white Gaussian noise at low sigma.

MODEL_CARD.md says how each was trained and what it scores. Beside them, fitted camera noise
(:class:`restore.corruption.fitted.NoiseFit`) by name: ``renoir_t3i``, the noise of RENOIR's Canon
T3i low-light photos (a training set), which ``experiment=finetune`` draws to keep real noise in
its mix.
"""

from importlib import resources

SHIPPED_MODELS = {"photo": "photo.pt", "photo-fast": "photo_fast.pt", "gaussian": "gaussian.pt"}
SHIPPED_NOISE = {"renoir_t3i": "renoir_t3i_noise.json"}
DEFAULT_MODEL = "photo"


def shipped_file(name: str):
    """A file of this folder (a ``Traversable``) by its file name, a value of
    :data:`SHIPPED_MODELS` or :data:`SHIPPED_NOISE`, wherever the package is installed."""
    return resources.files(__name__) / name


def add_model_options(parser) -> None:
    """Declare ``--weights PATH`` and ``--model NAME`` on an ``argparse`` parser, one or the
    other (the one place every command declares them); with neither, load the shipped
    :data:`DEFAULT_MODEL` (:func:`restore.models.weights.load_model` with ``args.weights`` and
    ``args.model``)."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--weights",
        metavar="PATH",
        help="weights file, Lightning checkpoint or restore-train run folder (instead of a "
        "shipped --model)",
    )
    group.add_argument(
        "--model",
        choices=list(SHIPPED_MODELS),
        help=f"shipped model: photo (real photos: noise, holes, damage), photo-fast (photo in a "
        f"narrower network: faster, a little less exact) or gaussian (white Gaussian noise); "
        f"default {DEFAULT_MODEL}",
    )
