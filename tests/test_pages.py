"""Offline pages: formulas become MathML, pages and the run index are self-contained, and the real report opened in
headless Chromium with the network closed makes no request, logs no error, shows no raw LaTeX and fits a phone.

The browser tests need Debian's ``chromium`` (``apt-get install chromium``); they are skipped without it locally and
fail without it in CI. Screenshots of 06 and the index at 390 px and 1400 px, and the measured page heights
(``heights.json``), go to ``build/test-output/pages/`` (or ``$PAGES_TEST_OUTPUT``).
"""

from __future__ import annotations

import base64
import json
import os
import re
import struct
import warnings
from html import escape as html_escape
from pathlib import Path

import nbformat
import openpyxl
import pandas as pd
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from helpers.pages import (
    FormulaError,
    Page,
    export_notebook,
    formulas,
    latex_to_mathml,
    write_headline,
    write_index,
    write_report_index,
)
from helpers.params import SCHEMA

from .browser import Chromium, find_chromium
from .conftest import REPO

NOTEBOOKS = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
OUTPUT = Path(os.environ.get("PAGES_TEST_OUTPUT", REPO / "build" / "test-output" / "pages"))
needs_chromium = pytest.mark.skipif(
    find_chromium() is None and not os.environ.get("CI"),
    reason="chromium not installed (apt-get install chromium); CI installs it",
)
# a 1×1 PNG
PNG = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c6360f8cfc0f01f0005000201a6d3b2b10000000049454e44ae426082"
    )
).decode()


# ------------------------------------------------------------------------------------------------ formulas


def notebook_formulas(shown_only: bool = False) -> list[tuple[str, str, bool]]:
    """Formulas of the notebooks' prose; ``shown_only``: those a default page shows (zh, business mode)."""
    hidden = {"lang-en", "exercise", "truth-check"} if shown_only else set()
    out = []
    for path in NOTEBOOKS:
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "markdown" and not hidden & set(cell.metadata.get("tags", [])):
                out += [(path.name, tex, display) for tex, display in formulas(cell.source)]
    return out


def test_every_formula_in_the_notebooks_converts_to_mathml():
    found = notebook_formulas()
    assert found, "the notebooks have formulas (01, 02, 03, 04, 06)"
    bad = []
    for name, tex, display in found:
        try:
            latex_to_mathml(tex, display=display)
        except FormulaError as err:
            bad.append(f"{name}: {err}")
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize(
    ("tex", "must_contain"),
    [
        (r"\text{GMV} = \underbrace{\text{contacts}}_{流量}", ["<munder>", "<mtext>流量</mtext>", "&#x23DF;"]),
        (r"\underbrace{x}_{\text{转化率}}", ["<mtext>转化率</mtext>"]),
        (r"\dfrac{\#\{i: t + w \le \text{as\_of}\}}{n}", ['displaystyle="true"', "<mfrac>", "<mtext>as_of</mtext>"]),
        (r"\hat S(t) = \prod_{t_j \le t} (1 - d_j / n_j)", ['<mover accent="true">', "&#x0220F;", "<msub>"]),
        (r"\sum_{i=1}^{n} x_i", ["<msubsup>", "&#x02211;"]),
        (r"\frac{\Gamma(r+x)\alpha^r}{\Gamma(r)}", ['<mi mathvariant="normal">&#x00393;</mi>', "<msup>"]),
        (r"P_{\setminus c}(\text{conv})", ["&#x02216;"]),
        (r"\lambda \sim \text{Gamma}(r, \alpha)", ["&#x003BB;", "<mtext>Gamma</mtext>"]),
        (r"E[M\mid x,\bar m]", ["&#x02223;", "<mover"]),
        (r"2^{-\Delta t / h}", ["<msup>", "&#x00394;"]),
        (r"\text{流量} \times 转化率", ["<mtext>流量</mtext>", "<mtext>转化率</mtext>"]),
    ],
)
def test_constructs_the_notebooks_use(tex, must_contain):
    mathml = latex_to_mathml(tex)
    for piece in must_contain:
        assert piece in mathml, (piece, mathml)
    assert "\\" not in re.sub(r"<[^>]+>", "", mathml)  # no LaTeX left in the text


def test_chinese_outside_text_is_not_set_as_italic_identifiers():
    assert "<mi>流</mi>" not in latex_to_mathml(r"\underbrace{x}_{流量}")


@pytest.mark.parametrize("tex", [r"\frobnicate{x}", r"\frac{a}{", r"\begin{aligned}a&=b\end{aligned}"])
def test_unsupported_or_malformed_latex_raises(tex):
    with pytest.raises(FormulaError):
        latex_to_mathml(tex)


