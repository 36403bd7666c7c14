"""The report runner: execute the notebook sequence with papermill and publish it atomically.

Usage (from the repository root)::

    python -m helpers.run                                   # params/default.yaml, the sample data
    python -m helpers.run --params params/my_brand.yaml     # your copy, pointing at your export folder
    python -m helpers.run --only 00_data_prep -p engine=pyspark

The run is built in ``reports/.tmp-<name>-<pid>/`` and renamed to ``reports/<name>/`` only when every
notebook succeeded, so a failed run never damages the last good report; the failed notebooks are kept in
``reports/.failed-<name>/`` for inspection, and the message names the notebook and the cell.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import time
from importlib import metadata
from pathlib import Path

import yaml

__all__ = ["ReportError", "load_params", "run_report", "main"]

REPO_ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = REPO_ROOT / "notebooks"
#: Notebooks whose HTML hides code cells (the one-page summary for growth leads).
HTML_WITHOUT_CODE = {"06_summary"}
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


def load_params(path: str | Path) -> dict:
    """Read a params YAML file: ``run_name``, optional ``notebooks`` list and a ``parameters`` mapping.

    Parameters
    ----------
    path : str or Path
        YAML file (see ``params/default.yaml``).

    Returns
    -------
    dict
        ``{"run_name": str, "notebooks": list or None, "parameters": dict}``.
    """
    raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    params = raw.get("parameters") or {}
    bad = {k: v for k, v in params.items() if not isinstance(v, (str, int, float, bool)) and v is not None}
    if bad:
        raise ValueError(f"{path}: parameters must be scalars (papermill); not: {', '.join(bad)}")
    return {
        "run_name": str(raw.get("run_name") or Path(path).stem),
        "notebooks": raw.get("notebooks"),
        "parameters": params,
    }


def _sequence(only: list[str] | None) -> list[Path]:
    nbs = sorted(p for p in NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))
    if only:
        want = {o.removesuffix(".ipynb") for o in only}
        unknown = want - {p.stem for p in nbs}
        if unknown:
            raise ReportError(
                f"unknown notebook(s): {', '.join(sorted(unknown))}; have {', '.join(p.stem for p in nbs)}"
            )
        nbs = [p for p in nbs if p.stem in want]
    return nbs


def _to_html(nb_path: Path) -> Path:
    from helpers.pages import export_report_page

    return export_report_page(nb_path, hide_code=nb_path.stem in HTML_WITHOUT_CODE)


def _versions() -> dict:
    out = {"python": platform.python_version()}
    for pkg in _VERSIONS:
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    return out


def _resolve(params: dict, base: Path) -> dict:
    out = dict(params)
    for k in ("data_dir",):
        if isinstance(out.get(k), str) and out[k] and not Path(out[k]).is_absolute():
            out[k] = str((base / out[k]).resolve())
    return out


def run_report(
    params: dict,
    *,
    run_name: str,
    reports_dir: str | Path = "reports",
    notebooks: list[str] | None = None,
    html: bool = True,
    quiet: bool = False,
) -> Path:
    """Execute the notebook sequence and publish ``reports_dir/run_name`` atomically.

    Parameters
    ----------
    params : dict
        Scalar parameters shared by the notebooks; each notebook receives those it declares.
    run_name : str
        Folder name of the report.
    reports_dir : str or Path
        Parent folder of reports.
    notebooks : list of str, optional
        Notebook stems to run (default: every ``NN_*.ipynb`` in ``notebooks/``, in order).
    html : bool
        Also export each executed notebook to HTML.
    quiet : bool
        No progress lines.

    Returns
    -------
    Path
        The published report folder.

    Raises
    ------
    ReportError
        A notebook failed; the previous report at ``reports_dir/run_name`` is left untouched.
    """
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    reports = Path(reports_dir).resolve()
    reports.mkdir(parents=True, exist_ok=True)
    final = reports / run_name
    tmp = reports / f".tmp-{run_name}-{os.getpid()}"
    failed = reports / f".failed-{run_name}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    params = {**params, "output_dir": str(tmp)}
    seq = _sequence(notebooks)
    env_path = os.environ.get("PATH", "")
    bindir = str(Path(sys.executable).parent)
    if not env_path.startswith(bindir):
        os.environ["PATH"] = bindir + os.pathsep + env_path  # the kernel is this environment's python
    timings = []
    t_all = time.perf_counter()
    for i, nb in enumerate(seq, 1):
        declared = pm.inspect_notebook(str(nb))
        passed = {k: v for k, v in params.items() if k in declared}
        out_nb = tmp / nb.name
        if not quiet:
            print(f"[{i}/{len(seq)}] {nb.stem}: running …", flush=True, file=sys.stderr)
        t0 = time.perf_counter()
        try:
            pm.execute_notebook(
                str(nb),
                str(out_nb),
                parameters=passed,
                kernel_name="python3",
                progress_bar=False,
                cwd=str(NOTEBOOK_DIR),
            )
        except PapermillExecutionError as err:
            shutil.rmtree(failed, ignore_errors=True)
            tmp.rename(failed)
            if not quiet:
                print(f"[{i}/{len(seq)}] {nb.stem}: failed", file=sys.stderr)
            raise ReportError(
                f"{nb.name} failed at cell {err.cell_index} (execution count {err.exec_count}): "
                f"{err.ename}: {str(err.evalue).splitlines()[0] if err.evalue else ''}\n"
                f"  executed notebook kept at {failed / nb.name}; the last good report {final} is untouched"
            ) from None
        except Exception:
            shutil.rmtree(failed, ignore_errors=True)
            tmp.rename(failed)
            raise
        secs = time.perf_counter() - t0
        if html:
            _to_html(out_nb)
        timings.append({"notebook": nb.stem, "seconds": round(secs, 2)})
        if not quiet:
            print(f"[{i}/{len(seq)}] {nb.stem}: done in {secs:.1f} s", file=sys.stderr)
    manifest_path = tmp / "quality" / "manifest.json"
    fingerprint = json.loads(manifest_path.read_text())["fingerprint"] if manifest_path.exists() else None
    record = {
        "run_name": run_name,
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "seconds": round(time.perf_counter() - t_all, 2),
        "parameters": {k: v for k, v in params.items() if k not in ("output_dir", "pii_salt")},
        "data_fingerprint": fingerprint,
        "notebooks": timings,
        "versions": _versions(),
    }
    (tmp / "run.json").write_text(json.dumps(record, ensure_ascii=False, indent=2), encoding="utf-8")
    if html:
        from helpers.pages import write_report_index

        write_report_index(tmp)
    old = reports / f".old-{run_name}-{os.getpid()}"
    if final.exists():
        final.rename(old)
    tmp.rename(final)
    shutil.rmtree(old, ignore_errors=True)
    shutil.rmtree(failed, ignore_errors=True)
    return final


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point (``python -m helpers.run`` or ``siyu-report``)."""
    ap = argparse.ArgumentParser(prog="python -m helpers.run", description="Run the workbook's notebooks.")
    ap.add_argument("--params", default=str(REPO_ROOT / "params" / "default.yaml"), help="params YAML file")
    ap.add_argument("--name", help="report name (default: run_name from the params file)")
    ap.add_argument("--reports-dir", default=str(REPO_ROOT / "reports"), help="where reports go")
    ap.add_argument("--only", nargs="+", help="run only these notebooks (stems, e.g. 00_data_prep)")
    ap.add_argument(
        "-p", "--set", action="append", default=[], metavar="KEY=VALUE", help="override one parameter (repeatable)"
    )
    ap.add_argument("--no-html", action="store_true", help="skip HTML export")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)
    cfg = load_params(args.params)
    params = _resolve(cfg["parameters"], Path.cwd())
    for kv in args.set:
        k, _, v = kv.partition("=")
        params[k] = yaml.safe_load(v) if v else ""
    try:
        out = run_report(
            params,
            run_name=args.name or cfg["run_name"],
            reports_dir=args.reports_dir,
            notebooks=args.only or cfg["notebooks"],
            html=not args.no_html,
            quiet=args.quiet,
        )
    except ReportError as err:
        print(f"report failed: {err}", file=sys.stderr)
        return 1
    if not args.quiet:
        print(f"report written to {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
