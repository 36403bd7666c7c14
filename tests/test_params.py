"""The parameter contract: one schema, checked before any notebook runs; dates derived from the data."""

from __future__ import annotations

import json
import re

import nbformat
import pandas as pd
import papermill as pm
import pytest

from helpers import params
from helpers.params import SCHEMA, ParamError, check, derive_dates
from helpers.run import NOTEBOOK_DIR, load_params, main, parse_overrides, run_report

from .conftest import REPO


# ----------------------------------------------------------------------------------------- schema ↔ notebooks
@pytest.mark.parametrize("name", params.NOTEBOOKS)
def test_each_parameters_cell_is_the_one_generated_from_the_schema(name):
    nb = nbformat.read(NOTEBOOK_DIR / f"{name}.ipynb", as_version=4)
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1
    assert tagged[0].source == params.parameters_cell(name), "run: python tools/nbtool.py params"
    declared = pm.inspect_notebook(str(NOTEBOOK_DIR / f"{name}.ipynb"))
    assert set(declared) == {n for n, p in SCHEMA.items() if name in p.notebooks}
    for p in declared.values():
        assert p["inferred_type_name"] in ("str", "int", "float", "bool") and p["help"], p
    # the defaults written in the notebook are valid values of the schema
    check({n: SCHEMA[n].cell_default for n in declared}, notebook=name)


def test_every_parameter_is_used_by_a_notebook_that_declares_it():
    for name, p in SCHEMA.items():
        assert p.notebooks, name
        for nb in p.notebooks:
            code = "\n".join(
                c.source
                for c in nbformat.read(NOTEBOOK_DIR / f"{nb}.ipynb", as_version=4).cells
                if c.cell_type == "code" and "parameters" not in c.metadata.get("tags", [])
            )
            # output_dir, engine and the dates are consumed by start_notebook (paths, engine, derive_dates)
            consumed = ("output_dir", "engine", "lang", "teaching", *params._DATE_PARAMS)  # start_notebook, runner
            by_start = name in consumed and "start_notebook" in code
            by_labels = name == "currency" and "run.labels" in code  # Labels formats money with it
            by_load = name in ("tables", "ingest") and "**run.sources" in code  # data.load's sources
            assert by_start or by_labels or by_load or re.search(rf"\b{name}\b", code), f"{nb} never uses {name}"


def test_no_notebook_carries_a_sample_calendar_date():
    for nb in NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"):
        assert not re.search(r'\\"20\d\d-\d\d-\d\d\\"', nb.read_text(encoding="utf-8")), nb.name


def test_readme_parameter_table_is_generated_from_the_schema():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    start = "<!-- parameters: generated from helpers/params.py -->\n"
    end = "<!-- /parameters -->"
    assert start in readme and end in readme
    assert readme.split(start, 1)[1].split(end, 1)[0] == params.markdown_table()


