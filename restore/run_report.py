"""The ``--report`` of a ``restore-image`` run: one :class:`ReportRow` per input file, written as
CSV or JSON (by the file's suffix) in one atomic step. Standard library only, so that the command
line starts fast."""

from __future__ import annotations

import csv
import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path


@dataclass
class ReportRow:
    """One line of the report.

    Attributes:
        input: the input file.
        output: the output file (empty when none was planned).
        size: ``WxH`` of the input.
        noise_level: the noise the model read when denoising blind (grey levels, RMS); empty when
            told or not read.
        filled: share of the pixels filled (holes given or damage found); empty when none.
        seconds: time spent on the file.
        status: ``ok``, ``failed``, ``skipped`` or ``dry-run``.
        error: why it failed or was skipped, naming the file.
        warning: what to know of a file that did not fail (a mask without a hole pixel).
    """

    input: str
    output: str
    size: str = ""
    noise_level: str = ""
    filled: str = ""
    seconds: float = 0.0
    status: str = ""
    error: str = ""
    warning: str = ""


def write_report(path: str | Path, rows: list[ReportRow]) -> None:
    """Write ``rows`` to ``path``: JSON (a list of objects) when it ends in ``.json``, CSV with a
    header otherwise; atomically (a reader never sees half a report)."""
    from restore.io.atomic import atomic_path

    path = Path(path)
    with atomic_path(path) as tmp:
        if path.suffix.lower() == ".json":
            tmp.write_text(json.dumps([asdict(r) for r in rows], indent=2))
            return
        with open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=[field.name for field in fields(ReportRow)])
            writer.writeheader()
            writer.writerows(asdict(r) for r in rows)