def test_formulas_finds_every_delimiter_and_skips_code():
    md = (
        "a $x$ b $$y$$ c \\(z\\) d \\[w\\] e \\\\(v\\\\) `$code$`\n"
        "```\n$$fenced$$\n```\n\\begin{equation}q\\end{equation}"
    )
    assert formulas(md) == [
        ("x", False),
        ("y", True),
        ("z", False),
        ("w", True),
        ("v", False),
        ("\\begin{equation}q\\end{equation}", True),
    ]


# --------------------------------------------------------------------------------------------------- a page


def synthetic_notebook() -> nbformat.NotebookNode:
    nb = new_notebook()
    nb.metadata["language_info"] = {"name": "python", "pygments_lexer": "ipython3"}
    table = pd.DataFrame({"渠道": ["朋友圈", "群发"], "GMV": ["¥826,259", "¥566,605"]}).to_html()
    nb.cells = [
        new_markdown_cell(
            "# 03 · 复购 Repurchase\n"
            "inline $x_i$, display $$\\sum_i x_i$$, \\(a+b\\), \\\\(c\\\\), \\[\\hat S(t)\\] and `$not math$`.\n\n"
            "$$\\text{GMV} = \\underbrace{\\text{contacts}}_{流量} \\times \\dfrac{a}{b}$$\n\n"
            "See the [data contract](../docs/data_contract.md#orders) and [the summary](08_summary.html)."
        ),
        new_code_cell("data_dir = 'x'  # PARAM_SOURCE", metadata={"tags": ["parameters"]}),
        new_code_cell(
            "print('visible_code_marker')",
            outputs=[
                new_output("stream", name="stdout", text="printed_output_marker\n"),
                new_output("display_data", data={"image/png": PNG, "text/plain": "<Figure>"}),
                new_output("execute_result", data={"text/html": table, "text/plain": "df"}, execution_count=1),
                new_output("display_data", data={"text/latex": "$$x^2 + y^2$$", "text/plain": "x^2"}),
            ],
        ),
        new_markdown_cell("REMOVED_CELL_MARKER", metadata={"tags": ["remove_cell"]}),
        new_markdown_cell("TEACHING_MARKER", metadata={"tags": ["teaching"]}),
        new_code_cell(
            "HIDDEN_INPUT_MARKER = 1",
            metadata={"tags": ["remove_input"]},
            outputs=[
                new_output(
                    "display_data",
                    data={"text/html": '<script src="https://cdn.example.invalid/x.js"></script><b>kept</b>'},
                )
            ],
        ),
    ]
    return nb


@pytest.fixture
def page(tmp_path) -> tuple[Path, str]:
    nb_path = tmp_path / "03_repurchase.ipynb"
    nbformat.write(synthetic_notebook(), nb_path)
    nav = {"index": "index.html", "prev": ("02_user_tiers.html", "02 · 用户分层"), "next": None}
    with pytest.warns(UserWarning, match="network script/style reference"):
        out = export_notebook(
            nb_path, tmp_path / "03.html", title="03 · 复购 · 私域增长报告", nav=nav, remove_tags={"teaching"}
        )
    return out, out.read_text(encoding="utf-8")


def visible_text(page_html: str) -> str:
    body = re.sub(r"<(style|math)\b.*?</\1>", " ", page_html, flags=re.S)
    return re.sub(r"<[^>]+>", " ", body)


def test_page_is_self_contained_with_formulas_as_mathml(page):
    _, text = page
    assert text.startswith("<!DOCTYPE html>") and '<html lang="zh-CN">' in text
    assert "<title>03 · 复购 · 私域增长报告</title>" in text
    assert "<script" not in text.lower() and "mathjax" not in text.lower() and "require" not in text.lower()
    urls = set(re.findall(r"https?://[^\s\"'<>)]+", text))
    assert urls <= {"http://www.w3.org/1998/Math/MathML"}, urls
    assert re.search(r"<link\b", text) is None and "@import" not in text and "@font-face" not in text
    assert text.count("<math ") == 7  # 5 in the first cell, the underbrace line, the text/latex output
    shown = visible_text(text)
    for raw in ("$$", "\\(", "\\[", "\\sum", "\\hat"):
        assert raw not in shown, raw
    assert "$not math$" in shown  # a code span is left alone
    assert "<mtext>流量</mtext>" in text
    # a link into the repository (which a report does not carry) becomes text and its path; others stay links
    assert 'data contract (<code class="repo-path">docs/data_contract.md</code>)' in text
    assert "../docs" not in text and '<a href="08_summary.html">the summary</a>' in text


