"""The report runner's schedule: which notebooks run side by side, and what a failure beside another does."""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import nbformat
import pytest

from helpers import params, run
from helpers.params import NOTEBOOKS

from .conftest import REPO, SAMPLE

#: A file another notebook may read: its name as notebook code spells it (``tiers.csv``, ``clv.parquet`` …).
_FILE = re.compile(r"[\"'/]([a-z][a-z0-9_]*\.(?:csv|parquet|json|xlsx))[\"']")


def _code(stem: str) -> str:
    nb = nbformat.read(REPO / "notebooks" / f"{stem}.ipynb", as_version=4)
    return "\n".join(c.source for c in nb.cells if c.cell_type == "code")


def _after(stem: str, waits: dict[str, set[str]]) -> set[str]:
    """Every notebook ``stem`` waits for, directly or through another."""
    seen, todo = set(), list(waits[stem])
    while todo:
        s = todo.pop()
        if s not in seen:
            seen.add(s)
            todo.extend(waits[s])
    return seen


def test_a_notebook_that_names_an_earlier_notebooks_file_waits_for_it():
    """The first notebook of the sequence that names a file writes it; any later one that names it must wait for
    that notebook (so side-by-side notebooks never read a file before it is written)."""
    waits = run._waits_for([REPO / "notebooks" / f"{s}.ipynb" for s in NOTEBOOKS])
    writer: dict[str, str] = {}
    checked = []
    for stem in NOTEBOOKS:
        for name in sorted(set(_FILE.findall(_code(stem)))):
            first = writer.setdefault(name, stem)
            if first != stem:
                checked.append((stem, name, first))
                late = Path(run.LATE.get(stem, {}).get(first, "")).name == name  # waits where it reads it
                assert late or first in _after(stem, waits), f"{stem} reads {name} from {first} without waiting for it"
    # the check has teeth: the known readers are among the pairs it looked at
    assert ("03_repurchase", "tiers.csv", "02_user_tiers") in checked
    assert ("06_targeting", "buyer_values.parquet", "03_repurchase") in checked
    # and independent notebooks really are independent: 01, 04, 05 and 07 wait for 00 only
    assert all(waits[s] == {"00_data_prep"} for s in ("01_acquisition", "04_attribution", "05_community", "07_staff"))
    assert waits["08_summary"] == set(NOTEBOOKS[:-1])


def _notebook(folder: Path, stem: str, source: str) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, folder / f"{stem}.ipynb")


@pytest.fixture
def tiny_sequence(tmp_path, monkeypatch):
    """Replace the notebook sequence with small notebooks written by the test (parameters: the sample's folder)."""
    folder = tmp_path / "notebooks"
    folder.mkdir()

    def use(notebooks: dict[str, str], reads: dict[str, tuple[str, ...]], early: dict | None = None) -> None:
        for stem, source in notebooks.items():
            _notebook(folder, stem, source)
        monkeypatch.setattr(run, "NOTEBOOK_DIR", folder)
        monkeypatch.setattr(run, "NOTEBOOKS", list(notebooks))
        monkeypatch.setattr(run, "READS", reads)
        monkeypatch.setattr(run, "EARLY", early or {})
        monkeypatch.setattr(run, "CHAIN", ())

    return use


def test_independent_notebooks_run_side_by_side_and_a_reader_waits(tiny_sequence, tmp_path):
    """Two independent notebooks meet: each writes its file and waits for the other's, which only works when they
    run at the same time (one after the other, the first would time out). The notebook that reads both files is not
    in READS, so it starts only after both and finds them."""
    meet = (
        "import pathlib, time\n"
        "pathlib.Path(r'{out}', '{me}').write_text('here')\n"
        "t0 = time.time()\n"
        "while not pathlib.Path(r'{out}', '{other}').exists():\n"
        "    assert time.time() - t0 < 120, 'the other notebook did not run beside this one'\n"
        "    time.sleep(0.05)\n"
        "assert pathlib.Path.cwd().name == 'notebooks'  # kernels start where the notebooks are"
    )
    out = tmp_path / "shared"
    out.mkdir()
    both = f"import pathlib\nassert sorted(p.name for p in pathlib.Path(r'{out}').iterdir()) == ['a.txt', 'b.txt']"
    tiny_sequence(
        {
            "00_a": meet.format(out=out, me="a.txt", other="b.txt"),
            "01_b": meet.format(out=out, me="b.txt", other="a.txt"),
            "02_c": both,
        },
        {"00_a": (), "01_b": ()},  # 02_c is not listed: it waits for both
    )
    cwd = Path.cwd()
    report = run.run_report({"data_dir": str(SAMPLE)}, run_name="r", reports_dir=tmp_path / "reports", quiet=True,
                            html=False, jobs=2)  # fmt: skip
    assert Path.cwd() == cwd  # the runner's working folder is left as it was
    record = json.loads((report / "run.json").read_text())["notebooks"]
    assert [n["notebook"] for n in record] == ["00_a", "01_b", "02_c"]  # recorded in sequence order
    c = record[2]
    assert c["started"] >= max(n["started"] + n["seconds"] for n in record[:2]) - 0.5  # after both had finished
    assert all(isinstance(n["kernel_pid"], int) for n in record)


