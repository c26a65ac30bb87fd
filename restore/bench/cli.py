"""``restore-bench``: the entry point of the benchmarks, a table of subcommands
(:data:`SUBCOMMANDS`); the usage is :data:`restore.bench.common.USAGE`."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from importlib import import_module

# restore-bench <subcommand> ...: the module whose main(argv) runs it; anything else is the quality
# benchmark (restore.bench.quality). Each loads on its own, so the speed run imports only what
# Restorer needs and its memory figures are what a user's process holds.
SUBCOMMANDS = {
    "speed": "restore.bench.speed",
    "damage": "restore.bench.damage",
    "inpaint": "restore.bench.inpaint",
    "samples": "restore.bench.samples",
    "uncertainty": "restore.bench.uncertainty",
    "profile": "restore.bench.profile",
}
QUALITY = "restore.bench.quality"


def main(argv: Sequence[str] | None = None) -> int:
    """``restore-bench speed|uncertainty|damage|samples|inpaint|profile ...`` or the quality
    benchmark; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] and argv[0] in SUBCOMMANDS:
        return import_module(SUBCOMMANDS[argv[0]]).main(argv[1:])
    return import_module(QUALITY).main(argv)


def main_exit() -> None:
    """Console-script entry point: exit with :func:`main`'s status."""
    sys.exit(main())


if __name__ == "__main__":
    main_exit()