def test_page_keeps_outputs_and_removes_tagged_cells(page):
    _, text = page
    assert f"data:image/png;base64,{PNG}" in text and 'alt="图表"' in text
    assert "朋友圈" in text and "¥826,259" in text and 'class="dataframe"' in text
    assert "printed_output_marker" in text and "visible_code_marker" in text and "<b>kept</b>" in text
    for gone in ("REMOVED_CELL_MARKER", "TEACHING_MARKER", "HIDDEN_INPUT_MARKER", "PARAM_SOURCE"):
        assert gone not in text, gone


def test_prose_about_an_input_the_run_lacks_is_left_off_the_page(tmp_path):
    """A cell tagged ``needs-<input>`` describes what that input makes ("上表是…", "图中红色的活动"): on a run whose
    clean tables lack it (Online Retail: no touches, staff or messages) the page leaves it off; with the input, or
    without a clean folder to look at, it stays."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from helpers.pages import export_report_page

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# 04 · 归因"),
        nbformat.v4.new_markdown_cell("STAFF_PROSE 上表是…", metadata={"tags": ["needs-staff"]}),
        nbformat.v4.new_markdown_cell("REFERRAL_PROSE", metadata={"tags": ["needs-referrals"]}),
        nbformat.v4.new_markdown_cell("BOTH_PROSE", metadata={"tags": ["needs-referrals", "needs-touches"]}),
        nbformat.v4.new_code_cell("if has_staff:\n    STAFF_CODE = 1", metadata={"tags": ["needs-staff"]}),
    ]
    for case in ("run", "bare"):
        (tmp_path / case).mkdir()
        nbformat.write(nb, tmp_path / case / "04_attribution.ipynb")
    (tmp_path / "run" / "clean").mkdir()
    contacts = pa.table({"user_id": ["a", "b"], "staff_id": [None, None], "referrer_id": [None, "a"]})
    pq.write_table(contacts, tmp_path / "run" / "clean" / "contacts.parquet")
    pq.write_table(pa.table({"user_id": ["a"]}), tmp_path / "run" / "clean" / "touches.parquet")
    text = visible_text(export_report_page(tmp_path / "run" / "04_attribution.ipynb").read_text(encoding="utf-8"))
    assert "STAFF_PROSE" not in text and "REFERRAL_PROSE" in text and "BOTH_PROSE" in text
    assert "STAFF_CODE" not in text  # code that runs only with the input goes too
    bare = visible_text(export_report_page(tmp_path / "bare" / "04_attribution.ipynb").read_text(encoding="utf-8"))
    assert "STAFF_PROSE" in bare  # nothing known about the inputs: nothing is left off


def test_sections_left_off_a_page_leave_no_gap_in_its_numbers(tmp_path):
    """CDNOW's 06 has no randomised test: sections 2–4 (the uplift models) are left off, so the page numbers the
    ranking 2, not 5, and a sentence pointing at it ("公式见第 5 节", written by a helper into an output) follows.
    With the assignments, every number stays."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from helpers.pages import export_report_page

    nb = nbformat.v4.new_notebook()
    out = new_output("display_data", data={"text/markdown": "改按到期得分排序（公式见第 5 节）。"})
    nb.cells = [nbformat.v4.new_markdown_cell("# 06 · 该联系谁"), nbformat.v4.new_markdown_cell("## 1 · 随机实验")]
    nb.cells += [
        nbformat.v4.new_markdown_cell(f"## {i} · 模型 {i}", metadata={"tags": ["needs-assignments"]}) for i in (2, 3, 4)
    ]
    nb.cells += [
        nbformat.v4.new_markdown_cell("## 5 · 排序公式"),
        nbformat.v4.new_code_cell("show()", outputs=[out]),
        nbformat.v4.new_markdown_cell("## 6 · 名单\n\n名单按第 5 节的公式排序。"),
    ]
    for case, assignments in (("none", []), ("test", ["a"])):
        (tmp_path / case / "clean").mkdir(parents=True)
        nbformat.write(nb, tmp_path / case / "06_targeting.ipynb")
        pq.write_table(pa.table({"user_id": ["a"]}), tmp_path / case / "clean" / "contacts.parquet")
        pq.write_table(
            pa.table({"user_id": pa.array(assignments, pa.string())}), tmp_path / case / "clean" / "assignments.parquet"
        )
    text = visible_text(export_report_page(tmp_path / "none" / "06_targeting.ipynb").read_text(encoding="utf-8"))
    assert "模型 2" not in text and "2 · 排序公式" in text and "3 · 名单" in text
    assert "公式见第 2 节" in text and "按第 2 节的公式" in text and "第 5 节" not in text and "5 ·" not in text
    full = visible_text(export_report_page(tmp_path / "test" / "06_targeting.ipynb").read_text(encoding="utf-8"))
    assert "模型 4" in full and "5 · 排序公式" in full and "公式见第 5 节" in full and "按第 5 节的公式" in full