def test_notebooks_run_one_at_a_time_when_two_kernels_would_not_fit_in_memory(tiny_sequence, tmp_path, monkeypatch):
    """At 10 M contacts 03's kernel was killed out of memory beside 01's: once 00 has written the clean tables,
    the runner starts no more notebooks at once than their memory allows (here: a kernel needs more than the
    machine has, so one at a time)."""
    here = "import os, pathlib, time\nrun = pathlib.Path(os.environ['TMPDIR']).parent  # the run's folder\n"
    prep = here + "(run / 'clean').mkdir(exist_ok=True); (run / 'clean' / 't.parquet').write_bytes(b'x' * 1000)"
    monkeypatch.setattr(run, "KERNEL_BASE_BYTES", 10**15)
    tiny_sequence(
        {"00_data_prep": prep, "01_a": "import time; time.sleep(1)", "02_b": "import time; time.sleep(1)"},
        {"00_data_prep": (), "01_a": ("00_data_prep",), "02_b": ("00_data_prep",)},
    )
    report = run.run_report({"data_dir": str(SAMPLE)}, run_name="r", reports_dir=tmp_path / "reports", quiet=True,
                            html=False, jobs=2)  # fmt: skip
    _, a, b = json.loads((report / "run.json").read_text())["notebooks"]
    assert b["started"] >= a["started"] + a["seconds"] - 0.5  # not beside each other
    assert run.fitting_jobs(2, 1000) == 1


def test_a_reader_starts_once_the_writer_has_written_its_file(tiny_sequence, tmp_path):
    """:data:`helpers.run.EARLY`: the reader starts while the writer still runs (the writer waits for the reader's
    answer, so the run only ends if it did); a reader whose file never appears starts when the writer has ended."""
    here = "import os, pathlib, time\nrun = pathlib.Path(os.environ['TMPDIR']).parent  # the run's folder\n"
    writer = here + (
        "(run / 'x.part').write_text('whole'); (run / 'x.part').rename(run / 'x.txt')\n"
        "t0 = time.time()\n"
        "while not (run / 'y.txt').exists():\n"
        "    assert time.time() - t0 < 120, 'the reader did not start while this notebook ran'\n"
        "    time.sleep(0.05)\n"
    )
    reader = here + "assert (run / 'x.txt').read_text() == 'whole'\n(run / 'y.txt').write_text('seen')"
    tiny_sequence(
        {"00_w": writer, "01_r": reader, "02_late": "1"},
        {"00_w": (), "01_r": ("00_w",), "02_late": ("00_w",)},
        {"01_r": {"00_w": "x.txt"}, "02_late": {"00_w": "never.txt"}},
    )
    report = run.run_report({"data_dir": str(SAMPLE)}, run_name="r", reports_dir=tmp_path / "reports", quiet=True,
                            html=False, jobs=2)  # fmt: skip
    w, r, late = json.loads((report / "run.json").read_text())["notebooks"]
    assert r["started"] < w["started"] + w["seconds"]  # beside the writer
    assert late["started"] >= w["started"] + w["seconds"] - 0.5  # its file never came: after the writer