def test_help_lists_every_parameter(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for name in SCHEMA:
        assert name in out


# ------------------------------------------------------------------------------------------------- checking
def test_values_are_typed_by_the_schema_not_by_yaml(tmp_path):
    f = tmp_path / "p.yaml"
    f.write_text(
        "run_name: my_brand\nparameters:\n  data_dir: data/sample\n  control_variant: 0123\n"
        "  as_of: 2026-01-01\n  top_n: 50\n  unit: W\n  currency: NO\n",
        encoding="utf-8",
    )
    cfg = load_params(f)
    p = cfg["parameters"]
    assert p["control_variant"] == "0123" and p["currency"] == "NO"  # not 83, not False
    assert p["as_of"] == "2026-01-01" and p["top_n"] == 50 and p["unit"] == "W"
    assert p["data_dir"] == str((REPO / "data" / "sample").resolve()) or p["data_dir"].endswith("data/sample")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("parameters:\n  datadir: x\n", "unknown parameter 'datadir' (did you mean 'data_dir'?)"),
        ("data_dir: x\n", "data_dir is a parameter: put it under 'parameters:'"),
        ("paramters:\n  data_dir: x\n", "unknown key 'paramters' (did you mean 'parameters'?)"),
        ("parameters:\n  unit: M\n", "parameter unit = 'M': allowed values are D, W"),
        ("parameters:\n  top_n: ten\n", "parameter top_n = 'ten': expected an integer"),
        ("parameters:\n  top_n: 2.5\n", "expected an integer"),
        ("parameters:\n  alpha: 2\n", "parameter alpha = '2': must be between 0.001 and 0.5"),
        ("parameters:\n  as_of: yesterday\n", 'expected a date YYYY-MM-DD or "auto"'),
        ("parameters:\n  as_of: 2026-02-30\n", "not a calendar date"),
        ("parameters:\n  timezone: Asia/Shanghia\n", "not an IANA time zone"),
        ("parameters:\n  engine: duckbd\n", "did you mean 'duckdb'?"),
        ("parameters:\n  unit: [D, W]\n", "must be a single value"),
        ("parameters:\n  pii_salt: x\n", "pii_salt is no longer a parameter"),
        ("parameters: [a, b]\n", "'parameters' must be a mapping"),
        ("parameters:\n  k_min: 6\n  k_max: 4\n", "k_min = 6 is above k_max = 4"),
        ("parameters:\n  unit: W\n   bad: indent\n", "not valid YAML"),
        ("parameters:\n  tables: {orders: 'table:dw.orders'}\n", "catalog tables are read by engine pyspark"),
        ("parameters:\n  engine: pyspark\n  tables: {order: 'table:dw.orders'}\n", "did you mean 'orders'?"),
        ("parameters:\n  engine: pyspark\n  tables: 'orders: dw.orders'\n", "expected table:<database>.<name>"),
        ("parameters:\n  engine: pyspark\n  tables: orders\n", "pairs separated by commas"),
    ],
)
def test_a_wrong_params_file_stops_with_one_line_naming_the_parameter(tmp_path, text, message):
    f = tmp_path / "p.yaml"
    f.write_text(text, encoding="utf-8")
    with pytest.raises(ParamError) as err:
        load_params(f)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_overrides_are_checked_and_resolved_like_the_params_file(monkeypatch, tmp_path):
    monkeypatch.chdir(REPO)
    assert parse_overrides(["unit=W", "data_dir=data/sample"]) == {
        "unit": "W",
        "data_dir": str((REPO / "data" / "sample").resolve()),
    }
    for bad, msg in [
        ("unti=W", "did you mean 'unit'"),
        ("unit", "write NAME=VALUE"),
        ("conversion=every", "allowed values are first, all"),
    ]:
        with pytest.raises(ParamError, match=re.escape(msg)):
            parse_overrides([bad])


@pytest.mark.parametrize("name", ["..", "../x", "/tmp/abs", "a/b", ".hidden", "-rf", "x" * 65, "", "a b"])
def test_run_name_is_one_safe_folder_inside_reports(tmp_path, name):
    with pytest.raises(ParamError, match="run_name"):
        params.check_run_name(name, tmp_path)