def test_the_notebooks_input_tags_are_known_and_the_same_in_both_languages():
    """Every ``needs-`` tag names an input :func:`helpers.pages.available_inputs` knows, and a zh cell's English
    twin (the next cell of the other language) carries the same ones."""
    from helpers.pages import INPUTS

    for nb_path in sorted((REPO / "notebooks").glob("*.ipynb")):
        cells = nbformat.read(nb_path, as_version=4).cells
        needs = [sorted(t for t in c.metadata.get("tags", []) if t.startswith("needs-")) for c in cells]
        assert {t.removeprefix("needs-") for n in needs for t in n} <= set(INPUTS), nb_path.name
        zh = [i for i, c in enumerate(cells) if "lang-zh" in c.metadata.get("tags", [])]
        en = [i for i, c in enumerate(cells) if "lang-en" in c.metadata.get("tags", [])]
        assert [needs[i] for i in zh] == [needs[i] for i in en], nb_path.name


def test_page_navigation(page):
    _, text = page
    assert text.count('href="index.html"') == 2  # header and footer
    assert text.count('rel="prev" href="02_user_tiers.html"') == 2 and 'rel="next"' not in text


def test_hide_code_and_english(tmp_path):
    nb_path = tmp_path / "08_summary.ipynb"
    nbformat.write(synthetic_notebook(), nb_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        text = export_notebook(nb_path, tmp_path / "06.html", title="Summary", lang="en", hide_code=True).read_text()
    assert '<html lang="en">' in text and "visible_code_marker" not in text and 'class="highlight' not in text
    assert "printed_output_marker" in text and "TEACHING_MARKER" in text  # not removed unless asked
    assert 'alt="chart"' in text


def test_formula_that_cannot_be_converted_shows_its_source_with_a_warning(tmp_path):
    nb = new_notebook(cells=[new_markdown_cell("# t\nbad $\\frobnicate{x}$ here")])
    nbformat.write(nb, tmp_path / "a.ipynb")
    with pytest.warns(UserWarning, match="unsupported LaTeX"):
        text = export_notebook(tmp_path / "a.ipynb", tmp_path / "a.html", title="t").read_text()
    assert '<code class="formula-error"' in text and "\\frobnicate{x}" in text


# --------------------------------------------------------------------------------------------------- index


def accounting(kept_orders: int = 107692) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "table": ["contacts", "orders"],
            "file": ["contacts.csv", "orders.csv"],
            "read": [19778, 107711],
            "kept": [19775, kept_orders],
            "quarantined": [3, 19],
        }
    )


def test_index_lists_run_parameters_pages_and_quality(tmp_path):
    pages = [
        Page("00_data_prep", "00_data_prep.html", "00 · 数据准备", None),
        Page("03_repurchase", "03_repurchase.html", "03 · 复购", "预计复购 1,234 单"),
    ]
    params = {"data_dir": "data/sample", "as_of": "2026-01-01", "engine": "duckdb"}
    text = write_index(
        tmp_path,
        run_name="sample",
        parameters=params,
        fingerprint="2a1af028ae8c",
        span=("2025-01-01", "2025-12-31"),
        pages=pages,
        quality=accounting(),
        lang="zh",
    ).read_text(encoding="utf-8")
    assert '<html lang="zh-CN">' in text and "<title>私域增长报告 · sample</title>" in text
    assert "2025-01-01 – 2025-12-31" in text and "2a1af028ae8c" in text
    assert text.index('href="00_data_prep.html"') < text.index('href="03_repurchase.html"')
    assert "预计复购 1,234 单" in text and "（本页未记录结论）" in text
    assert "<code>as_of</code> 截止日期" in text and "duckdb" in text
    assert "19,778" in text and "127,489" in text and "22" in text  # totals: read and quarantined
    assert "✓ 每张表：读取 = 保留 + 隔离" in text and 'href="quality/quarantine.csv"' in text
    assert "<script" not in text and "http" not in text


def test_index_names_only_the_sheets_the_workbook_holds(tmp_path):
    # an export without staff gets no staff sheet, so the index must not promise one (Online Retail did)
    kw = dict(run_name="r", parameters={}, fingerprint=None, span=None, pages=[], lang="zh")
    text = write_index(tmp_path, workbook=["联系名单", "用户分层"], **kw).read_text(encoding="utf-8")
    assert 'href="exports/workbook.xlsx"' in text and "联系名单、用户分层" in text
    assert "员工绩效" not in text and "暂不打扰" not in text and "说明" not in text
    text = write_index(tmp_path, workbook=["说明", "联系名单", "员工绩效"], **kw).read_text(encoding="utf-8")
    assert "联系名单、员工绩效" in text and "见“说明”页" in text
    assert "workbook.xlsx" not in write_index(tmp_path, **kw).read_text(encoding="utf-8")