def test_the_early_readers_name_only_their_one_file_of_the_writer():
    """A notebook in :data:`helpers.run.EARLY` starts before its writer ends, so it may read that one file only."""
    assert run.EARLY, "no early start configured"
    for reader, writers in run.EARLY.items():
        for writer, path in writers.items():
            assert writer in run.READS[reader]
            written = set(_FILE.findall(_code(writer)))
            read = set(_FILE.findall(_code(reader))) & written - set(
                _FILE.findall("".join(_code(w) for w in run.READS[reader] if w != writer))
            )
            assert read == {Path(path).name}, (reader, writer, read)
            assert f'"{Path(path).parent}") / "{Path(path).name}"' in _code(writer)  # written where the runner looks


def test_the_late_readers_wait_for_their_one_file_where_they_read_it():
    """A notebook in :data:`helpers.run.LATE` starts beside its writer, so it names that writer's file only through
    ``run.written_by`` (which waits for it); the writer writes it whole (``exports.written_whole``)."""
    assert run.LATE, "no late read configured"
    for reader, writers in run.LATE.items():
        for writer, path in writers.items():
            assert (
                writer in run.READS[reader]
                and writer not in run._waits_for([REPO / "notebooks" / f"{s}.ipynb" for s in NOTEBOOKS])[reader]
            )
            # the writer is never queued behind its reader (else a reader waiting in a slot could hold the writer)
            assert NOTEBOOKS.index(writer) < NOTEBOOKS.index(reader) and (
                reader not in run.CHAIN or writer in run.CHAIN
            )
            code = _code(reader)
            assert code.count(Path(path).name) == 1 and f'run.written_by("{writer}", "{path}")' in code


def test_a_late_reader_runs_beside_its_writer_and_waits_for_the_file(tiny_sequence, tmp_path, monkeypatch):
    """The reader starts with the writer, waits in written_by until the file is there, and reads it whole; a reader
    whose writer ends without the file stops waiting when the writer ends."""
    here = (
        "import os, pathlib, time\n"
        "from helpers.params import NotebookRun\n"
        "out = pathlib.Path(os.environ['TMPDIR']).parent  # the run's folder\n"
        "run = NotebookRun('x', {}, out, out / 'clean')\n"
    )
    writer = here + "time.sleep(3)\n(out / 'x.part').write_text('whole'); (out / 'x.part').rename(out / 'x.txt')\n"
    reader = here + "assert run.written_by('00_w', 'x.txt').read_text() == 'whole'\n"
    never = here + "assert not run.written_by('00_w', 'never.txt').exists()\n"
    tiny_sequence(
        {"00_w": writer, "01_r": reader, "02_n": never},
        {"00_w": (), "01_r": ("00_w",), "02_n": ("00_w",)},
    )
    monkeypatch.setattr(run, "LATE", {"01_r": {"00_w": "x.txt"}, "02_n": {"00_w": "never.txt"}})
    report = run.run_report({"data_dir": str(SAMPLE)}, run_name="l", reports_dir=tmp_path / "reports", quiet=True,
                            html=False, jobs=3)  # fmt: skip
    w, r, n = json.loads((report / "run.json").read_text())["notebooks"]
    assert r["started"] < w["started"] + w["seconds"] and n["started"] < w["started"] + w["seconds"]  # beside it
    assert r["started"] + r["seconds"] > w["started"] + 2.5  # and waited for the file
    assert n["started"] + n["seconds"] >= w["started"] + w["seconds"] - 0.5  # until the writer ended
    assert not (report / params.RUNNING).exists()  # the marks are not published


def test_a_failure_stops_the_notebook_running_beside_it_and_names_the_failed_one(tiny_sequence, tmp_path):
    tiny_sequence(
        {"00_slow": "import time\ntime.sleep(300)", "01_fails": "raise ValueError('boom')", "02_never": "1"},
        {"00_slow": (), "01_fails": ()},
    )
    t0 = time.perf_counter()
    with pytest.raises(run.ReportError, match=r"01_fails.ipynb failed at cell 0 .*ValueError: boom"):
        run.run_report({"data_dir": str(SAMPLE)}, run_name="r", reports_dir=tmp_path / "reports", quiet=True,
                       html=False, jobs=2)  # fmt: skip
    assert time.perf_counter() - t0 < 120  # the sleeping kernel was killed, not waited for
    failed = next((tmp_path / "reports").glob(".failed-r-*"))
    assert not (failed / "02_never.ipynb").exists()  # nothing starts after a failure
    assert not (tmp_path / "reports" / "r").exists()


