from __future__ import annotations

import contextlib
import importlib.util
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "data" / "sample"
SHARED = REPO.parent / "shared" / "data"
AS_OF = "2026-01-01"


#: The test modules that run longest in CI (a whole report each, the Spark one on a JVM), handed out first: ``make
#: test`` runs xdist with ``--no-loadscope-reorder``, so a long module does not start last and leave one worker
#: running alone at the end. The rest keep their collection order.
LONGEST_FIRST = ("test_spark_report.py", "test_real_data.py", "test_real_data_cohort.py", "test_degenerate.py")


def pytest_collection_modifyitems(config, items) -> None:
    first = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: first.get(item.path.name, len(first)))  # stable: order within a module kept


def shared_dir(tmp_path_factory) -> Path:
    """A folder of this test session that every pytest-xdist worker sees (the session's own temp folder without xdist).

    Without ``fcntl`` (Windows) there is no lock to share it safely, so each worker keeps its own.
    """
    base = tmp_path_factory.getbasetemp()
    shared = os.environ.get("PYTEST_XDIST_WORKER") and importlib.util.find_spec("fcntl") is not None
    return base.parent if shared else base


@contextlib.contextmanager
def session_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` while the block runs: the first worker does the work, the others wait."""
    try:
        import fcntl
    except ImportError:  # Windows: shared_dir is per worker there, nothing to lock against
        yield
        return
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


@pytest.fixture(scope="session", autouse=True)
def pii_key_file(tmp_path_factory) -> Path:
    """A pseudonymisation key for the tests' own data, in a temp file: never the user's ~/.config key.

    One key per test session, shared by the xdist workers, so a report one worker ran is checked with its own key.
    """
    from helpers import privacy

    root = shared_dir(tmp_path_factory)
    path = root / "key" / "pii.key"
    saved = {k: os.environ.pop(k, None) for k in ("SIYU_PII_KEY", "SIYU_PII_KEY_FILE")}
    os.environ["SIYU_PII_KEY_FILE"] = str(path)
    with session_lock(root / "key.lock"):
        path.parent.mkdir(exist_ok=True)
        privacy.pii_key()  # created with 0600, read by every later load (and by report kernels, which inherit it)
    yield path
    os.environ.pop("SIYU_PII_KEY_FILE", None)
    for k, v in saved.items():
        if v is not None:
            os.environ[k] = v


@pytest.fixture(scope="session")
def sample_report(tmp_path_factory, pii_key_file) -> Path:
    """The whole report on the sample with the default parameters, pages included: run once per test session.

    ``test_report``, ``test_pages`` and ``test_spark_report`` (its DuckDB side) read the same run; under xdist the
    first worker to ask runs it and the others wait. Read-only: a test that changes a report works on a copy.
    """
    from helpers.run import load_params, run_report

    root = shared_dir(tmp_path_factory)
    done = root / "sample_report.done"
    with session_lock(root / "sample_report.lock"):
        if not done.exists():
            params = {**load_params(REPO / "params" / "default.yaml")["parameters"], "data_dir": str(SAMPLE)}
            out = run_report(params, run_name="sample", reports_dir=root / "sample_report", quiet=True)
            done.write_text(str(out), encoding="utf-8")
        return Path(done.read_text(encoding="utf-8"))


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