def test_runner_stops_before_any_notebook_on_a_bad_parameter(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    good = tmp_path / "good.yaml"
    good.write_text("run_name: mine\nparameters:\n  data_dir: data/sample\n", encoding="utf-8")
    reports = tmp_path / "reports"
    for argv in (
        ["--params", str(good), "-p", "unti=W"],
        ["--params", str(good), "-p", "as_of=yesterday"],
        ["--params", str(good), "--name", "../escape"],
        ["--params", str(good), "--only", "07_nope"],
    ):
        assert main([*argv, "--reports-dir", str(reports)]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("report not started:") and "\n" not in err, err
    assert not reports.exists() or not any(reports.iterdir())  # nothing ran, nothing written


def test_a_run_never_falls_back_to_the_sample(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    f = tmp_path / "mine.yaml"
    f.write_text("run_name: mine\nparameters:\n  as_of: auto\n", encoding="utf-8")
    assert main(["--params", str(f), "--reports-dir", str(tmp_path / "r")]) == 2
    assert "data_dir is required" in capsys.readouterr().err
    with pytest.raises(ParamError, match="is not a folder"):
        run_report({"data_dir": str(tmp_path / "nope")}, run_name="x", reports_dir=tmp_path / "r", quiet=True)


# ---------------------------------------------------------------------------------------------------- dates
def test_dates_are_derived_from_the_data_span():
    d = derive_dates("2010-12-01 08:26", "2011-12-09 12:50")
    assert d.as_of == pd.Timestamp("2011-12-10") and d.last_day == pd.Timestamp("2011-12-09")
    assert d.window_start == pd.Timestamp("2010-12-10") and d.window_end == pd.Timestamp("2011-12-09")
    assert d.calibration_end == pd.Timestamp("2011-09-09")  # a 13-week holdout
    assert d.previous_as_of == pd.Timestamp("2011-09-11")
    assert not d.warnings
    rec = d.record()
    assert rec["calibration_end"] == {"value": "2011-09-09", "how": "auto: as_of − 1 day − a 13-week holdout"}
    json.dumps(rec)


def test_short_spans_get_no_holdout_and_no_migration_instead_of_sample_dates():
    d = derive_dates("2025-06-01 09:00", "2025-06-20 18:00")
    assert d.calibration_end is None and "too few" in d.how["calibration_end"]
    assert d.previous_as_of is None and d.window_start == pd.Timestamp("2025-06-01")


def test_given_dates_are_checked_against_the_span():
    first, last = "2010-12-01 08:26", "2011-12-09 12:50"
    with pytest.raises(ParamError, match="as_of = 2026-01-01 is 5,136 days after the last event"):
        derive_dates(first, last, as_of="2026-01-01")
    with pytest.raises(ParamError, match="no data before it"):
        derive_dates(first, last, as_of="2010-11-01")
    with pytest.raises(ParamError, match="calibration_end = 2025-09-30 must leave"):
        derive_dates(first, last, calibration_end="2025-09-30")
    d = derive_dates(first, last, window_start="2010-01-01", previous_as_of="2012-01-01")
    assert d.window_start == pd.Timestamp("2010-12-01") and d.previous_as_of is None
    assert any("window_start = 2010-01-01 is outside" in w for w in d.warnings)
    assert any("previous_as_of = 2012-01-01" in w for w in d.warnings)
    stale = derive_dates(first, last, as_of="2011-12-25")
    assert stale.as_of == pd.Timestamp("2011-12-25") and "15 days after the last event" in stale.warnings[0]
    assert derive_dates(first, last, previous_as_of="none").previous_as_of is None


def test_every_date_warning_reads_in_chinese_on_a_chinese_page():
    """Each warning derive_dates can give (as_of late, window clipped, previous_as_of outside) has a zh sentence."""
    from helpers.params import derive_dates

    d = derive_dates(
        pd.Timestamp("2025-01-01"),
        pd.Timestamp("2025-12-01"),
        as_of="2025-12-10",
        window_start="2024-01-01",
        previous_as_of="2024-06-01",
    )
    assert len(d.warnings) == 3
    for zh in d.warning_texts("zh"):
        english = re.findall(r"\b(?!as_of\b|window_start\b|previous_as_of\b)[A-Za-z]{2,}\b", zh)
        assert zh.startswith("注意：") and not english, zh
    assert all(t.startswith("WARNING: ") for t in d.warning_texts("en"))


def test_catalog_tables_come_as_a_mapping_or_one_line_and_reach_the_loader():
    given = {"engine": "pyspark", "tables": {"orders": "table:dw.orders", "touches": "table:dw.touches"}}
    checked = check(given, notebook="00_data_prep")
    assert checked["tables"] == "orders: table:dw.orders, touches: table:dw.touches"  # one line in the notebook
    assert check({**checked}, notebook="00_data_prep") == checked  # the line reads back the same
    run = params.NotebookRun("00_data_prep", {**checked, "ingest": "engine"}, REPO, REPO)
    assert run.sources == {"engine": "pyspark", "ingest": "engine", "catalog": given["tables"]}
