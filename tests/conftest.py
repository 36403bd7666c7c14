from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "data" / "sample"
SHARED = REPO.parent / "shared" / "data"
AS_OF = "2026-01-01"


@pytest.fixture(scope="session", autouse=True)
def pii_key_file(tmp_path_factory) -> Path:
    """A pseudonymisation key for the tests' own data, in a temp file: never the user's ~/.config key."""
    from helpers import privacy

    path = tmp_path_factory.mktemp("key") / "pii.key"
    saved = {k: os.environ.pop(k, None) for k in ("SIYU_PII_KEY", "SIYU_PII_KEY_FILE")}
    os.environ["SIYU_PII_KEY_FILE"] = str(path)
    privacy.pii_key()  # created with 0600, read by every later load (and by report kernels, which inherit it)
    yield path
    os.environ.pop("SIYU_PII_KEY_FILE", None)
    for k, v in saved.items():
        if v is not None:
            os.environ[k] = v


@pytest.fixture(scope="session")
def truth() -> dict:
    return json.loads((SAMPLE / "truth.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def sample_ds():
    from helpers.data import load

    return load(SAMPLE, as_of=AS_OF, demo=True)


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


def map_example(name: str, source: Path, out: Path) -> Path:
    """Run ``examples/<name>.py`` as a user would (``main([source, out])``) and return the folder it wrote."""
    spec = importlib.util.spec_from_file_location(name, REPO / "examples" / f"{name}.py")
    mapper = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mapper)
    assert mapper.main([str(source), str(out)]) == 0
    return out
