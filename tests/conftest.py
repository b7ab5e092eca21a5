"""Shared test helpers: where the real data beside the checkout lives."""
from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture
def hme_dir() -> Path:
    """The real handwriting set ../shared/data/hme_handwritten_det, or a skip saying it is absent."""
    path = SHARED_DATA / "hme_handwritten_det"
    if not (path / "img").is_dir():
        pytest.skip(f"real data not found at {path} (the repo expects ../shared/data beside the checkout)")
    return path