def test_index_flags_a_table_whose_rows_do_not_add_up_and_speaks_english(tmp_path):
    text = write_index(
        tmp_path,
        run_name="r",
        parameters={},
        fingerprint=None,
        span=None,
        pages=[],
        quality=accounting(kept_orders=100),
        lang="en",
    ).read_text(encoding="utf-8")
    assert '<html lang="en">' in text and "✗ tables where read ≠ kept + quarantined: orders" in text
    assert "Data fingerprint</dt><dd>—" in text


def test_report_index_reads_the_run_folder_and_links_pages(tmp_path):
    for stem in ("00_data_prep", "01_acquisition", "03_repurchase"):
        nb = new_notebook(cells=[new_markdown_cell(f"# {stem[:2]} · 标题 {stem}\ntext")])
        nb.metadata["papermill"] = {"parameters": {"lang": "zh"}}
        nbformat.write(nb, tmp_path / f"{stem}.ipynb")
        if stem != "01_acquisition":  # a page that was not rendered is neither listed nor linked
            export_notebook(tmp_path / f"{stem}.ipynb", tmp_path / f"{stem}.html", title=stem, nav={"index": "x"})
    (tmp_path / "quality").mkdir()
    accounting().to_csv(tmp_path / "quality" / "accounting.csv", index=False)
    write_headline(tmp_path, "03_repurchase", "预计复购\n1,234 单")
    record = {
        "run_name": "weekly",
        "finished": "2026-01-05T07:00:00+0800",
        "parameters": {"data_dir": "/data", "output_dir": "/tmp/x", "lang": "zh"},
        "data_fingerprint": "abc123",
        "dates": {"data_span": ["2025-01-01 00:00:01", "2025-12-31 23:59:00"]},
        "notebooks": [{"notebook": s, "seconds": 1} for s in ("00_data_prep", "01_acquisition", "03_repurchase")],
    }
    (tmp_path / "run.json").write_text(json.dumps(record), encoding="utf-8")
    index = write_report_index(tmp_path).read_text(encoding="utf-8")
    assert "私域增长报告 · weekly" in index and "2026-01-05 07:00 (UTC+08:00)" in index
    assert "2025-01-01 – 2025-12-31" in index and "预计复购 1,234 单" in index
    assert "00 · 标题 00_data_prep" in index and "01_acquisition.html" not in index
    assert "output_dir" not in index
    first = (tmp_path / "00_data_prep.html").read_text(encoding="utf-8")
    last = (tmp_path / "03_repurchase.html").read_text(encoding="utf-8")
    assert 'rel="next" href="03_repurchase.html"' in first and 'rel="prev"' not in first
    assert 'rel="prev" href="00_data_prep.html"' in last and 'rel="next"' not in last
    assert first.count('href="index.html"') == 2 and 'href="x"' not in first
    # the run folder carries the glossary, linked from the index
    assert 'href="glossary.html"' in index and "术语表" in index
    glossary = (tmp_path / "glossary.html").read_text(encoding="utf-8")
    sections = re.findall(r"^## (.+)$", (REPO / "docs" / "glossary.md").read_text(encoding="utf-8"), re.M)
    assert len(sections) >= 8 and all(f"<h2>{html_escape(h)}</h2>" in glossary for h in sections)
    assert glossary.count('<div class="table-box"><table') == len(sections)  # every table scrolls on a phone
    assert "<td>可说服客户</td>" in glossary and 'href="index.html"' in glossary


