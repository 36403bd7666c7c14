"""The report runner: execute the notebook sequence with papermill and publish it atomically.

Usage (from the repository root)::

    python -m helpers.run                                   # params/default.yaml, the sample data
    python -m helpers.run --params params/my_brand.yaml     # your copy, pointing at your export folder
    python -m helpers.run --only 00_data_prep -p engine=pyspark

Notebooks that do not read each other's outputs run side by side (``--jobs``, default two on a machine with two
or more cores): after 00, 01, 02, 04, 05 and 07 need only the clean tables, 03 waits for 02's tiers, 06 for 02 and
for 03's buyer values (:data:`READS`, :data:`EARLY`), and 08 for everything. The run is built in
``reports/.tmp-<name>-<pid>/`` and renamed to ``reports/<name>/`` only when every notebook succeeded, so a failed
run never damages the last good report; the failed notebooks are kept in ``reports/.failed-<name>/`` for
inspection, and the message names the notebook and the cell.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import difflib
import itertools
import json
import os
import platform
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from importlib import metadata
from pathlib import Path

import yaml

from helpers.params import NOTEBOOKS, RUNNING, SCHEMA, ParamError, check, check_run_name, help_text

__all__ = [
    "CHAIN",
    "EARLY",
    "READS",
    "ParamError",
    "ReportError",
    "default_jobs",
    "load_params",
    "main",
    "parse_overrides",
    "run_report",
]

REPO_ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = REPO_ROOT / "notebooks"
#: The earlier notebooks whose outputs each notebook reads (every one reads 00's clean tables). A notebook starts
#: when these have finished, so the others run beside it; one not listed here (08, or a notebook added later)
#: waits for every notebook before it. tests/test_run.py checks that no notebook names a file another notebook
#: writes without waiting for it.
READS = {
    "01_acquisition": ("00_data_prep",),
    "02_user_tiers": ("00_data_prep",),
    "03_repurchase": ("00_data_prep", "02_user_tiers"),  # exports/tiers.csv: values per tier (read late, see LATE)
    "04_attribution": ("00_data_prep",),
    "05_community": ("00_data_prep",),
    "06_targeting": ("00_data_prep", "02_user_tiers", "03_repurchase"),  # tiers.csv, artifacts/buyer_values.parquet
    "07_staff": ("00_data_prep",),
}
#: A notebook that reads a single file of an earlier one starts as soon as that file exists, before the writer has
#: finished (the writer makes it appear whole). At 1 M contacts 03 writes its buyer values 111 s into its 229 s,
#: so 06 runs beside 03's last sections instead of after them. If the writer ends without the file, the reader
#: starts when it ends, as with :data:`READS`.
EARLY = {"06_targeting": {"03_repurchase": "artifacts/buyer_values.parquet"}}
#: A notebook that reads one file of an earlier notebook late in its own run starts beside that notebook instead of
#: after it, and waits for the file where it reads it (:meth:`helpers.params.NotebookRun.written_by`: until the file
#: is there or its writer has ended). At 1 M contacts 03 reads 02's tiers about 100 s into its run, when 02 (about
#: 60 s) has long finished, so 03 starts right after 00 and the longest chain loses 02's minute.
LATE = {"03_repurchase": {"02_user_tiers": "exports/tiers.csv"}}
#: The notebooks on the report's longest chain (00 → 02 → 03 → 06 → 08 at 1 M contacts: 03 alone is 229 s of 598 s):
#: when several notebooks are ready and a slot is free, these start first.
CHAIN = ("02_user_tiers", "03_repurchase", "06_targeting")
#: Nice value of the other notebooks' kernels while notebooks run side by side: when the chain's threads and another
#: notebook want the same core, the chain gets it (the others take what is left), so the longest chain is not slowed
#: by notebooks that have time to spare. 0 turns this off.
BACKGROUND_NICE = 10
#: Longest a cell may run, in seconds, before the runner stops the notebook (``--cell-timeout``; 0: no limit). The
#: slowest cell at 1 M contacts takes about a minute; a scheduled report whose kernel hangs (seen once: a thread pool
#: waiting on sleeping workers) then fails after two hours with the kernel's stacks, instead of waiting forever.
CELL_TIMEOUT = 7200
#: Folder of the run (beside the notebooks) where a stopped kernel writes every thread's stack (Python's
#: faulthandler, on SIGUSR1 just before the interrupt); kept only in a failed run's folder, and only when written.
STACKS = ".stacks"
#: Notebooks whose HTML hides code cells (the one-page summary for growth leads).
HTML_WITHOUT_CODE = {"08_summary"}
_VERSIONS = (
    "pandas",
    "numpy",
    "ibis-framework",
    "duckdb",
    "scikit-learn",
    "scipy",
    "statsmodels",
    "lifelines",
    "papermill",
    "pyspark",
)


class ReportError(RuntimeError):
    """A notebook of the sequence failed; the message names the notebook and the cell."""


#: Keys of a params file (everything else is a misspelling the runner names).
_TOP_KEYS = ("run_name", "notebooks", "parameters")
#: Parameters of earlier versions, with what replaced them.
RETIRED = {
    "pii_salt": "pii_salt is no longer a parameter: the pseudonymisation key is a secret read from the environment "
    "or a key file, never from a params file (see the README, 'Personal data')",
    "max_recent_touches": "max_recent_touches is no longer a parameter: the contact list moved to 06_targeting, "
    "which leaves out anyone ordered from or messaged within cooldown_days and caps messages with monthly_cap",
}


def _yaml_text(path: Path) -> dict:
    """Read YAML keeping every scalar as written (no 0123 → 83, NO → False, dates → datetime)."""
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.BaseLoader)  # noqa: S506 (BaseLoader is safe)
    except FileNotFoundError:
        raise ParamError(f"{path}: params file not found") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ParamError(f"{path}: not valid YAML{where}: {getattr(err, 'problem', err)}") from None
    if raw in (None, ""):
        return {}
    if not isinstance(raw, dict):
        raise ParamError(f"{path}: a params file is a mapping with run_name, notebooks and parameters")
    return raw


def _check_keys(values: dict, source: str) -> None:
    for name in values:
        if name in RETIRED:
            raise ParamError(f"{source}: {RETIRED[name]}")


def load_params(path: str | Path) -> dict:
    """Read and check a params file: ``run_name``, optional ``notebooks`` list and a ``parameters`` mapping.

    Every scalar is read as the text written and then typed by :data:`helpers.params.SCHEMA`; relative paths are
    resolved from the folder the command runs in (the same rule as ``-p``).

    Parameters
    ----------
    path : str or Path
        YAML file (see ``params/default.yaml``).

    Returns
    -------
    dict
        ``{"run_name": str, "notebooks": list or None, "parameters": dict}`` (parameters typed).

    Raises
    ------
    ParamError
        One line: an unknown key or parameter (with a did-you-mean), a wrong type or value.
    """
    path = Path(path)
    raw = _yaml_text(path)
    for key in raw:
        if key not in _TOP_KEYS:
            hint = ""
            if key in SCHEMA:
                hint = f" ({key} is a parameter: put it under 'parameters:')"
            else:
                near = difflib.get_close_matches(str(key), [*_TOP_KEYS, *SCHEMA], n=1)
                hint = f" (did you mean {near[0]!r}?)" if near else ""
            raise ParamError(f"{path}: unknown key {key!r}{hint}; a params file has {', '.join(_TOP_KEYS)}")
    params = raw.get("parameters") or {}
    if not isinstance(params, dict):
        raise ParamError(f"{path}: 'parameters' must be a mapping of name: value")
    _check_keys(params, str(path))
    notebooks = raw.get("notebooks")
    if notebooks is not None and (not isinstance(notebooks, list) or not all(isinstance(n, str) for n in notebooks)):
        raise ParamError(f"{path}: 'notebooks' must be a list of notebook names, e.g. [00_data_prep, 03_repurchase]")
    name = raw.get("run_name")
    if isinstance(name, (list, dict)):
        raise ParamError(f"{path}: run_name must be one folder name")
    return {
        "run_name": str(name) if name else path.stem,
        "notebooks": notebooks,
        "parameters": check(params, source=str(path), base=Path.cwd()),
    }


def parse_overrides(pairs: list[str]) -> dict:
    """Check ``-p NAME=VALUE`` overrides against the schema (paths resolved like a params file's).

    Examples
    --------
    >>> parse_overrides(["unit=W", "top_n=50"])
    {'unit': 'W', 'top_n': 50}
    >>> parse_overrides(["unti=W"])
    Traceback (most recent call last):
    ...
    helpers.params.ParamError: -p: unknown parameter 'unti' (did you mean 'unit'?)
    """
    values = {}
    for kv in pairs:
        name, sep, value = kv.partition("=")
        if not sep:
            raise ParamError(f"-p {kv!r}: write NAME=VALUE")
        values[name.strip()] = value
    _check_keys(values, "-p")
    return check(values, source="-p", base=Path.cwd())


def _sequence(only: list[str] | None) -> list[Path]:
    nbs = [NOTEBOOK_DIR / f"{n}.ipynb" for n in NOTEBOOKS]
    if only:
        want = {o.removesuffix(".ipynb") for o in only}
        unknown = want - set(NOTEBOOKS)
        if unknown:
            raise ParamError(f"unknown notebook(s): {', '.join(sorted(unknown))}; have {', '.join(NOTEBOOKS)}")
        nbs = [p for p in nbs if p.stem in want]
    return nbs


#: Cells of a lesson that a business report (teaching off) leaves out: not run, not shown.
LESSON_TAGS = ("exercise", "answer")
#: Cells run in every report (the test suite reads them) but shown only in teaching mode.
TEACHING_ONLY_TAGS = ("truth-check",)


def _to_html(nb_path: Path, teaching: bool) -> Path:
    from helpers.pages import export_report_page

    return export_report_page(
        nb_path,
        hide_code=nb_path.stem in HTML_WITHOUT_CODE,
        remove_tags=() if teaching else (*LESSON_TAGS, *TEACHING_ONLY_TAGS),
        strip_test_markers=not teaching,
    )


def _lesson_free(nb_path: Path, scratch: Path) -> Path:
    """Return a copy of a notebook without its exercises and answers (a business report does not run them)."""
    import nbformat

    nb = nbformat.read(nb_path, as_version=4)
    keep = [c for c in nb.cells if not set(c.metadata.get("tags", [])) & set(LESSON_TAGS)]
    if len(keep) == len(nb.cells):
        return nb_path
    nb.cells = keep
    out = scratch / nb_path.name
    nbformat.write(nb, out)
    return out


def _versions() -> dict:
    out = {"python": platform.python_version()}
    for pkg in _VERSIONS:
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    return out


_STALE_FAILED_DAYS = 30
_LONG_NUMBER = re.compile(r"(?<![\w.])\+?\d[\d \-]{6,}\d(?![\w.])|wxid_[A-Za-z0-9_-]+")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _redact(text: str) -> str:
    """Mask what could be a raw cell value in an error text: long digit runs (phone numbers) and WeChat ids.

    Examples
    --------
    >>> _redact("Out of bounds nanosecond timestamp: 13912345678 at row 4; wxid_ab12")
    'Out of bounds nanosecond timestamp: <masked> at row 4; <masked>'
    """

    def mask(m: re.Match) -> str:
        value = m.group(0)
        digits = sum(ch.isdigit() for ch in value)
        return value if _DATE.fullmatch(value) or (digits < 7 and "wxid_" not in value) else "<masked>"

    return _LONG_NUMBER.sub(mask, text)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _is_bundled_sample(data_dir: str) -> bool:
    """Whether ``data_dir`` is the repository's simulated sample: the only data the public demo key may key."""
    return "://" not in data_dir and Path(data_dir).resolve() == (REPO_ROOT / "data" / "sample").resolve()


def _clean_leftovers(reports: Path) -> list[str]:
    """Remove what killed runs left behind: temp folders of dead processes, failed runs older than 30 days."""
    removed = []
    for d in reports.glob(".tmp-*"):
        pid = d.name.rsplit("-", 1)[-1]
        if pid.isdigit() and int(pid) != os.getpid() and not _pid_alive(int(pid)):
            shutil.rmtree(d, ignore_errors=True)
            removed.append(d.name)
    for d in reports.glob(".old-*"):
        pid = d.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not _pid_alive(int(pid)):
            shutil.rmtree(d, ignore_errors=True)
            removed.append(d.name)
    for d in Path(tempfile.gettempdir()).glob("siyu-k*-*"):
        pid = d.name[len("siyu-k") :].split("-", 1)[0]
        if pid.isdigit() and not _pid_alive(int(pid)):
            shutil.rmtree(d, ignore_errors=True)
            removed.append(d.name)
    cutoff = time.time() - _STALE_FAILED_DAYS * 86400
    for d in reports.glob(".failed-*"):
        if d.stat().st_mtime < cutoff:
            shutil.rmtree(d, ignore_errors=True)
            removed.append(d.name)
    return removed


@contextlib.contextmanager
def _kernel_environment(tmp: Path):
    """Set the kernels' environment while the notebooks run, and restore the caller's after.

    Kernels use this environment's python; their temp and runtime files live in the run's temp folder (removed
    with it, and by the next run's clean-up after a kill). Yields the folder for the kernels' local sockets: a short
    path in the system temp folder (a socket path may not exceed about 100 characters), named after this process so
    the next run removes it if this one is killed.
    """
    scratch = tmp / ".scratch"
    scratch.mkdir()
    sockets = Path(tempfile.mkdtemp(prefix=f"siyu-k{os.getpid()}-"))
    saved = {k: os.environ.get(k) for k in ("PATH", "TMPDIR", "JUPYTER_RUNTIME_DIR")}
    os.environ["PATH"] = str(Path(sys.executable).parent) + os.pathsep + (saved["PATH"] or "")
    os.environ["TMPDIR"] = str(scratch)
    os.environ["JUPYTER_RUNTIME_DIR"] = str(scratch)
    saved_tempdir, tempfile.tempdir = tempfile.tempdir, str(scratch)  # kernel connection files are made here
    try:
        yield sockets
    finally:
        tempfile.tempdir = saved_tempdir
        shutil.rmtree(sockets, ignore_errors=True)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        shutil.rmtree(scratch, ignore_errors=True)


#: Socket-file prefixes of kernels: one per kernel, so side-by-side kernels never pick the same files.
_KERNEL_NUMBERS = itertools.count()


def _ipc_kernel_manager(
    sockets: Path, label: str = "", pids: dict | None = None, nice: int = 0, stacks: Path | None = None
) -> type:
    """Return a kernel manager class whose kernels talk over local sockets in ``sockets``.

    No TCP port is opened (so no "running over TCP without encryption" warning per notebook). When ``pids`` is
    given, the kernel's process id is stored there under ``label`` once it is launched (to stop it when a notebook
    beside it fails, and for the benchmark's memory per notebook). A positive ``nice`` lowers the kernel's CPU
    priority as it starts (its threads inherit it), where the system allows. With ``stacks`` (a file path), the
    kernel writes the stack of every one of its threads to that file when it is interrupted while running a cell
    (the runner interrupts a cell that exceeds its timeout), so a hang leaves a trace of where it hung.
    """
    from jupyter_client.manager import AsyncKernelManager
    from traitlets import default

    class LocalSocketKernelManager(AsyncKernelManager):
        async def _async_launch_kernel(self, kernel_cmd: list[str], **kw) -> None:  # the documented override point
            if stacks is not None and hasattr(signal, "SIGUSR1"):
                kernel_cmd = [*kernel_cmd, f"--IPKernelApp.exec_lines={_dump_stacks_on_signal(stacks)}"]
            await super()._async_launch_kernel(kernel_cmd, **kw)
            if pids is not None:
                pids[label] = self.provisioner.pid
            if nice and hasattr(os, "setpriority"):
                with contextlib.suppress(OSError):
                    os.setpriority(os.PRIO_PROCESS, self.provisioner.pid, nice)

        async def _async_interrupt_kernel(self) -> None:
            # shutting down, the kernel is idle (its notebook finished, or failed at a cell): no SIGINT first, which
            # a kernel still tidying up on a busy machine logs as "KeyboardInterrupt caught in kernel" on stderr
            if not self.shutting_down:
                if stacks is not None and hasattr(signal, "SIGUSR1") and self.provisioner.pid:
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.kill(self.provisioner.pid, signal.SIGUSR1)  # every thread's stack, before the interrupt
                        await asyncio.sleep(1.0)  # faulthandler writes from its signal handler: it takes milliseconds
                await super()._async_interrupt_kernel()

        interrupt_kernel = _async_interrupt_kernel  # the public name nbclient calls on a timeout (bound in the base)

        @default("shutdown_wait_time")
        def _shutdown_wait_time(self) -> float:
            return 30.0  # a kernel on a busy machine may take more than the default 5 s to exit

        @default("transport")
        def _transport(self) -> str:
            return "ipc"

        @default("ip")
        def _ip(self) -> str:
            return str(sockets / f"k{next(_KERNEL_NUMBERS)}")

    return LocalSocketKernelManager


def _dump_stacks_on_signal(path: Path) -> str:
    """One line of Python a kernel runs as it starts: on SIGUSR1, write every thread's stack to ``path``.

    It binds no name in the notebook's namespace (faulthandler keeps the open file itself).

    >>> "faulthandler" in _dump_stacks_on_signal(Path("/tmp/x.txt"))
    True
    """
    return (
        f"__import__('faulthandler').register(__import__('signal').SIGUSR1, "
        f"file=open({str(path)!r}, 'w', encoding='utf-8'), all_threads=True)"
    )


def _stop_kernels(pids: dict, running: set[str]) -> None:
    """Kill the kernels of the notebooks in ``running`` (their notebooks then fail as dead kernels)."""
    for label in running:
        if pids.get(label):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pids[label], signal.SIGKILL)


