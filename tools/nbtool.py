"""Maintain the committed notebooks: parameters cells from the schema, checked outputs from a fresh run.

    python tools/nbtool.py params      # rewrite every notebook's parameters cell from helpers/params.py
    python tools/nbtool.py refresh     # run the notebooks on the sample (in order) and keep only checked outputs
    python tools/nbtool.py readme      # regenerate the README's parameter table from the schema

The committed notebooks carry only the outputs nbval compares (cells marked ``# NBVAL_CHECK_OUTPUT``);
everything else is cleared so diffs stay small. ``make notebooks`` runs both.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parent.parent
NB_DIR = REPO / "notebooks"
sys.path.insert(0, str(REPO))

from helpers.params import NOTEBOOKS, markdown_table, parameters_cell  # noqa: E402
from helpers.run import _ipc_kernel_manager  # noqa: E402

README_START = "<!-- parameters: generated from helpers/params.py -->\n"
README_END = "<!-- /parameters -->"


def sync_readme() -> None:
    """Rewrite the README's parameter table from the schema."""
    path = REPO / "README.md"
    text = path.read_text(encoding="utf-8")
    head, rest = text.split(README_START, 1)
    _, tail = rest.split(README_END, 1)
    path.write_text(head + README_START + markdown_table() + README_END + tail, encoding="utf-8")


def _parameters_cell(nb: nbformat.NotebookNode):
    cells = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    if len(cells) != 1:
        raise SystemExit(f"expected one parameters cell, found {len(cells)}")
    return cells[0]


def sync_params() -> None:
    """Rewrite every notebook's parameters cell from the schema."""
    for name in NOTEBOOKS:
        path = NB_DIR / f"{name}.ipynb"
        nb = nbformat.read(path, as_version=4)
        cell = _parameters_cell(nb)
        want = parameters_cell(name)
        if cell.source != want:
            cell.source = want
            nbformat.write(nb, path)
            print(f"{name}: parameters cell rewritten")


def _strip(nb: nbformat.NotebookNode) -> None:
    for c in nb.cells:
        if c.cell_type == "code":
            c.outputs = []
            c.execution_count = None
            c.metadata.pop("execution", None)
            c.metadata.pop("papermill", None)
        c.metadata.pop("papermill", None)
    nb.metadata.pop("papermill", None)


def refresh(only: list[str] | None = None) -> None:
    """Run the notebooks on the sample, in order, and keep only the outputs nbval checks."""
    import papermill as pm

    for name in NOTEBOOKS:
        if only and name not in only:
            continue
        path = NB_DIR / f"{name}.ipynb"
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / path.name
            print(f"{name}: running …", flush=True)
            with tempfile.TemporaryDirectory(prefix="nbk-") as sockets:  # local sockets, as the runner uses
                pm.execute_notebook(
                    str(path),
                    str(out),
                    kernel_name="python3",
                    progress_bar=False,
                    cwd=str(NB_DIR),
                    kernel_manager_class=_ipc_kernel_manager(Path(sockets)),
                )
            ran = nbformat.read(out, as_version=4)
        nb = nbformat.read(path, as_version=4)
        _strip(nb)
        code = [c for c in nb.cells if c.cell_type == "code"]
        ran_code = [
            c for c in ran.cells if c.cell_type == "code" and "injected-parameters" not in c.metadata.get("tags", [])
        ]
        assert len(code) == len(ran_code), name
        for c, r in zip(code, ran_code, strict=True):
            if "NBVAL_CHECK_OUTPUT" in c.source:
                c.outputs = [o for o in r.outputs if o.get("output_type") != "display_data"]
                c.execution_count = r.execution_count
        nbformat.write(nb, path)


if __name__ == "__main__":
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "params":
        sync_params()
    elif cmd == "readme":
        sync_readme()
    elif cmd == "refresh":
        refresh(sys.argv[2:] or None)
    else:
        raise SystemExit(__doc__)