def test_jobs_must_be_at_least_one(tmp_path):
    with pytest.raises(run.ParamError, match="jobs = 0"):
        run.run_report({"data_dir": str(SAMPLE)}, run_name="r", reports_dir=tmp_path, quiet=True, jobs=0)


@pytest.mark.skipif(not hasattr(os, "getpriority"), reason="CPU priorities are POSIX")
def test_side_by_side_the_notebooks_off_the_chain_run_at_a_lower_priority(tiny_sequence, tmp_path, monkeypatch):
    """BACKGROUND_NICE: a kernel off the chain is niced (its threads too); the chain's and a lone run's are not."""
    record = (
        "import os, pathlib, threading\n"
        "seen = []\n"
        "t = threading.Thread(target=lambda: seen.append(os.getpriority(os.PRIO_PROCESS, 0)))\n"
        "t.start(); t.join()\n"
        "pathlib.Path(r'{out}', '{me}').write_text(f'{{os.getpriority(os.PRIO_PROCESS, 0)}} {{seen[0]}}')"
    )
    base = os.getpriority(os.PRIO_PROCESS, 0)
    for jobs in (2, 1):
        out = tmp_path / f"jobs{jobs}"
        out.mkdir()
        tiny_sequence({s: record.format(out=out, me=s) for s in ("00_a", "01_b")}, {"00_a": (), "01_b": ()})
        monkeypatch.setattr(run, "CHAIN", ("01_b",))
        run.run_report({"data_dir": str(SAMPLE)}, run_name=f"n{jobs}", reports_dir=tmp_path / "reports", quiet=True,
                       html=False, jobs=jobs)  # fmt: skip
        niced = min(base + run.BACKGROUND_NICE, 19) if jobs > 1 else base
        assert (out / "00_a").read_text() == f"{niced} {niced}"
        assert (out / "01_b").read_text() == f"{base} {base}"


@pytest.mark.skipif(not hasattr(run.signal, "SIGUSR1"), reason="the stack dump uses SIGUSR1 (POSIX)")
def test_a_cell_that_hangs_is_stopped_at_the_timeout_with_its_kernels_stacks(tiny_sequence, tmp_path):
    """A hang like the one seen once at 1 M contacts (the main thread waiting on a thread pool whose worker never
    returns) fails the run at the cell timeout, naming the cell, and keeps every thread's stack of that kernel;
    the notebook that ran beside it in time leaves no stack file."""
    hang = (
        "from concurrent.futures import ThreadPoolExecutor\n"
        "import threading\n"
        "def stuck_worker():\n"
        "    threading.Event().wait()\n"
        "pool = ThreadPoolExecutor(1)\n"
        "pool.submit(stuck_worker).result()"
    )
    tiny_sequence({"00_ok": "x = 1", "01_hangs": hang, "02_beside": "import time\ntime.sleep(1)"},
                  {"00_ok": (), "01_hangs": ("00_ok",), "02_beside": ("00_ok",)})  # fmt: skip
    t0 = time.perf_counter()
    with pytest.raises(run.ReportError, match=r"01_hangs.ipynb stopped at cell 0 .*cell timeout of 5 s") as err:
        run.run_report({"data_dir": str(SAMPLE)}, run_name="r", reports_dir=tmp_path / "reports", quiet=True,
                       html=False, jobs=2, cell_timeout=5)  # fmt: skip
    assert time.perf_counter() - t0 < 90
    failed = next((tmp_path / "reports").glob(".failed-r-*"))
    stacks = failed / run.STACKS / "01_hangs.txt"
    assert str(stacks) in str(err.value)
    text = stacks.read_text()
    assert "stuck_worker" in text and "result" in text  # the worker's stack and the main thread's wait
    assert sorted(p.name for p in (failed / run.STACKS).iterdir()) == ["01_hangs.txt"]


def test_a_run_without_a_timeout_publishes_no_stack_files(tiny_sequence, tmp_path):
    tiny_sequence({"00_a": "x = 1"}, {"00_a": ()})
    report = run.run_report({"data_dir": str(SAMPLE)}, run_name="r", reports_dir=tmp_path / "reports", quiet=True,
                            html=False, jobs=1)  # fmt: skip
    assert not (report / run.STACKS).exists()
