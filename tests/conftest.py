from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture
def shared_data() -> Path:
    """``../shared/data`` (benchmark and training photos); tests using it skip when it is absent."""
    if not (SHARED_DATA / "train").is_dir():
        pytest.skip("../shared/data is not available")
    return SHARED_DATA