def default_jobs() -> int:
    """Notebooks run side by side by default: two where there are two cores or more, else one.

    Each notebook keeps its numerical thread pools small (:func:`helpers.base.cpu_threads`), so two kernels share
    two cores without oversubscribing them; more than two would add memory (each kernel holds its own tables) for
    little time on this class of machine.
    """
    return 2 if (os.cpu_count() or 1) >= 2 else 1


#: Memory of one notebook's kernel, as a guard: a base plus this many bytes per byte of clean tables. Measured: at
#: 1 M contacts (0.35 GB of clean tables) the largest kernel peaked at 3.5 GiB; at 10 M (5.3 GB) 03's kernel was
#: killed out of memory at 13.1 GiB beside another kernel of 8.7 GiB (and alone at 23.1 GiB: see the README).
KERNEL_BASE_BYTES, KERNEL_BYTES_PER_CLEAN_BYTE = 2 * 2**30, 2.5
#: Share of the machine's memory the kernels running side by side may take between them.
KERNELS_RAM_SHARE = 0.8


def fitting_jobs(jobs: int, clean_bytes: int, ram: int | None = None) -> int:
    """Return how many notebooks may run side by side on tables of ``clean_bytes``.

    ``jobs``, or fewer when their kernels would need more than :data:`KERNELS_RAM_SHARE` of the machine's memory
    (each kernel holds its own tables); never fewer than one.

    >>> GiB = 2**30
    >>> fitting_jobs(2, 350 * 10**6, ram=24 * GiB), fitting_jobs(2, 5 * 10**9, ram=24 * GiB)  # 1 M and 10 M contacts
    (2, 1)
    >>> fitting_jobs(2, 5 * 10**9, ram=64 * GiB)
    2
    """
    if jobs <= 1:
        return max(1, jobs)
    if ram is None:
        from helpers.base import total_ram

        try:
            ram = total_ram()
        except (AttributeError, ValueError, OSError):  # no sysconf (Windows): no guard
            return jobs
    per_kernel = KERNEL_BASE_BYTES + KERNEL_BYTES_PER_CLEAN_BYTE * clean_bytes
    return int(max(1, min(jobs, KERNELS_RAM_SHARE * ram // per_kernel)))


def _clean_bytes(clean: Path) -> int:
    """Bytes of a run's clean tables (``output_dir/clean``), 0 before 00 has written them."""
    return sum(f.stat().st_size for f in clean.rglob("*") if f.is_file()) if clean.is_dir() else 0


def _waits_for(seq: list[Path]) -> dict[str, set[str]]:
    """For each notebook of ``seq``: the notebooks of the run it must wait for (:data:`READS`, else all before it).

    >>> from pathlib import Path
    >>> w = _waits_for([Path(f"{n}.ipynb") for n in ("00_data_prep", "02_user_tiers", "03_repurchase", "08_summary")])
    >>> sorted(w["03_repurchase"]), sorted(w["08_summary"])  # 03 reads 02's tiers late (LATE)
    (['00_data_prep'], ['00_data_prep', '02_user_tiers', '03_repurchase'])
    """
    stems = [nb.stem for nb in seq]
    out = {}
    for i, stem in enumerate(stems):
        before = set(stems[:i])
        out[stem] = before & (set(READS[stem]) - set(LATE.get(stem, ()))) if stem in READS else before
    return out


def _redact_notebook(path: Path) -> None:
    """Mask raw values in the error outputs of a failed notebook before it is kept."""
    import nbformat

    if not path.exists():
        return
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                out["evalue"] = _redact(out.get("evalue", ""))
                out["traceback"] = [_redact(line) for line in out.get("traceback", [])]
            elif "text" in out:
                out["text"] = _redact(out["text"])
    nbformat.write(nb, path)


def run_report(
    params: dict,
    *,
    run_name: str,
    reports_dir: str | Path = "reports",
    notebooks: list[str] | None = None,
    html: bool = True,
    quiet: bool = False,
    jobs: int | None = None,
    cell_timeout: float | None = CELL_TIMEOUT,
) -> Path:
    """Execute the notebook sequence and publish ``reports_dir/run_name`` atomically.

    Parameters
    ----------
    params : dict
        Report parameters (checked against :data:`helpers.params.SCHEMA` here, before anything runs); each
        notebook receives those it declares. ``data_dir`` is required.
    run_name : str
        Folder name of the report: one safe name inside ``reports_dir``.
    reports_dir : str or Path
        Parent folder of reports.
    notebooks : list of str, optional
        Notebook stems to run (default: every ``NN_*.ipynb`` in ``notebooks/``, in order).
    html : bool
        Also export each executed notebook to HTML.
    quiet : bool
        No progress lines.
    jobs : int, optional
        Notebooks run side by side, each as soon as the notebooks it reads have finished (:data:`READS`);
        default :func:`default_jobs`. ``1`` runs them one after the other. Every notebook's results are the same
        either way: each runs in its own kernel and reads only finished outputs.
    cell_timeout : float, optional
        Seconds a cell may run (default :data:`CELL_TIMEOUT`; ``None`` or 0: no limit). A cell that runs longer is
        interrupted after its kernel has written every thread's stack to ``.stacks/<notebook>.txt`` in the failed
        run's folder, and the run fails with a :class:`ReportError` naming the cell and that file.

    Returns
    -------
    Path
        The published report folder.

    Raises
    ------
    ParamError
        A parameter, the run name or the notebook list is wrong (nothing has run).
    ReportError
        A notebook failed; the previous report at ``reports_dir/run_name`` is left untouched and the failed
        notebooks are kept in their own ``.failed-<name>-<time>-<pid>`` folder, which no other run deletes.
    """
    params = _checked_params(params)
    seq = _sequence(notebooks)
    if jobs is not None and jobs < 1:
        raise ParamError(f"jobs = {jobs}: at least one notebook runs at a time")
    reports = Path(reports_dir).resolve()
    final = check_run_name(run_name, reports)
    reports.mkdir(parents=True, exist_ok=True)
    _clean_leftovers(reports)
    tmp = reports / f".tmp-{run_name}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    params = {**params, "output_dir": str(tmp)}
    t_all = time.perf_counter()
    with _kernel_environment(tmp) as sockets:
        done, failure = _run_sequence(seq, tmp, params, sockets, html, quiet, jobs or default_jobs(), cell_timeout)
    if failure is not None:
        err, nb = failure
        _raise_report_error(err, nb, _keep_failed(tmp, reports, run_name), final, cell_timeout)
    shutil.rmtree(tmp / STACKS, ignore_errors=True)  # nothing was stopped: the stack files are empty
    timings = [{"notebook": nb.stem, **done[nb.stem]} for nb in seq]
    from helpers.exports import write_report_workbook

    write_report_workbook(tmp, lang=params.get("lang", "zh"))  # the exports for staff: one sheet each, headers in words
    _write_record(tmp, run_name, params, timings, time.perf_counter() - t_all)  # its seconds include the workbook
    if html:
        from helpers.pages import write_report_index

        write_report_index(tmp)
    _publish(tmp, final, reports, run_name)
    return final


def _checked_params(params: dict) -> dict:
    """Check the report's parameters before anything runs; set ``demo``; require a key for real data."""
    given = {k: v for k, v in params.items() if k not in ("output_dir", "demo")}  # both are the runner's to set
    params = check(given, source="parameters", base=Path.cwd())
    if not params.get("data_dir"):
        raise ParamError(
            "parameters: data_dir is required: the folder of your exported tables (the bundled sample is "
            "data/sample; a run never falls back to it)"
        )
    if "://" not in params["data_dir"] and not Path(params["data_dir"]).is_dir():
        raise ParamError(f"parameters: data_dir = {params['data_dir']!r} is not a folder")
    params["demo"] = _is_bundled_sample(params["data_dir"])
    if not params["demo"]:
        from helpers.privacy import PiiKeyError, pii_key

        try:
            pii_key(create=False)  # checked, never passed on: kernels read it from the environment or the key file
        except PiiKeyError as err:
            raise ParamError(f"parameters: {err}") from None
    return params


def _run_sequence(
    seq: list[Path],
    tmp: Path,
    params: dict,
    sockets: Path,
    html: bool,
    quiet: bool,
    jobs: int,
    cell_timeout: float | None = None,
) -> tuple[dict[str, dict], tuple[BaseException, Path] | None]:
    """Run the notebooks, up to ``jobs`` at once in dependency order; the first failure, if any.

    Returns, per finished notebook, its ``seconds``, when it ``started`` (seconds after the first) and its
    ``kernel_pid``.

    Once 00 has written the clean tables, fewer than ``jobs`` notebooks run at once when their memory would not fit
    (:func:`fitting_jobs`; at 10 M contacts a kernel was killed out of memory beside another). A notebook starts
    when every notebook it waits for (:func:`_waits_for`) has finished, or has written the one file the notebook
    reads from it (:data:`EARLY`); among ready notebooks those of :data:`CHAIN` first (when more than one runs at a
    time), then the earliest in the sequence; the others' kernels run at a lower CPU priority
    (:data:`BACKGROUND_NICE`). After a failure nothing new starts and the kernels still running are killed (their
    own errors are then consequences, not reported).
    """
    waits, position = _waits_for(seq), {nb.stem: i for i, nb in enumerate(seq, 1)}
    order = sorted(seq, key=lambda nb: (jobs > 1 and nb.stem not in CHAIN, position[nb.stem]))  # one: in order
    pids: dict[str, int] = {}
    lock, t0 = threading.Lock(), time.perf_counter()

    def say(nb: Path, what: str) -> None:
        if not quiet:
            with lock:
                print(f"[{position[nb.stem]}/{len(seq)}] {nb.stem}: {what}", flush=True, file=sys.stderr)

    unfinished = tmp / RUNNING  # one empty file per notebook that has not ended: what written_by waits on
    unfinished.mkdir(exist_ok=True)
    for nb in seq:
        (unfinished / nb.stem).touch()

    def ended(nb: Path) -> None:
        (unfinished / nb.stem).unlink(missing_ok=True)

    def task(nb: Path) -> dict:
        say(nb, "running …")
        started = time.perf_counter() - t0
        nice = BACKGROUND_NICE if jobs > 1 and nb.stem not in CHAIN else 0
        try:
            stacks = tmp / STACKS / f"{nb.stem}.txt"
            manager = _ipc_kernel_manager(sockets, nb.stem, pids, nice, stacks)
            secs = _execute(nb, tmp, params, manager, cell_timeout)
        finally:
            ended(nb)
        if html:
            _to_html(tmp / nb.name, bool(params.get("teaching")))
        say(nb, f"done in {secs:.1f} s")
        return {"seconds": round(secs, 2), "started": round(started, 2), "kernel_pid": pids.get(nb.stem)}

    def ready(nb: Path) -> bool:
        early = EARLY.get(nb.stem, {})
        return all(w in done or (w in early and (tmp / early[w]).exists()) for w in waits[nb.stem])

    pending, running, done = order, {}, {}
    failure: tuple[BaseException, Path] | None = None
    limit = jobs  # after 00 has written the clean tables: as many side by side as their memory allows
    with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="notebook") as pool:
        try:
            while pending or running:
                if limit == jobs and "00_data_prep" in done and jobs > 1:
                    size = _clean_bytes(tmp / "clean")
                    limit = fitting_jobs(jobs, size)
                    if limit < jobs and not quiet:
                        print(
                            f"clean tables {size / 1e9:.1f} GB: {limit} notebook(s) at a time, not {jobs} (each kernel "
                            "holds its own tables; see helpers.run.fitting_jobs)",
                            flush=True,
                            file=sys.stderr,
                        )
                for nb in [nb for nb in pending if ready(nb)][: max(0, limit - len(running))]:
                    pending.remove(nb)
                    running[pool.submit(task, nb)] = nb
                if not running:
                    break
                watch = len(running) < jobs and any(EARLY.get(nb.stem) for nb in pending)  # a file may appear
                finished: set[Future] = wait(running, timeout=0.5 if watch else None, return_when=FIRST_COMPLETED)[0]
                for future in finished:
                    nb = running.pop(future)
                    try:
                        done[nb.stem] = future.result()
                    except BaseException as err:  # noqa: BLE001 - reported by the caller
                        if failure is None:
                            failure = (err, nb)
                            say(nb, "failed")
                            pending.clear()
                            _stop_kernels(pids, {n.stem for n in running.values()})
        except BaseException:  # Ctrl-C while waiting: stop the kernels, let their threads end
            _stop_kernels(pids, {n.stem for n in running.values()})
            raise
        finally:
            shutil.rmtree(unfinished, ignore_errors=True)
    return done, failure


def _execute(nb: Path, tmp: Path, params: dict, manager: type, cell_timeout: float | None = None) -> float:
    """Run one notebook into ``tmp`` with the parameters it declares (lessons left out unless teaching); seconds.

    A cell running longer than ``cell_timeout`` seconds is interrupted (its kernel manager first has the kernel write
    its stacks, the only time the stack file is written) and the notebook fails at that cell.
    """
    import papermill as pm

    (tmp / STACKS).mkdir(exist_ok=True)
    limit = {}
    if cell_timeout:
        limit = {
            "execution_timeout": cell_timeout,
            "interrupt_on_timeout": True,  # the kernel manager dumps the kernel's stacks first
            # fail the cell at once, even when the kernel cannot answer the interrupt (stuck outside Python)
            "error_on_timeout": {"ename": "CellTimeout", "evalue": f"{cell_timeout:g} s", "traceback": []},
        }

    passed = {k: v for k, v in params.items() if nb.stem in SCHEMA[k].notebooks}
    t0 = time.perf_counter()
    source = nb if params.get("teaching") else _lesson_free(nb, tmp / ".scratch")
    pm.execute_notebook(
        str(source),
        str(tmp / nb.name),
        parameters=passed,
        kernel_name="python3",
        progress_bar=False,
        # the kernel starts in notebooks/ (nbclient passes this path to the kernel's process); papermill's own cwd=
        # would chdir the whole runner, and two notebooks side by side then leave it in notebooks/ when they end
        resources={"metadata": {"path": str(NOTEBOOK_DIR)}},
        kernel_manager_class=manager,
        **limit,
    )
    return time.perf_counter() - t0


def _raise_report_error(
    err: BaseException, nb: Path, failed: Path, final: Path, cell_timeout: float | None = None
) -> None:
    """Re-raise a notebook's failure: a cell's error as a one-line :class:`ReportError`, anything else as is."""
    from papermill.exceptions import PapermillExecutionError

    if not isinstance(err, PapermillExecutionError):
        raise err
    stacks = failed / STACKS / f"{nb.stem}.txt"  # written only when a cell outlived the timeout (see _execute)
    if stacks.exists():
        raise ReportError(
            f"{nb.name} stopped at cell {err.cell_index} (execution count {err.exec_count}): it ran longer than "
            f"the cell timeout of {cell_timeout:g} s (--cell-timeout); its kernel's threads at that moment: "
            f"{stacks}\n  executed notebook kept at {failed / nb.name}; the last good report {final} is untouched"
        ) from None
    first = _redact(str(err.evalue).splitlines()[0]) if err.evalue else ""
    raise ReportError(
        f"{nb.name} failed at cell {err.cell_index} (execution count {err.exec_count}): "
        f"{err.ename}: {first}\n"
        f"  executed notebook kept at {failed / nb.name}; the last good report {final} is untouched"
    ) from None


def _publish(tmp: Path, final: Path, reports: Path, run_name: str) -> None:
    """Replace the previous report by the finished one (rename, so a reader never sees half a report)."""
    old = reports / f".old-{run_name}-{os.getpid()}"
    if final.exists():
        final.rename(old)
    tmp.rename(final)
    shutil.rmtree(old, ignore_errors=True)


def _keep_failed(tmp: Path, reports: Path, run_name: str) -> Path:
    failed = reports / f".failed-{run_name}-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}"
    for nb in tmp.glob("*.ipynb"):
        _redact_notebook(nb)
    for stacks in (tmp / STACKS).glob("*.txt"):
        if not stacks.stat().st_size:
            stacks.unlink()  # that kernel was not stopped by a timeout
    with contextlib.suppress(OSError):
        (tmp / STACKS).rmdir()  # only if empty
    tmp.rename(failed)
    return failed


def _write_record(tmp: Path, run_name: str, params: dict, timings: list, seconds: float) -> None:
    manifest_path = tmp / "quality" / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8")) if manifest_path.exists() else {}
    dates_path = tmp / "quality" / "dates.json"
    record = {
        "run_name": run_name,
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "seconds": round(seconds, 2),
        "parameters": {k: v for k, v in params.items() if k != "output_dir"},
        "dates": json.loads(dates_path.read_text(encoding="utf-8")) if dates_path.exists() else None,
        "data_fingerprint": manifest.get("fingerprint"),
        "pseudonym_key_id": manifest.get("pseudonym_key_id"),
        "notebooks": timings,
        "versions": _versions(),
    }
    (tmp / "run.json").write_text(json.dumps(record, ensure_ascii=False, indent=2), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point (``python -m helpers.run`` or ``siyu-report``)."""
    ap = argparse.ArgumentParser(
        prog="python -m helpers.run",
        description="Run the workbook's notebooks. Every parameter is checked before the first notebook starts.",
        epilog=help_text(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--params", default=str(REPO_ROOT / "params" / "default.yaml"), help="params YAML file")
    ap.add_argument("--name", help="report name (default: run_name from the params file)")
    ap.add_argument("--reports-dir", default=str(REPO_ROOT / "reports"), help="where reports go")
    ap.add_argument("--only", nargs="+", help="run only these notebooks (stems, e.g. 00_data_prep)")
    ap.add_argument(
        "-p", "--set", action="append", default=[], metavar="NAME=VALUE", help="override one parameter (repeatable)"
    )
    ap.add_argument("--no-html", action="store_true", help="skip HTML export")
    ap.add_argument(
        "--jobs", type=int, default=None, help=f"notebooks run side by side (default {default_jobs()}; 1: in sequence)"
    )
    ap.add_argument(
        "--cell-timeout",
        type=float,
        default=CELL_TIMEOUT,
        metavar="SECONDS",
        help=f"stop the run when one cell runs longer (default {CELL_TIMEOUT}; 0: no limit); the kernel's stacks are "
        "kept with the failed notebooks",
    )
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)
    try:
        cfg = load_params(args.params)
        params = {**cfg["parameters"], **parse_overrides(args.set)}
        out = run_report(
            params,
            run_name=args.name or cfg["run_name"],
            reports_dir=args.reports_dir,
            notebooks=args.only or cfg["notebooks"],
            html=not args.no_html,
            quiet=args.quiet,
            jobs=args.jobs,
            cell_timeout=args.cell_timeout or None,
        )
    except ParamError as err:
        print(f"report not started: {err}", file=sys.stderr)
        return 2
    except ReportError as err:
        print(f"report failed: {err}", file=sys.stderr)
        return 1
    if not args.quiet:
        print(f"report written to {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