def test_the_glossary_page_defines_every_term_in_the_report_language(tmp_path):
    """Terms in both languages; definition, window and denominator in the page's language only (they were English
    on the Chinese page)."""
    from helpers.pages import write_glossary

    for lang in ("zh", "en"):
        (tmp_path / lang).mkdir()
    pages = {lang: write_glossary(tmp_path / lang, lang=lang) for lang in ("zh", "en")}
    zh, en = ((tmp_path / lang / "glossary.html").read_text(encoding="utf-8") for lang in ("zh", "en"))
    assert all(pages.values())
    for header in ("定义", "窗口", "分母 / 单位"):
        assert f"<th>{header}</th>" in zh and f"<th>{header}</th>" not in en
    for header in ("definition", "window", "denominator / unit"):
        assert f"<th>{header}</th>" in en and f"<th>{header}</th>" not in zh
    assert "<td>traffic</td>" in zh and "<td>流量</td>" in en  # every term keeps both names
    assert "contacts who were friends at any time in the period" in en
    assert "contacts who were friends at any time in the period" not in zh
    # parameters in words, their names on hover (the page showed clv_horizon_days, conversion_window_days …)
    assert 'title="参数 clv_horizon_days">终身价值期限</span>' in zh
    assert not [c for c in re.findall(r"<code>([a-z]+(?:_[a-z]+)+)</code>", zh) if c in SCHEMA]
    teaching = write_glossary(tmp_path / "zh", lang="zh", teaching=True).read_text(encoding="utf-8")
    assert "终身价值期限（<code>clv_horizon_days</code>）" in teaching
    # module names (features.window_sales) are for analysts and trainers: the business page leaves the column out
    assert "<th>code</th>" in teaching and "<code>features.window_sales</code>" in teaching
    assert "<th>code</th>" not in zh and "features.window_sales" not in zh and "features.window_sales" not in en
    rows = [
        line for line in (REPO / "docs" / "glossary.md").read_text(encoding="utf-8").splitlines() if line[:2] == "| "
    ]
    assert all(line.count("|") >= 10 for line in rows)  # every row carries both languages' columns


def test_a_link_to_the_glossary_points_at_the_run_folders_copy(tmp_path):
    cell = new_markdown_cell("见[术语表](../docs/glossary.md#targeting)与[契约](../docs/data_contract.md)")
    nb = new_notebook(cells=[cell])
    nbformat.write(nb, tmp_path / "x.ipynb")
    text = export_notebook(tmp_path / "x.ipynb", tmp_path / "x.html", title="x").read_text(encoding="utf-8")
    assert '<a href="glossary.html#targeting">术语表</a>' in text
    assert '契约 (<code class="repo-path">docs/data_contract.md</code>)' in text  # other repo files: named, not linked


# ------------------------------------------------------------------------------------------------- browser


@pytest.fixture(scope="module")
def browser():
    with Chromium() as b:
        yield b


@needs_chromium
def test_the_browser_check_catches_requests_failures_and_console_errors(browser, tmp_path):
    """The detector itself: a page that loads from the network and logs an error must be caught."""
    bad = tmp_path / "bad.html"
    bad.write_text(
        "<!DOCTYPE html><html><head><script src='https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-mml-chtml.js'>"
        "</script></head><body><img src='http://example.invalid/a.png'>$$x$$"
        "<script>console.error('boom')</script></body></html>"
    )
    good = tmp_path / "good.html"
    good.write_text(f"<!DOCTYPE html><html><body><img src='data:image/png;base64,{PNG}'><p>ok</p></body></html>")
    tab = browser.open_tab()
    try:
        problems = browser.visit(tab, bad.as_uri()).problems()
        clean = browser.visit(tab, good.as_uri()).problems()
    finally:
        browser.close_tab(tab)
    assert any("request to https://cdn.jsdelivr.net" in p for p in problems), problems
    assert any("request to http://example.invalid" in p for p in problems), problems
    assert any(p.startswith("failed request") for p in problems), problems
    assert any("boom" in p for p in problems), problems
    assert clean == []


@pytest.fixture(scope="module")
def report(sample_report) -> Path:
    return sample_report  # the session's one run on the sample (conftest): read-only here


def png_size(path: Path) -> tuple[int, int]:
    return struct.unpack(">II", path.read_bytes()[16:24])


_PAGE_FACTS = """({
  title: document.title,
  lang: document.documentElement.lang,
  text: document.body.innerText,
  formulaErrors: document.querySelectorAll('.formula-error').length,
  maths: document.querySelectorAll('math').length,
  brokenImages: Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0)).length,
  images: document.images.length,
  links: Array.from(document.links).map(a => a.href),
  scrollWidth: document.documentElement.scrollWidth,
  // a short name in a table cell (高价值, 流失风险, 包裹卡) broken over lines: 高价 / 值
  brokenNames: Array.from(document.querySelectorAll('td')).filter(td => {
    if (!/^[\u4e00-\u9fff]{2,6}$/.test(td.innerText.trim())) return false;
    const r = document.createRange(); r.selectNodeContents(td);
    return new Set(Array.from(r.getClientRects()).map(x => Math.round(x.top))).size > 1;
  }).map(td => td.innerText.trim()),
})"""


