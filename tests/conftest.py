from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "data" / "sample"
SHARED = REPO.parent / "shared" / "data"
AS_OF = "2026-01-01"


@pytest.fixture(scope="session")
def truth() -> dict:
    return json.loads((SAMPLE / "truth.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def sample_ds():
    from helpers.data import load

    return load(SAMPLE, as_of=AS_OF)


@pytest.fixture(scope="session")
def clean_sample(sample_ds, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("prep")
    return sample_ds.write(out)


def needs_shared(path: Path) -> pytest.MarkDecorator:
    """Skip when a public reference dataset is absent locally; in CI (CI set) a missing dataset fails instead."""
    return pytest.mark.skipif(
        not path.exists() and not os.environ.get("CI"),
        reason=f"{path} not present (CI has ../shared beside the clone)",
    )
