"""The Hydra configs of training, in one place: where they are (:func:`config_dir`), composing them
(:func:`compose_config`) and ``restore-train``'s command line (:func:`command_line`; its
overrides are continued with :func:`resume_overrides` and checked with :func:`check_overrides`
before Hydra runs). The only module that uses Hydra's compose API and its private parser of the
command line.

``pyproject.toml`` ships ``conf`` as ``restore/conf``, so an installed package finds its configs
too.
"""

from __future__ import annotations

import argparse
import difflib
from collections.abc import Sequence
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra._internal.utils import get_args_parser
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override, ValueType
from hydra.errors import HydraException, MissingConfigException, OverrideParseException
from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import ConfigAttributeError, ConfigKeyError, OmegaConfBaseException

# What a resumed run is given anew rather than taken from the overrides it was started with.
_RESUME_OWN = ("ckpt_path", "init_weights", "hydra.run.dir", "resume")

# What a setting takes, by the type of its value in the config; null, strings and interpolations
# take anything (a string setting may take a list, e.g. data.root=[a,b]).
_TAKES = (
    (bool, (bool,), "true or false"),
    ((int, float), (int, float), "a number"),
    (ListConfig, (list,), "a list, e.g. [1,2]"),
    (DictConfig, (dict,), "a mapping, e.g. {a: 1}"),
)


class OverrideError(ValueError):
    """A command-line override that cannot apply, as one line: ``<override>: <problem>``."""


def config_dir() -> str:
    """The Hydra config folder: ``conf/`` of a source checkout, else the copy inside the package."""
    package = Path(__file__).resolve().parents[1]
    for candidate in (package.parent / "conf", package / "conf"):
        if (candidate / "train.yaml").is_file():
            return str(candidate)
    raise FileNotFoundError("restore-train: cannot find the conf/ folder with train.yaml")


def compose_config(
    overrides: Sequence[str] = (), config_name: str = "train", return_hydra_config: bool = False
) -> DictConfig:
    """The config ``config_name`` of :func:`config_dir` composed with ``overrides`` (Hydra's
    override syntax), as ``restore-train`` composes it; Hydra's own errors as they come."""
    with initialize_config_dir(config_dir(), version_base="1.3"):
        return compose(config_name, list(overrides), return_hydra_config=return_hydra_config)


def command_line() -> argparse.Namespace:
    """``sys.argv`` read as Hydra reads it (overrides, ``--multirun``, ``--help``, ...)."""
    return get_args_parser().parse_args()


def one_line(text: str) -> str:
    """``text`` with its lines joined by single spaces (an error as ``restore-train`` prints it)."""
    return " ".join(line.strip() for line in text.strip().splitlines() if line.strip())


def resume_overrides(overrides: list[str]) -> list[str]:
    """``overrides`` with ``resume=RUN`` replaced by what continues that run: the overrides it was
    started with (its ``.hydra/overrides.yaml``), then the other ones given now (say, more
    ``trainer.max_steps``), then its checkpoint, no initial weights and its own folder. Without
    ``resume=`` they come back as they are; a folder that is no run or holds no checkpoint raises
    :class:`OverrideError`."""
    given = [o for o in overrides if o.split("=", 1)[0].lstrip("+~") == "resume"]
    if not given:
        return overrides
    run = Path(given[-1].split("=", 1)[1]).expanduser()
    saved, checkpoint = run / ".hydra" / "overrides.yaml", run / "checkpoints" / "last.ckpt"
    if not saved.is_file():
        raise OverrideError(f"{given[-1]}: {run} is not a restore-train run folder")
    if not checkpoint.is_file():
        raise OverrideError(
            f"{given[-1]}: {run} has no checkpoints/last.ckpt (it stopped before its first step)"
        )

    def own(override: str) -> bool:
        return override.split("=", 1)[0].lstrip("+~") in _RESUME_OWN

    before = [str(o) for o in OmegaConf.load(saved) if not own(str(o))]
    now = [o for o in overrides if not own(o)]
    return [*before, *now, f"ckpt_path={checkpoint}", "++init_weights=null", f"hydra.run.dir={run}"]