@pytest.mark.notebooks
@needs_chromium
def test_every_page_of_the_report_is_self_contained_in_chromium(report, browser):
    pages = sorted(report.glob("*.html"))
    assert [p.name for p in pages] == [f"{nb.stem}.html" for nb in NOTEBOOKS] + ["glossary.html", "index.html"]
    tab = browser.open_tab()
    problems, maths = [], 0
    try:
        for width in (1400, 390):
            browser.set_width(tab, width)
            for page in pages:
                visit = browser.visit(tab, page.as_uri())
                facts = browser.evaluate(tab, _PAGE_FACTS)
                where = f"{page.name} at {width}px"
                problems += [f"{where}: {p}" for p in visit.problems()]
                for raw in ("$$", "\\(", "\\[", "\\frac", "\\text"):
                    if raw in facts["text"]:
                        problems.append(f"{where}: raw {raw} in the visible text")
                if facts["formulaErrors"]:
                    problems.append(f"{where}: {facts['formulaErrors']} formula(s) not converted")
                if facts["brokenImages"]:
                    problems.append(f"{where}: {facts['brokenImages']} image(s) not shown")
                if not facts["title"] or facts["title"] == "Notebook":
                    problems.append(f"{where}: no real <title>")
                if facts["lang"] != "zh-CN":
                    problems.append(f"{where}: html lang {facts['lang']!r}")
                if facts["brokenNames"] and page.name != "glossary.html":  # its prose columns may wrap a word
                    problems.append(f"{where}: names broken over lines in a table: {facts['brokenNames'][:5]}")
                if facts["scrollWidth"] > width + 1:  # a table or formula widens the page instead of scrolling
                    problems.append(f"{where}: page is {facts['scrollWidth']}px wide")
                for href in facts["links"]:
                    target = href.split("#")[0]
                    if not target.startswith("file://"):
                        problems.append(f"{where}: link to {href}")
                    elif not Path(target.removeprefix("file://")).exists():
                        problems.append(f"{where}: broken link {href}")
                if page.name not in ("index.html", "glossary.html") and width == 1400:
                    assert facts["images"] >= 1, f"{where}: the page's charts are missing"
                    maths += facts["maths"]
    finally:
        browser.close_tab(tab)
    assert not problems, "\n".join(problems)
    assert maths == len(notebook_formulas(shown_only=True))  # every formula a page shows is MathML


@pytest.mark.notebooks
@needs_chromium
def test_summary_and_index_screenshots_at_phone_and_desktop_width(report, browser):
    OUTPUT.mkdir(parents=True, exist_ok=True)
    heights = {}
    tab = browser.open_tab()
    try:
        for name in ("08_summary", "index"):
            for width in (390, 1400):
                browser.set_width(tab, width)
                visit = browser.visit(tab, (report / f"{name}.html").as_uri())
                assert visit.problems() == []
                shot = OUTPUT / f"{name}_{width}.png"
                heights[f"{name}@{width}"] = browser.screenshot(tab, shot, width)
                assert png_size(shot) == (width, heights[f"{name}@{width}"])
    finally:
        browser.close_tab(tab)
    (OUTPUT / "heights.json").write_text(json.dumps(heights, indent=2), encoding="utf-8")
    print("page heights (CSS px):", heights)
    # one text column on a phone is taller than the desktop page, and neither is empty
    assert heights["08_summary@390"] >= heights["08_summary@1400"] > 600
    assert heights["index@1400"] > 300


@pytest.mark.notebooks
def test_the_report_has_an_index_and_real_titles(report):
    index = (report / "index.html").read_text(encoding="utf-8")
    for nb in NOTEBOOKS:
        assert f'href="{nb.stem}.html"' in index
        page = (report / f"{nb.stem}.html").read_text(encoding="utf-8")
        title = re.search(r"<title>(.*?)</title>", page).group(1)
        assert title != "Notebook" and title.startswith(nb.stem[:2])
        assert "<script" not in page.lower()
        assert set(re.findall(r"https?://[^\s\"'<>)]+", page)) <= {"http://www.w3.org/1998/Math/MathML"}
    accounting = pd.read_csv(report / "quality" / "accounting.csv").set_index("table")
    assert f"{accounting.loc['contacts', 'read']:,}" in index  # contacts read, from quality/accounting.csv


@pytest.mark.notebooks
def test_the_real_exports_open_in_excel_with_ids_as_text(report):
    contact_list = pd.read_csv(report / "exports" / "contact_list.csv", dtype=str, encoding="utf-8-sig")
    wb = openpyxl.load_workbook(report / "exports" / "workbook.xlsx", read_only=True)
    assert wb.sheetnames[0] == "联系名单" and "用户分层" in wb.sheetnames
    rows = list(wb["联系名单"].iter_rows(min_row=1, max_row=len(contact_list) + 1, values_only=True))
    header = list(rows[0])
    assert header[:3] == ["排名", "用户ID", "员工ID"]  # the pages' headers, in the report language
    assert not [h for h in header if re.fullmatch(r"[a-z_]+", str(h))]  # no machine column name reaches staff
    assert [r[1] for r in rows[1:]] == contact_list["user_id"].tolist()
    assert any(str(u).startswith("0") for u in contact_list["user_id"])  # the sample's ids have leading zeros
    tiers = next(wb["用户分层"].iter_rows(min_row=2, max_row=2, values_only=True))
    assert isinstance(tiers[0], str) and len(tiers[0]) == 8
    slugs = {v for r in rows[1:] for v in r if isinstance(v, str) and re.fullmatch(r"[a-z]+(?:_[a-z]+)+", v)}
    assert not slugs  # codes such as private_chat stay in the CSV for other systems; staff read 私聊
    index = (report / "index.html").read_text(encoding="utf-8")
    assert 'href="exports/workbook.xlsx"' in index  # the runner writes the workbook and the index links it


