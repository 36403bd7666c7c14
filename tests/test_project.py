"""Project wiring: environment.yml agrees with pyproject, the README shows the two commands, CI calls one of them,
and the contract page is the generated one."""

from __future__ import annotations

import re
import tomllib

import yaml

from helpers.contract import TABLES, contract_markdown

from .conftest import REPO


def _norm(req: str) -> str:
    return re.sub(r"\s+", "", req).lower()


def test_environment_yml_installs_exactly_the_pyproject_dependencies():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    wanted = {_norm(r) for r in project["dependencies"]}
    for extra in ("spark", "test", "bench"):
        wanted |= {_norm(r) for r in project["optional-dependencies"][extra]}
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    got = {_norm(r) for r in pip if not r.startswith("-e")}
    assert got == wanted, {"missing from environment.yml": wanted - got, "extra in environment.yml": got - wanted}
    assert "-e ." in pip


def test_package_is_named_and_listed_explicitly():
    cfg = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert cfg["project"]["name"] != "helpers"
    assert cfg["tool"]["setuptools"]["packages"]["find"]["include"] == ["helpers", "helpers.*"]


def test_readme_gives_the_two_commands_and_ci_runs_the_test_one():
    readme = (REPO / "README.md").read_text()
    assert "make report" in readme and "make test" in readme
    assert "docs/data_contract.md" in readme
    assert re.search(r"^make test$", (REPO / ".ci" / "run").read_text(), re.M)
    makefile = (REPO / "Makefile").read_text()
    assert re.search(r"^report:", makefile, re.M) and re.search(r"^test:", makefile, re.M)


def test_contract_page_is_generated_from_the_code():
    page = (REPO / "docs" / "data_contract.md").read_text()
    marker = "<!-- generated from helpers/contract.py: do not edit below by hand -->\n"
    assert page.split(marker, 1)[1] == contract_markdown()
    for t in TABLES.values():
        assert f"### `{t.name}`" in page
        for c in t.columns:
            assert f"| `{c.name}` |" in page
    assert "`state`" in page and "`add_way`" in page  # the WeCom mapping is named


def test_every_notebook_is_a_lesson_with_checked_answers_and_a_glossary_link():
    """Issue 20: 2+ exercises per notebook in both languages, every worked answer checked by nbval, glossary linked."""
    import nbformat

    for path in sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        cells = nbformat.read(path, as_version=4).cells
        tagged = {tag: [c for c in cells if tag in c.metadata.get("tags", [])] for tag in ("exercise", "answer")}
        prompts = "\n".join(c.source for c in tagged["exercise"])
        assert re.search(r"练习 2", prompts) and re.search(r"Exercise 2", prompts), path.name
        assert len(tagged["answer"]) >= 2, path.name
        unchecked = [c.source.splitlines()[0] for c in tagged["answer"] if "# NBVAL_CHECK_OUTPUT" not in c.source]
        assert not unchecked, (path.name, unchecked)  # an answer whose output is not compared can go stale
        assert all(c.outputs for c in tagged["answer"]), path.name  # committed with the output nbval compares
        intro = "".join(c.source for c in cells[:3] if c.cell_type == "markdown")
        assert intro.count("(../docs/glossary.md)") == 2, path.name  # zh and en intros link the glossary


def test_section_numbers_run_without_a_gap_on_every_page():
    """A business report leaves out the cells tagged for teaching (the planted-truth sections): its numbered sections
    must still run 1, 2, 3 … in each language, so such a section may only come after every numbered one (03's
    truth section sat between 6 and 8, and a team's page jumped from 6 to 8)."""
    import nbformat

    from helpers.run import TEACHING_ONLY_TAGS

    for path in sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        cells = [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "markdown"]
        for lang in ("lang-zh", "lang-en"):
            numbers = {True: [], False: []}  # teaching-only or not: section numbers in page order
            for c in cells:
                if lang in c.metadata.get("tags", []):
                    teaching = bool(set(c.metadata.get("tags", [])) & set(TEACHING_ONLY_TAGS))
                    numbers[teaching] += [int(n) for n in re.findall(r"^##+ (\d+) ·", c.source, flags=re.M)]
            shown = numbers[False]
            assert shown == list(range(shown[0], shown[0] + len(shown))) if shown else True, (path.name, lang, shown)
            assert all(n > max(shown, default=-1) for n in numbers[True]), (path.name, lang, numbers)


def test_every_table_a_notebook_builds_for_the_page_is_displayed():
    """A bare ``L.show(...)`` renders only as a cell's last top-level statement: inside an ``if`` or mid-cell, Jupyter
    drops its value and the table never reaches the page (07's reply-rate and monthly net tables, 06's list
    comparison did not). Such a call must be wrapped in ``display``."""
    import ast

    import nbformat

    hidden = []
    for path in sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        for i, cell in enumerate(nbformat.read(path, as_version=4).cells):
            if cell.cell_type != "code":
                continue
            body = ast.parse(cell.source).body
            for node in ast.walk(ast.Module(body=body, type_ignores=[])):
                call = node.value if isinstance(node, ast.Expr) else None
                shown = isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and call.func.attr == "show"
                if shown and node is not body[-1]:
                    hidden.append(f"{path.name} cell {i}: {ast.get_source_segment(cell.source, node)[:60]}")
    assert not hidden, hidden


def test_seed_study_scripts_parse_their_arguments_as_documented(monkeypatch):
    """bench/ is not collected for doctests (its benchmarks import optional packages); the seed parser's are run,
    and the topic study parses seeds with it."""
    import doctest
    import importlib
    import sys

    monkeypatch.syspath_prepend(str(REPO / "bench"))  # as when run as python bench/<script>.py
    names = ("truth_seeds", "topic_k_seeds")
    try:
        truth_seeds, topic_k_seeds = (importlib.import_module(n) for n in names)
        result = doctest.testmod(truth_seeds)
        assert result.attempted > 0 and result.failed == 0, result
        assert topic_k_seeds.seeds is truth_seeds.seeds and topic_k_seeds.seeds("0-2") == [0, 1, 2]
    finally:  # the scripts are not left importable by name for other tests
        for n in names:
            sys.modules.pop(n, None)