def check_overrides(
    overrides: list[str], multirun: bool = False, config_name: str = "train"
) -> None:
    """Check command-line overrides before Hydra runs them; raises :class:`OverrideError` naming
    the first one that cannot apply and why.

    The config is composed with them as Hydra will compose it (with ``multirun``, each sweep at
    its first value; interval and glob sweeps are left to the sweeper): unreadable overrides,
    config options that do not exist and keys that are not in the config fail there. Then every
    value (every value of a sweep) must suit the setting it replaces: a number for a number, true
    or false for a flag, a list for a list, a mapping for a mapping (null, and any value for a
    setting that holds a string or null); a group's options must exist. Without ``multirun`` a
    sweep is an error.
    """
    parser = OverridesParser.create()
    try:
        parsed = parser.parse_overrides(overrides)
    except OverrideParseException as err:
        reason = str(err.message).strip().splitlines()[0]  # then a link to the grammar
        raise OverrideError(f"{err.override}: cannot read it ({reason})") from None
    values: list[list[Override]] = []  # the single-valued overrides each one stands for
    for override in parsed:
        if not override.is_sweep_override():
            values.append([override])
        elif not multirun:
            raise OverrideError(
                f"{override.input_line}: several values; add --multirun to run one job each, or "
                "write a list in brackets, e.g. key=[a,b]"
            )
        elif override.is_discrete_sweep() and override.value_type != ValueType.GLOB_CHOICE_SWEEP:
            key = override.get_key_element()
            values.append(
                parser.parse_overrides([f"{key}={v}" for v in override.sweep_string_iterator()])
            )
    first = [v[0] for v in values]
    with initialize_config_dir(config_dir(), version_base="1.3"):
        loader = GlobalHydra.instance().config_loader()
        groups = {o.key_or_group for o in first if loader.get_group_options(o.key_or_group)}
        chosen = [o.input_line for o in first if o.key_or_group in groups]
        defaults = _compose(config_name, chosen, first)
        _compose(config_name, [o.input_line for o in first], first, defaults)
        for override in (o for options in values for o in options):
            if override.key_or_group in groups:
                options = loader.get_group_options(override.key_or_group)
                if isinstance(override.value(), str) and override.value() not in options:
                    raise OverrideError(_no_option(override, options))
            elif not (override.is_add() or override.is_force_add() or override.is_delete()):
                _check_type(override, defaults)


def _compose(
    config_name: str,
    overrides: list[str],
    parsed: list[Override],
    defaults: DictConfig | None = None,
) -> DictConfig:
    """The config with ``overrides``; their first failure as an :class:`OverrideError` naming
    the one of ``parsed`` it comes from (``defaults``: the config without the value overrides,
    for a likely spelling of a key not found)."""
    try:
        return compose(config_name, overrides, return_hydra_config=True)
    except MissingConfigException as err:
        group, _, name = (err.missing_cfg_file or "").rpartition("/")
        culprit = next((o for o in parsed if o.key_or_group == group), None)
        if culprit is None:
            raise OverrideError(one_line(str(err))) from None
        raise OverrideError(_no_option(culprit, err.options or [])) from None
    except (HydraException, OmegaConfBaseException, ValueError) as err:
        text = one_line(str(err))
        culprit = next((o for o in parsed if f"'{o.key_or_group}'" in text), None)
        if culprit is None:
            raise OverrideError(text) from None
        if defaults is not None and isinstance(
            err.__cause__, (ConfigAttributeError, ConfigKeyError)
        ):
            text = f"no setting {culprit.key_or_group} in the config{_spelling(culprit, defaults)}"
            text += f"; to add one, write +{culprit.input_line}"
        raise OverrideError(f"{culprit.input_line}: {text}") from None


def _no_option(override: Override, options: list[str]) -> str:
    group = override.key_or_group
    return f"{override.input_line}: no {group} option {override.value()!r}; " + (
        f"choose from {', '.join(options)}" if options else f"there is no {group} group"
    )


def _spelling(override: Override, defaults: DictConfig) -> str:
    """`` (did you mean <key>?)`` for a key of ``defaults`` close to the override's, else ``""``."""
    parent, _, leaf = override.key_or_group.rpartition(".")
    node = defaults if not parent else OmegaConf.select(defaults, parent, default=None)
    if not isinstance(node, DictConfig):
        return ""
    close = difflib.get_close_matches(leaf, [str(k) for k in node], n=1)
    return f" (did you mean {'.'.join(filter(None, (parent, close[0])))}?)" if close else ""


def _check_type(override: Override, defaults: DictConfig) -> None:
    """:class:`OverrideError` unless the override's value suits the setting's value in
    ``defaults`` (:data:`_TAKES`)."""
    old = OmegaConf.select(defaults, override.key_or_group, throw_on_resolution_failure=False)
    new = override.value()
    if new is None or (isinstance(new, str) and "${" in new):
        return
    for kinds, accepted, words in _TAKES:
        if isinstance(old, kinds):
            if not isinstance(new, accepted) or isinstance(new, bool) != isinstance(old, bool):
                raise OverrideError(f"{override.input_line}: {override.key_or_group} takes {words}")
            return