#: Pages written in the report language throughout: every page of the report.
SPEAKS_ZH = tuple(nb.stem for nb in NOTEBOOKS)
#: Technical names a Chinese page keeps as they are (model and metric names, file and parameter names).
KEPT_AS_IS = {
    "AUC",
    "AIC",
    "BIC",
    "CAC",
    "LTV / CAC",
    "ROAS",
    "GMV",
    "Qini",
    "AUUC",
    "BG/NBD",
    "MBG/NBD",
    "Pareto/NBD",
    "Gamma-Gamma",
    "HistGradientBoosting",
    "Spearman",
    "NPMI",
}


@pytest.mark.notebooks
def test_chinese_pages_show_no_code_slug_english_header_or_nan(report):
    """A zh page names channels, touch types and tiers in Chinese; no table header is an English column name."""
    from helpers.labels import NAMES

    slugs = {
        code
        for kind in ("channel", "touch_type", "segment", "value_model")
        for code in NAMES.get(kind, {})
        if re.fullmatch(r"[a-z]+_[a-z_]+", code)
    }
    problems = []
    for name in SPEAKS_ZH:
        page = (report / f"{name}.html").read_text(encoding="utf-8")
        heads = {re.sub(r"<[^>]+>", "", h).strip() for h in re.findall(r"<th[^>]*>(.*?)</th>", page, re.S)}
        english = {h for h in heads if re.fullmatch(r"[A-Za-z_ ()%/.-]{3,}", h) and h not in KEPT_AS_IS}
        text = re.sub(r"<[^>]+>", " ", re.sub(r"<(style|code|pre)[^>]*>.*?</\1>", " ", page, flags=re.S))
        found = {s for s in slugs if re.search(rf"\b{s}\b", text)}
        missing = re.findall(r"<td[^>]*>\s*(nan|NaN|None)\s*</td>", page)
        files = [s for s in re.findall(r"<code>(\d\d_[a-z_]+)</code>", page) if s in {nb.stem for nb in NOTEBOOKS}]
        files += [s for s in re.findall(r"<code>([a-z]+(?:_[a-z]+)+)</code>", page) if s in SCHEMA]  # parameters
        if english or found or missing or files:
            problems.append(
                f"{name}: headers {sorted(english)}, slugs {sorted(found)}, cells {missing[:3]}, code names {files}"
            )
    assert not problems, "\n".join(problems)
    page = (report / "03_repurchase.html").read_text(encoding="utf-8")
    assert '<a href="06_targeting.html">06 · 该联系谁</a>' in page  # a notebook named in prose links to its page
    # prose naming a number parameter shows the run's value, its words and name on hover (not "毛利率 毛利率")
    assert '未来 <span class="param" title="参数 clv_horizon_days（终身价值期限）">365</span> 天' in page
    assert '毛利率 <span class="param" title="参数 gross_margin（毛利率）">40%</span>' in page
    assert 'title="参数 uplift_model">增量模型</span>' in (report / "06_targeting.html").read_text(encoding="utf-8")


def test_fallback_titles_are_the_notebooks_own():
    """PAGE_TITLES names a notebook the run did not produce: it must read as the notebook's own first heading."""
    import nbformat

    from helpers.pages import PAGE_TITLES, notebook_title

    for nb in NOTEBOOKS:
        cells = nbformat.read(nb, as_version=4)
        for lang, other in (("zh", "lang-en"), ("en", "lang-zh")):
            assert notebook_title(cells, nb.stem, lang, {other}) == PAGE_TITLES[nb.stem][lang], (nb.stem, lang)


def test_every_parameter_has_words_in_both_languages():
    """A page names a parameter in words (:func:`helpers.pages.parameter_references`): every parameter has them."""
    from helpers.pages import PARAM_LABELS

    for lang in ("zh", "en"):
        assert set(PARAM_LABELS[lang]) == set(SCHEMA), lang
        assert all(w and "_" not in w for w in PARAM_LABELS[lang].values()), lang
