"""Offline report pages: notebooks to self-contained HTML, formulas as MathML, one index page per run.

A page opened from disk requests nothing from any network host: no script, font or style sheet is loaded from a
CDN (nbconvert's default page pulls MathJax and require.js), formulas are converted to MathML when the page is
built (browsers render MathML natively), charts stay embedded as ``data:`` PNGs, tables scroll sideways inside
their own box so a 390 px phone screen never cuts a column off.

Three layers:

- :func:`latex_to_mathml` and :func:`formulas`: the formula conversion and the list of formulas in a notebook;
- :func:`export_notebook` and :func:`write_index`: one page, one index, every input given explicitly;
- :func:`export_report_page` and :func:`write_report_index`: what the runner calls; they read the language, the
  page titles, the run record (``run.json``), the quality accounting and the headlines a run left in its folder.

Headlines: a notebook states its main result in one sentence with :func:`write_headline`
(``artifacts/headline_<notebook>.json``); the index shows it under the page's title.
"""

from __future__ import annotations

import html
import json
import re
import warnings
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "PAGE_TITLES",
    "notebook_references",
    "parameter_references",
    "REMOVE_CELL_TAGS",
    "REMOVE_INPUT_TAGS",
    "TEXT",
    "FormulaError",
    "Page",
    "export_notebook",
    "export_report_page",
    "formulas",
    "latex_to_mathml",
    "link_pages",
    "notebook_title",
    "read_headline",
    "write_headline",
    "write_index",
    "write_report_index",
]

#: Cells with these tags are dropped from every page.
REMOVE_CELL_TAGS = ("remove_cell",)
#: Cells with these tags keep their output but not their code.
REMOVE_INPUT_TAGS = ("remove_input", "parameters", "injected-parameters")
LANGS = ("zh", "en")

#: Display strings of the pages and the index (to move into ``helpers.labels``).
TEXT: dict[str, dict[str, str]] = {
    "zh": {
        "report": "私域增长报告",
        "answer": "参考答案（先自己做，再展开）",
        "index": "目录",
        "prev": "上一页",
        "next": "下一页",
        "run": "报告",
        "finished": "生成时间",
        "parameters": "参数",
        "parameter": "参数",
        "value": "取值",
        "data": "数据",
        "fingerprint": "数据指纹",
        "span": "数据时间范围",
        "pages": "各页结论",
        "no_headline": "（本页未记录结论）",
        "quality": "数据质量",
        "table": "表",
        "file": "文件",
        "read": "读取行数",
        "kept": "保留",
        "quarantined": "隔离",
        "total": "合计",
        "quality_ok": "每张表：读取 = 保留 + 隔离",
        "quality_bad": "读取 ≠ 保留 + 隔离的表",
        "quarantine_file": "隔离明细",
        "no_quality": "本次运行没有数据质量记录（未运行数据准备）",
        "chart": "图表",
        "formula_error": "公式无法转换",
        "not_measured": "—",
        "glossary": "术语表 Glossary",
        "glossary_what": "每个指标的公式、窗口和分母",
        "workbook": "导出表（Excel 工作簿）",
        "workbook_what": "一张表一页，中文表头：{sheets}",
        "workbook_left_out": "；太大的表只导出 CSV，见“{about}”页",
    },
    "en": {
        "report": "Private-domain growth report",
        "answer": "Worked answer (try it first, then open)",
        "index": "Contents",
        "prev": "Previous",
        "next": "Next",
        "run": "Report",
        "finished": "Finished",
        "parameters": "Parameters",
        "parameter": "Parameter",
        "value": "Value",
        "data": "Data",
        "fingerprint": "Data fingerprint",
        "span": "Data span",
        "pages": "Pages",
        "no_headline": "(no headline recorded for this page)",
        "quality": "Data quality",
        "table": "Table",
        "file": "File",
        "read": "Rows read",
        "kept": "Kept",
        "quarantined": "Quarantined",
        "total": "Total",
        "quality_ok": "every table: read = kept + quarantined",
        "quality_bad": "tables where read ≠ kept + quarantined",
        "quarantine_file": "quarantined rows",
        "no_quality": "no data-quality record in this run (data preparation did not run)",
        "chart": "chart",
        "formula_error": "formula could not be converted",
        "not_measured": "—",
        "glossary": "Glossary 术语表",
        "glossary_what": "every figure with its formula, window and denominator",
        "workbook": "Exports (Excel workbook)",
        "workbook_what": "one sheet per table, headers in words: {sheets}",
        "workbook_left_out": "; a table too large for a sheet is exported as CSV only and named on the {about} sheet",
    },
}

#: Page names by notebook (used when a notebook has no heading; to move into ``helpers.labels``).
PAGE_TITLES: dict[str, dict[str, str]] = {
    "00_data_prep": {"zh": "00 · 数据准备", "en": "00 · Data preparation"},
    "01_acquisition": {"zh": "01 · 拉新", "en": "01 · Acquisition"},
    "02_user_tiers": {"zh": "02 · 用户分层", "en": "02 · User tiers"},
    "03_repurchase": {"zh": "03 · 复购", "en": "03 · Repurchase"},
    "04_attribution": {"zh": "04 · 归因", "en": "04 · Attribution"},
    "05_community": {"zh": "05 · 社群活跃与话题", "en": "05 · Community activity and topics"},
    "06_targeting": {"zh": "06 · 该联系谁", "en": "06 · Whom to contact"},
    "07_staff": {"zh": "07 · 员工绩效", "en": "07 · Staff scorecard"},
    "08_summary": {"zh": "08 · 私域总结", "en": "08 · Private-domain summary"},
}

#: Every parameter's name in words: beside its name on the index, and in place of its name in a page's prose
#: (:func:`parameter_references`).
PARAM_LABELS: dict[str, dict[str, str]] = {
    "zh": {
        "data_dir": "数据目录",
        "demo": "内置演示数据（用公开的演示密钥）",
        "output_dir": "输出目录",
        "engine": "计算引擎",
        "tables": "数据仓库表",
        "ingest": "校验方式",
        "lang": "语言",
        "teaching": "教学模式",
        "names_file": "名称对照表",
        "as_of": "截止日期",
        "timezone": "时区",
        "window_start": "分析窗口开始",
        "window_end": "分析窗口结束",
        "conversion_window_days": "首单转化窗口",
        "lead_window_days": "扫码加好友窗口",
        "freq": "新增图周期",
        "channel_groups": "渠道合并",
        "control_variant": "对照话术",
        "alpha": "显著性水平",
        "gross_margin": "毛利率",
        "currency": "货币符号",
        "previous_as_of": "对比期截止",
        "new_days": "新客期",
        "k": "分层数",
        "k_min": "最少分层数",
        "k_max": "最多分层数",
        "random_state": "随机种子",
        "n_boot": "自助抽样次数",
        "top_share_of_buyers": "头部买家比例",
        "calibration_end": "校准期结束",
        "unit": "时间粒度",
        "horizon_days": "预测期",
        "clv_horizon_days": "终身价值期限",
        "annual_discount_rate": "年折现率",
        "top_n": "名单人数",
        "lookback_days": "归因回看期",
        "conversion": "转化定义",
        "half_life_days": "时间衰减半衰期",
        "markov_order": "马尔可夫链阶数",
        "roi_model": "活动 ROI 归因模型",
        "referral_min_age_days": "邀请人最短好友时长",
        "silent_days": "沉默期",
        "top_groups": "展示群数",
        "holdout_campaigns": "用于建模的随机实验",
        "uplift_model": "增量模型",
        "uplift_folds": "交叉拟合折数",
        "uplift_seed": "增量模型种子",
        "deletion_days": "删好友计入期",
        "cooldown_days": "冷却期",
        "monthly_cap": "每月消息上限",
        "private_chats": "私聊名额",
        "period_days": "总结周期",
    },
    "en": {
        "data_dir": "data folder",
        "demo": "bundled demo data (public demo key)",
        "output_dir": "output folder",
        "engine": "engine",
        "tables": "catalog tables",
        "ingest": "validation path",
        "lang": "language",
        "teaching": "teaching mode",
        "names_file": "names file",
        "as_of": "as-of date",
        "timezone": "time zone",
        "window_start": "window start",
        "window_end": "window end",
        "conversion_window_days": "conversion window",
        "lead_window_days": "lead window",
        "freq": "adds chart period",
        "channel_groups": "channel groups",
        "control_variant": "control script",
        "alpha": "significance level",
        "gross_margin": "gross margin",
        "currency": "currency",
        "previous_as_of": "previous as-of date",
        "new_days": "days as new",
        "k": "clusters",
        "k_min": "fewest clusters",
        "k_max": "most clusters",
        "random_state": "random seed",
        "n_boot": "bootstrap resamples",
        "top_share_of_buyers": "top share of buyers",
        "calibration_end": "calibration end",
        "unit": "time unit",
        "horizon_days": "horizon",
        "clv_horizon_days": "lifetime-value horizon",
        "annual_discount_rate": "annual discount rate",
        "top_n": "list length",
        "lookback_days": "lookback",
        "conversion": "conversion definition",
        "half_life_days": "decay half-life",
        "markov_order": "Markov order",
        "roi_model": "ROI attribution model",
        "referral_min_age_days": "inviter minimum age",
        "silent_days": "silence period",
        "top_groups": "groups shown",
        "holdout_campaigns": "holdout tests used",
        "uplift_model": "uplift model",
        "uplift_folds": "cross-fitting folds",
        "uplift_seed": "uplift seed",
        "deletion_days": "deletion window",
        "cooldown_days": "cool-down",
        "monthly_cap": "monthly message cap",
        "private_chats": "private chats",
        "period_days": "summary period",
    },
}

_HTML_LANG = {"zh": "zh-CN", "en": "en"}


def _check_lang(lang: str) -> str:
    if lang not in LANGS:
        raise ValueError(f"lang must be one of {', '.join(LANGS)}; got {lang!r}")
    return lang


# --------------------------------------------------------------------------------------------------- formulas


class FormulaError(ValueError):
    """A LaTeX formula that cannot be converted to MathML (an unsupported command or malformed input)."""


_TEXT_COMMANDS = ("\\text", "\\textrm", "\\textbf", "\\textit", "\\mbox", "\\mathrm", "\\operatorname")
_NON_ASCII = re.compile(r"[^\x00-\x7f]+")
_MTEXT = re.compile(r"(<mtext[^>]*>)(.*?)(</mtext>)", re.S)
_TEXT_ESCAPE = re.compile(r"\\(&amp;|[_%#${} ])")
#: Glyph fixes after latex2mathml: \setminus as U+29F5 is missing from common math fonts; upright capital Greek.
_GLYPHS = (
    (re.compile(r"<mi>&#x029F5;</mi>"), "<mo>&#x02216;</mo>"),
    (re.compile(r"<mi>(&#x0039[3-9A-F];|&#x003A[0-9];)</mi>"), r'<mi mathvariant="normal">\1</mi>'),
)


def _wrap_non_ascii(tex: str) -> str:
    r"""Put runs of non-ASCII characters (Chinese) outside ``\text{…}`` into ``\text{…}``.

    Without it each Chinese character becomes its own italic identifier.

    Examples
    --------
    >>> _wrap_non_ascii(r"\underbrace{x}_{流量} + \text{转化率}")
    '\\underbrace{x}_{\\text{流量}} + \\text{转化率}'
    """
    out, i, n = [], 0, len(tex)
    while i < n:
        cmd = next((c for c in _TEXT_COMMANDS if tex.startswith(c + "{", i)), None)
        if cmd is not None:  # copy the whole braced argument unchanged
            j, depth = i + len(cmd) + 1, 1
            while j < n and depth:
                depth += {"{": 1, "}": -1}.get(tex[j], 0) if tex[j - 1] != "\\" else 0
                j += 1
            out.append(tex[i:j])
            i = j
            continue
        m = _NON_ASCII.match(tex, i)
        if m:
            out.append("\\text{" + m.group(0) + "}")
            i = m.end()
        else:
            out.append(tex[i])
            i += 1
    return "".join(out)


def latex_to_mathml(tex: str, *, display: bool = False) -> str:
    r"""Convert one LaTeX formula to a MathML ``<math>`` element (rendered natively by browsers, no script).

    Uses ``latex2mathml``; Chinese outside ``\text`` is set as text, ``\_`` and friends inside ``\text`` are
    unescaped, and the result is checked: it must be well-formed XML with no LaTeX command left over.

    Parameters
    ----------
    tex : str
        The formula without its delimiters (``$``, ``$$``, ``\(``, ``\[``).
    display : bool
        Display (block) formula rather than inline.

    Returns
    -------
    str
        ``<math …>…</math>``.

    Raises
    ------
    FormulaError
        A command latex2mathml does not know (it would otherwise print ``\foo`` as an identifier) or output that is
        not well-formed.

    Examples
    --------
    >>> latex_to_mathml(r"x_i", display=True)[49:]
    'display="block"><mrow><msub><mi>x</mi><mi>i</mi></msub></mrow></math>'
    >>> "<mtext>as_of</mtext>" in latex_to_mathml(r"t + w \le \text{as\_of}")
    True
    >>> latex_to_mathml(r"\frobnicate{x}")
    Traceback (most recent call last):
    ...
    helpers.pages.FormulaError: unsupported LaTeX \frobnicate in: \frobnicate{x}
    """
    from latex2mathml.converter import convert

    source = tex.strip()
    try:
        out = convert(_wrap_non_ascii(source), display="block" if display else "inline")
    except Exception as err:  # latex2mathml raises its own exception types for malformed input
        raise FormulaError(f"cannot convert LaTeX ({type(err).__name__}: {err}): {source}") from None
    out = _MTEXT.sub(lambda m: m.group(1) + _TEXT_ESCAPE.sub(r"\1", m.group(2)) + m.group(3), out)
    for pattern, repl in _GLYPHS:
        out = pattern.sub(repl, out)
    try:
        root = ET.fromstring(out)
    except ET.ParseError as err:
        raise FormulaError(f"LaTeX gives malformed MathML ({err}): {source}") from None
    for node in root.iter():
        text = (node.text or "").strip()
        if text.startswith("\\") and len(text) > 1:
            raise FormulaError(f"unsupported LaTeX {text} in: {source}")
    return out


_FENCE = re.compile(r"^ {0,3}(```|~~~).*?^ {0,3}\1[^\n]*$", re.S | re.M)
_CODE_SPAN = re.compile(r"(`+)(?!`).+?(?<!`)\1(?!`)", re.S)
_MATH = re.compile(
    r"(?<!\\)\$\$(?P<d1>.+?)(?<!\\)\$\$"
    r"|(?<!\\)\\{1,2}\[(?P<d2>.+?)(?<!\\)\\{1,2}\]"
    r"|\\begin\{(?P<env>[a-z]*\*?)\}(?P<d3>.*?)\\end\{(?P=env)\}"
    r"|(?<![$\\])\$(?P<i1>[^$]+?)(?<![$\\])\$"
    r"|(?<!\\)\\{1,2}\((?P<i2>.+?)(?<!\\)\\{1,2}\)",
    re.S,
)


def formulas(markdown: str) -> list[tuple[str, bool]]:
    r"""List the formulas of a markdown text (code spans and fenced code skipped), as the pages find them.

    Parameters
    ----------
    markdown : str
        A markdown cell's source.

    Returns
    -------
    list of (str, bool)
        ``(tex, display)`` per formula, in order; environments (``\begin{…}``) are returned whole.

    Examples
    --------
    >>> formulas(r"rate $p$ over $$\sum_i x_i$$, code `$x$` and \(\hat S\)")
    [('p', False), ('\\sum_i x_i', True), ('\\hat S', False)]
    """
    text = _CODE_SPAN.sub(" ", _FENCE.sub(" ", markdown))
    out = []
    for m in _MATH.finditer(text):
        if m.group("env") is not None:
            out.append((m.group(0), True))
        else:
            kind = next(k for k in ("d1", "d2", "i1", "i2") if m.group(k) is not None)
            out.append((m.group(kind), kind.startswith("d")))
    return out


def _math_html(tex: str, display: bool, lang: str) -> str:
    try:
        mathml = latex_to_mathml(tex, display=display)
    except FormulaError as err:
        warnings.warn(str(err), stacklevel=2)
        tip = html.escape(TEXT[lang]["formula_error"])
        return f'<code class="formula-error" title="{tip}">{html.escape(tex)}</code>'
    if display:
        return f'<span class="math-block">{mathml}</span>'
    return mathml


def _markdown_classes():
    """Build the mistune parser/renderer classes (nbconvert's math-aware markdown, MathML instead of MathJax)."""
    from nbconvert.filters.markdown_mistune import IPythonRenderer, MathBlockParser, MathInlineParser

    class BlockParser(MathBlockParser):
        # JupyterLab accepts \[ … \] with one backslash; nbconvert only the markdown-escaped \\[ … \\]
        SPECIFICATION = {
            **MathBlockParser.SPECIFICATION,
            "multiline_math": r"(?s:(?<!\\)[$]{2}.*?(?<!\\)[$]{2}|(?<!\\)\\{1,2}\[.*?(?<!\\)\\{1,2}\]"
            r"|\\begin\{(?P<math_env_name>[a-z]*\*?)\}.*?\\end\{(?P=math_env_name)\})",
        }

    class InlineParser(MathInlineParser):
        SPECIFICATION = {
            **MathInlineParser.SPECIFICATION,
            "block_math_latex": r"(?s:(?<!\\)\\{1,2}\[(?P<math_block_latex>.*?)(?<!\\)\\{1,2}\])",
            "inline_math_latex": r"(?s:(?<!\\)\\{1,2}\((?P<math_inline_latex>.*?)(?<!\\)\\{1,2}\))",
        }

    class Renderer(IPythonRenderer):
        lang = "zh"

        def block_math(self, body: str) -> str:
            return _math_html(body, True, self.lang)

        def inline_math(self, body: str) -> str:
            return _math_html(body, False, self.lang)

        def latex_environment(self, name: str, body: str) -> str:
            return _math_html(f"\\begin{{{name}}}{body}\\end{{{name}}}", True, self.lang)

    return BlockParser, InlineParser, Renderer


def _exporter(lang: str, hide_code: bool, remove_tags: Iterable[str]):
    """Build an nbconvert HTML exporter that renders cells only, with MathML formulas and tag-based removal."""
    from jinja2 import pass_context
    from nbconvert import HTMLExporter
    from nbconvert.filters.markdown_mistune import MarkdownWithMath
    from traitlets.config import Config

    block_cls, inline_cls, renderer_cls = _markdown_classes()

    class OfflineHTMLExporter(HTMLExporter):
        @pass_context
        def markdown2html(self, context, source):
            cell = context.get("cell", {})
            renderer = renderer_cls(
                escape=False,
                attachments=cell.get("attachments", {}),
                embed_images=self.embed_images,
                path=context.get("resources", {}).get("metadata", {}).get("path", ""),
                anchor_link_text=self.anchor_link_text,
                exclude_anchor_links=self.exclude_anchor_links,
                **self.lexer_options,
            )
            renderer.lang = lang
            return MarkdownWithMath(renderer=renderer, block=block_cls(), inline=inline_cls(hard_wrap=False)).render(
                source
            )

    cfg = Config()
    cfg.TagRemovePreprocessor.enabled = True
    cfg.TagRemovePreprocessor.remove_cell_tags = tuple(sorted({*REMOVE_CELL_TAGS, *remove_tags}))
    cfg.TagRemovePreprocessor.remove_input_tags = REMOVE_INPUT_TAGS
    cfg.CSSHTMLHeaderPreprocessor.enabled = False  # JupyterLab's 300 kB theme: the page has its own style
    exporter = OfflineHTMLExporter(config=cfg, template_name="lab")
    # cells only (lab/base), with text/latex outputs converted like markdown formulas
    summary = html.escape(TEXT[lang]["answer"])
    exporter.raw_template = (
        "{%- extends 'lab/base.html.j2' -%}\n"
        "{% block any_cell %}{% if 'answer' in cell.metadata.get('tags', []) %}"
        f'<details class="answer"><summary>{summary}</summary>{{{{ super() }}}}</details>'
        "{% else %}{{ super() }}{% endif %}{% endblock any_cell %}\n"
        '{% block data_latex scoped %}<div class="jp-RenderedLatex jp-OutputArea-output">'
        "{{ output.data['text/latex'] | markdown2html }}</div>{%- endblock data_latex %}\n"
    )
    exporter.exclude_input = hide_code
    exporter.exclude_input_prompt = True
    exporter.exclude_output_prompt = True
    exporter.anchor_link_text = "#"
    return exporter


# ------------------------------------------------------------------------------------------------------ pages

_CSS = """
details.answer { border: 1px solid #d0d7de; border-radius: 6px; padding: 0.3em 0.8em; margin: 0.6em 0; }
details.answer > summary { cursor: pointer; color: #0969da; }
:root{--fg:#1f2328;--muted:#59636e;--line:#d8dee4;--soft:#f6f8fa;--accent:#0b5cad}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%;text-size-adjust:100%}
body{margin:0;color:var(--fg);background:#fff;font-size:16px;line-height:1.65;
font-family:-apple-system,BlinkMacSystemFont,"PingFang SC","Hiragino Sans GB","Microsoft YaHei","Noto Sans CJK SC",
"Source Han Sans SC","WenQuanYi Micro Hei","Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
main{max-width:1200px;margin:0 auto;padding:8px 20px 32px}
a{color:var(--accent)}
nav.pagenav{display:flex;flex-wrap:wrap;gap:4px 16px;justify-content:space-between;align-items:baseline;
max-width:1200px;margin:0 auto;padding:10px 20px;font-size:14px;border-bottom:1px solid var(--line)}
footer nav.pagenav{border-bottom:0;border-top:1px solid var(--line)}
nav.pagenav .pn{display:flex;gap:16px;flex-wrap:wrap}
nav.pagenav a{text-decoration:none}
nav.pagenav a:hover{text-decoration:underline}
nav.pagenav .short{display:none}
h1{font-size:1.65em;line-height:1.3;margin:.6em 0 .4em}
h2{font-size:1.3em;line-height:1.35;margin:1.4em 0 .5em;padding-bottom:.2em;border-bottom:1px solid var(--line)}
h3{font-size:1.1em;margin:1.2em 0 .4em}
p,ul,ol{margin:.5em 0}
.anchor-link{visibility:hidden;margin-left:.3em;font-size:.8em;text-decoration:none;color:var(--muted)}
h1:hover .anchor-link,h2:hover .anchor-link,h3:hover .anchor-link{visibility:visible}
img,svg,video{max-width:100%;height:auto}
.jp-Cell{margin:0 0 .6em}
.jp-InputPrompt,.jp-OutputPrompt,.jp-Collapser{display:none}
.jp-RenderedHTML,.jp-OutputArea-output[data-mime-type="text/html"],.jp-RenderedLatex,.table-box{overflow-x:auto;
max-width:100%}
.jp-RenderedHTML,.table-box{background:
linear-gradient(to right,#fff 30%,rgba(255,255,255,0)) left/32px 100% no-repeat local,
linear-gradient(to left,#fff 30%,rgba(255,255,255,0)) right/32px 100% no-repeat local,
radial-gradient(farthest-side at 0 50%,rgba(0,0,0,.2),transparent) left/10px 100% no-repeat scroll,
radial-gradient(farthest-side at 100% 50%,rgba(0,0,0,.2),transparent) right/10px 100% no-repeat scroll}
table{border-collapse:collapse;border:0;font-size:14px;font-variant-numeric:tabular-nums;margin:.4em 0}
th,td{padding:4px 10px;border:0;border-bottom:1px solid var(--line);vertical-align:top}
thead th{background:rgba(27,31,36,.04);border-bottom:1px solid #afb8c1;word-break:keep-all;vertical-align:bottom}
tbody tr:nth-child(even){background:rgba(27,31,36,.015)}
.jp-RenderedHTML td,.jp-RenderedHTML th{text-align:right}
.jp-RenderedHTML tbody th{text-align:left;white-space:nowrap}
.jp-MarkdownOutput table{display:block;overflow-x:auto;max-width:100%}
.jp-RenderedMarkdown p,.jp-RenderedMarkdown li{overflow-x:auto;overflow-y:hidden;padding-bottom:.1em}
/* a paragraph or list item scrolls a wide formula sideways, and a scrolling box clips what lies outside it: so a
   list's marker sits inside the item (a bullet outside it was lost), with a hanging indent */
.jp-RenderedMarkdown ul,.jp-RenderedMarkdown ol{padding-left:1.3em}
.jp-RenderedMarkdown li{list-style-position:inside;padding-left:1.2em;text-indent:-1.2em}
.jp-RenderedMarkdown li>*{text-indent:0}
.jp-MarkdownOutput td,.jp-MarkdownOutput th{text-align:left}.jp-RenderedMarkdown td:first-child{word-break:keep-all}
code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"Liberation Mono","Microsoft YaHei",monospace}
code{font-size:.88em;background:var(--soft);padding:.1em .3em;border-radius:4px}
pre{font-size:13px;line-height:1.5}
.jp-RenderedText pre{margin:0;padding:4px 0;white-space:pre-wrap;overflow-wrap:anywhere}
.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"] pre{color:#7d4e00;background:#fff8e6;
padding:4px 8px}
.jp-InputArea-editor .highlight{background:var(--soft);border-radius:6px;margin:.3em 0}
.jp-InputArea-editor pre{margin:0;padding:8px 12px;overflow-x:auto}
math{font-family:"Cambria Math","STIX Two Math","Latin Modern Math","DejaVu Math TeX Gyre",math}
.math-block{display:block;overflow-x:auto;overflow-y:hidden;padding:.4em 0;max-width:100%}
.formula-error{color:#a40e26}
.headline{color:var(--muted);margin:.1em 0 .8em}
.muted{color:var(--muted)}
.param{border-bottom:1px dotted var(--muted);cursor:help}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px;margin:.5em 0}
dl.facts dt{color:var(--muted)}dl.facts dd{margin:0;overflow-wrap:anywhere}
ol.pages{padding-left:0;list-style:none}
ol.pages li{margin:0 0 .9em}
ol.pages a{font-weight:600;font-size:1.05em}
.ok{color:#1a7f37}.bad{color:#a40e26}
@media (max-width:600px){body{font-size:15px}main{padding:4px 12px 24px}nav.pagenav{padding:8px 12px}
h1{font-size:1.4em}table{font-size:13px}th,td{padding:3px 6px}
nav.pagenav .full{display:none}nav.pagenav .short{display:inline}table.quality .file{display:none}}
table.index td,table.index th{text-align:left}table.glossary td:first-child{white-space:nowrap}
table.index td.num,table.index th.num{text-align:right}
@media print{nav.pagenav{display:none}}
"""

_NAV_START, _NAV_END = "<!--pagenav-->", "<!--/pagenav-->"
# a link that leaves the notebooks folder points into the repository, which a report does not carry
_TEST_MARKER = re.compile(r"^# NBVAL_\w+[^\n]*\n?", re.M)
_REPO_LINK = re.compile(r'<a href="\.\./([^"#]+)(?:#[^"]*)?">(.*?)</a>', re.S)
_GLOSSARY_LINK = re.compile(r'<a href="\.\./docs/glossary\.md(#[^"]*)?">')
_NAV_BLOCK = re.compile(re.escape(_NAV_START) + ".*?" + re.escape(_NAV_END), re.S)
_EXTERNAL = re.compile(
    r"<script\b[^>]*\bsrc=[\"']?(?:https?:)?//[^>]*>\s*</script>|<link\b[^>]*\bhref=[\"']?(?:https?:)?//[^>]*>", re.I
)


def _nav_html(nav: Mapping[str, Any] | None, lang: str) -> str:
    """Render the navigation bar: ``{"index": href, "prev": (href, label) | None, "next": (href, label) | None}``."""
    if not nav:
        return _NAV_START + _NAV_END
    t = TEXT[lang]
    parts = []
    if nav.get("index"):
        parts.append(f'<a class="toc" href="{html.escape(nav["index"])}">☰ {t["index"]}</a>')
    links = []
    for key in ("prev", "next"):
        item = nav.get(key)
        if item:
            href, label = item
            full, short = f'<span class="full">{html.escape(label)}</span>', f'<span class="short">{t[key]}</span>'
            text = f"‹ {full}{short}" if key == "prev" else f"{full}{short} ›"
            tip = html.escape(f"{t[key]}: {label}")
            links.append(f'<a rel="{key}" href="{html.escape(href)}" title="{tip}">{text}</a>')
    parts.append(f'<span class="pn">{"".join(links)}</span>')
    label = html.escape(t["index"])
    return f'{_NAV_START}<nav class="pagenav" aria-label="{label}">{"".join(parts)}</nav>{_NAV_END}'


def _document(body: str, *, title: str, lang: str, nav: Mapping[str, Any] | None, code_css: bool = False) -> str:
    css = _CSS
    if code_css:
        from pygments.formatters import HtmlFormatter

        css += HtmlFormatter(style="default").get_style_defs(".highlight")
    nav_html = _nav_html(nav, lang)
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="{_HTML_LANG[lang]}">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="generator" content="siyu-growth-workbook helpers.pages">\n'
        f"<title>{html.escape(title)}</title>\n<style>{css}</style>\n</head>\n<body>\n"
        f"<header>{nav_html}</header>\n<main>\n{body}\n</main>\n<footer>{nav_html}</footer>\n</body>\n</html>\n"
    )


def export_notebook(
    nb_path: str | Path,
    html_path: str | Path,
    *,
    title: str,
    lang: str = "zh",
    hide_code: bool = False,
    nav: Mapping[str, Any] | None = None,
    remove_tags: Iterable[str] = (),
    strip_test_markers: bool = False,
) -> Path:
    r"""Export one notebook to a self-contained HTML page that loads nothing from the network.

    Markdown formulas (``$…$``, ``$$…$$``, ``\(…\)``, ``\[…\]``, ``\begin{…}``) become MathML at build time; a
    formula that cannot be converted is shown as its LaTeX source with a warning. Cell outputs are kept as
    executed (PNG charts as ``data:`` URIs, HTML tables); no MathJax, require.js or CDN style is emitted, and an
    output's own ``<script src>`` / ``<link href>`` to a network host is removed. A relative link out of the
    notebooks folder (``../docs/data_contract.md``) names a file of the repository, which a report folder does not
    carry: it becomes its text followed by the path.

    Parameters
    ----------
    nb_path : str or Path
        Executed notebook.
    html_path : str or Path
        Page to write.
    title : str
        The page's ``<title>``.
    lang : {"zh", "en"}
        Page language (``<html lang>``, navigation words).
    hide_code : bool
        Leave out every code cell's input (outputs stay).
    nav : mapping, optional
        ``{"index": href, "prev": (href, label) or None, "next": (href, label) or None}``, shown above and below
        the page; ``None`` for no navigation (see :func:`link_pages` to set it later).
    remove_tags : iterable of str
        Further cell tags to remove (e.g. ``{"teaching"}`` in business mode), on top of
        :data:`REMOVE_CELL_TAGS`; inputs of :data:`REMOVE_INPUT_TAGS` cells are always hidden. Cells tagged
        ``answer`` are shown collapsed (a worked answer a trainee opens after trying).
    strip_test_markers : bool
        Remove the test suite's marker comments (``# NBVAL_CHECK_OUTPUT``) from the code shown.

    Returns
    -------
    Path
        ``html_path``.
    """
    import nbformat

    lang = _check_lang(lang)
    nb = nbformat.read(Path(nb_path), as_version=4)
    if strip_test_markers:
        for cell in nb.cells:
            if cell.cell_type == "code":
                cell.source = _TEST_MARKER.sub("", cell.source)
    renumber_sections(nb, {*REMOVE_CELL_TAGS, *remove_tags}, lang)
    _literal_dollars(nb)
    exporter = _exporter(lang, hide_code, remove_tags)
    body, _ = exporter.from_notebook_node(nb)
    body, n_external = _EXTERNAL.subn("", body)
    if n_external:
        warnings.warn(f"{nb_path}: {n_external} network script/style reference(s) removed from outputs", stacklevel=2)
    body = _GLOSSARY_LINK.sub(r'<a href="glossary.html\1">', body)  # the run folder holds the glossary page
    body = _REPO_LINK.sub(r'\2 (<code class="repo-path">\1</code>)', body)
    body = body.replace(
        'alt="No description has been provided for this image"', f'alt="{html.escape(TEXT[lang]["chart"])}"'
    )
    page = _document(body, title=title, lang=lang, nav=nav, code_css=not hide_code)
    out = Path(html_path)
    out.write_text(page, encoding="utf-8")
    return out


def _literal_dollars(nb: Any) -> None:
    r"""Escape the dollar sign of an amount (``$65,004``) in Markdown outputs, so it is not read as a formula.

    The notebooks display result sentences with :meth:`helpers.labels.Labels.markdown`, which escapes them already;
    this covers a Markdown output displayed any other way (:func:`helpers.labels.literal_dollars`). Notebook prose is
    not touched.

    >>> nb = {"cells": [{"cell_type": "code", "outputs": [{"data": {"text/markdown": "$65,004 → $70,191, $x$"}}]}]}
    >>> _literal_dollars(nb); nb["cells"][0]["outputs"][0]["data"]["text/markdown"]
    '\\$65,004 → \\$70,191, $x$'
    """
    from helpers.labels import literal_dollars

    for cell in nb["cells"]:
        for out in cell.get("outputs", []):
            md = out.get("data", {}).get("text/markdown")
            if md is not None:
                out["data"]["text/markdown"] = literal_dollars("".join(md))


_SECTION_HEADING = re.compile(r"^(#{2,3}[ \t]+)(\d+)([ \t]+·)", re.M)
_SECTION_REFERENCE = {
    "zh": re.compile(r"(第 ?)(\d+)( ?节)"),
    "en": re.compile(r"(\b[Ss]ections? )(\d+)(\b)"),
}


def renumber_sections(nb: Any, remove_tags: Iterable[str], lang: str = "zh") -> dict[int, int]:
    r"""Close up a page's section numbers (and references to them) when removed cells leave a gap, in place.

    A notebook numbers its sections (``## 5 · 排序公式``); when a page leaves sections off (``needs-<input>`` on an
    export without that input), the numbers that remain are closed up, and so are the references to them in prose and
    in outputs (``第 5 节``, ``section 5``). Numbering starts where the notebook's does (01 starts at 0).

    Parameters
    ----------
    nb : NotebookNode or dict
        The notebook; its markdown cells and its code cells' outputs are rewritten.
    remove_tags : iterable of str
        Tags of the cells the page leaves off.
    lang : {"zh", "en"}
        Language of the references to rewrite.

    Returns
    -------
    dict of int to int
        Old number → new number, for the numbers that changed (empty when nothing did).

    Examples
    --------
    >>> cells = [{"cell_type": "markdown", "metadata": {"tags": t}, "source": s} for t, s in [
    ...     ([], "## 1 · 实验"), (["needs-assignments"], "## 2 · 模型"), ([], "## 3 · 排序\n公式见第 3 节。")]]
    >>> nb = {"cells": cells}
    >>> renumber_sections(nb, {"needs-assignments"})
    {3: 2}
    >>> nb["cells"][2]["source"]
    '## 2 · 排序\n公式见第 2 节。'
    """
    remove = set(remove_tags)
    kept = [c for c in nb["cells"] if not remove & set(c.get("metadata", {}).get("tags", []))]

    def text(cell: Any) -> str:
        return cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])

    def numbers(cells: list) -> list[int]:
        md = [text(c) for c in cells if c["cell_type"] == "markdown"]
        found = [int(m.group(2)) for s in md for m in _SECTION_HEADING.finditer(s)]
        return list(dict.fromkeys(found))

    first, shown = numbers(nb["cells"])[:1], numbers(kept)
    if not shown:
        return {}
    mapping = {old: new for new, old in enumerate(shown, start=first[0]) if old != new}
    if not mapping:
        return {}

    def renumber(s: str, pattern: re.Pattern) -> str:
        return pattern.sub(lambda m: f"{m.group(1)}{mapping.get(int(m.group(2)), m.group(2))}{m.group(3)}", s)

    reference = _SECTION_REFERENCE.get(lang, _SECTION_REFERENCE["en"])
    for cell in kept:
        if cell["cell_type"] == "markdown":
            cell["source"] = renumber(renumber(text(cell), _SECTION_HEADING), reference)
        for out in cell.get("outputs", []):
            if "text" in out:
                out["text"] = renumber("".join(out["text"]), reference)
            for mime, value in out.get("data", {}).items():
                if mime in ("text/markdown", "text/html", "text/plain"):
                    out["data"][mime] = renumber("".join(value), reference)
    return mapping


def notebook_title(nb: Any, stem: str, lang: str = "zh", remove_tags: Iterable[str] = ()) -> str:
    r"""Return a page's title: its first markdown heading (formatting stripped), else :data:`PAGE_TITLES`.

    Parameters
    ----------
    nb : NotebookNode or dict
        The notebook.
    stem : str
        Notebook name (``"03_repurchase"``).
    lang : {"zh", "en"}
        Language of the fallback title.
    remove_tags : iterable of str
        Cells with these tags are skipped (e.g. the other language's prose).

    Returns
    -------
    str

    Examples
    --------
    >>> notebook_title({"cells": [{"cell_type": "markdown", "source": "# 03 · *Repurchase* 复购\ntext"}]}, "03_x")
    '03 · Repurchase 复购'
    >>> notebook_title({"cells": []}, "03_repurchase")
    '03 · 复购'
    """
    skip = {*REMOVE_CELL_TAGS, *remove_tags}
    for cell in nb["cells"]:
        if cell["cell_type"] != "markdown" or skip & set(cell.get("metadata", {}).get("tags", [])):
            continue
        src = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
        m = re.search(r"^ {0,3}#{1,6}\s+(.+?)\s*#*\s*$", src, re.M)
        if m:
            title = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", m.group(1))  # [text](link) → text
            return re.sub(r"[*`]|(?<!\w)_|_(?!\w)", "", title).strip()
    return PAGE_TITLES.get(stem, {}).get(lang, stem)


#: Inputs a page's cells may depend on (a cell tagged ``needs-<input>``): a clean table with rows, or a column of
#: one that is not empty. Prose that describes a table, a chart or a file the run could not make ("上表是…",
#: "图中红色的活动"), and code that runs only with the input (``if has_staff:``), are left off the page when the input
#: is missing; the cell that says "not measured" is not tagged.
INPUTS: dict[str, tuple[str, str | None]] = {
    "touches": ("touches", None),
    "campaigns": ("campaigns", None),
    "assignments": ("assignments", None),
    "messages": ("messages", None),
    "referrals": ("contacts", "referrer_id"),
    "staff": ("contacts", "staff_id"),
    "removals": ("contacts", "removed_at"),
}


def available_inputs(clean_dir: str | Path) -> set[str] | None:
    """Return the :data:`INPUTS` a run's clean tables hold (``None`` when there is no clean folder to look at).

    Examples
    --------
    >>> import tempfile, pyarrow as pa, pyarrow.parquet as pq
    >>> d = Path(tempfile.mkdtemp())
    >>> pq.write_table(pa.table({"user_id": ["a"], "staff_id": [None], "referrer_id": ["b"]}), d / "contacts.parquet")
    >>> sorted(available_inputs(d)), available_inputs(d / "nothing")
    (['referrals'], None)
    """
    import pyarrow.dataset as pds

    clean_dir = Path(clean_dir)
    if not clean_dir.is_dir():
        return None
    found = set()
    for name, (table, column) in INPUTS.items():
        path = clean_dir / f"{table}.parquet"
        if not path.exists():
            continue
        data = pds.dataset(path)
        if column is None:
            found |= {name} if data.count_rows() else set()
        elif column in data.schema.names:
            values = data.to_table(columns=[column]).column(0)
            found |= {name} if values.null_count < len(values) else set()
    return found


def missing_input_tags(nb: Any, inputs: set[str] | None) -> set[str]:
    """Return the ``needs-<input>`` tags of ``nb``'s cells whose input is not in ``inputs`` (none when unknown).

    >>> nb = {"cells": [{"metadata": {"tags": ["lang-zh", "needs-touches"]}}, {"metadata": {}}]}
    >>> missing_input_tags(nb, {"messages"}), missing_input_tags(nb, {"touches"}), missing_input_tags(nb, None)
    ({'needs-touches'}, set(), set())
    """
    if inputs is None:
        return set()
    tags = {t for c in nb["cells"] for t in c.get("metadata", {}).get("tags", []) if t.startswith("needs-")}
    unknown = {t for t in tags if t.removeprefix("needs-") not in INPUTS}
    if unknown:
        raise ValueError(f"unknown input tags {sorted(unknown)}: the inputs are {sorted(INPUTS)}")
    return {t for t in tags if t.removeprefix("needs-") not in inputs}


def _language_tags(lang: str) -> set[str]:
    """Tags of cells written for the other language (``lang-en`` cells are removed from a zh page)."""
    return {f"lang-{other}" for other in LANGS if other != lang}


def export_report_page(
    nb_path: str | Path, *, hide_code: bool = False, remove_tags: Iterable[str] = (), strip_test_markers: bool = False
) -> Path:
    """Export an executed notebook of a run next to it (``NN_name.html``), as the runner does.

    The language is the notebook's ``lang`` parameter (papermill records it; ``zh`` when absent); cells tagged for
    the other language (``lang-en`` on a zh page, ``lang-zh`` on an en page) are removed, and so are cells tagged
    ``needs-<input>`` when the run's clean tables lack that input (:func:`available_inputs`). The title is the
    notebook's first heading. The page links to the index; :func:`write_report_index` adds the neighbours.

    Parameters
    ----------
    nb_path : str or Path
        Executed notebook in the run folder.
    hide_code : bool
        Leave out code cells' inputs.
    remove_tags : iterable of str
        Further cell tags to remove.
    strip_test_markers : bool
        Remove the test suite's marker comments from the code shown.

    Returns
    -------
    Path
        The written page.
    """
    import nbformat

    nb_path = Path(nb_path)
    nb = nbformat.read(nb_path, as_version=4)
    lang = _notebook_lang(nb)
    missing = missing_input_tags(nb, available_inputs(nb_path.parent / "clean"))  # prose about what was not made
    tags = {*remove_tags, *_language_tags(lang), *missing}
    title = f"{notebook_title(nb, nb_path.stem, lang, tags)} · {TEXT[lang]['report']}"
    return export_notebook(
        nb_path,
        nb_path.with_suffix(".html"),
        title=title,
        lang=lang,
        hide_code=hide_code,
        nav={"index": "index.html"},
        remove_tags=tags,
        strip_test_markers=strip_test_markers,
    )


def _notebook_lang(nb: Any) -> str:
    params = nb.get("metadata", {}).get("papermill", {}).get("parameters", {}) or {}
    lang = params.get("lang", "zh")
    return lang if lang in LANGS else "zh"


def link_pages(
    report_dir: str | Path,
    pages: Sequence[Page],
    *,
    lang: str = "zh",
    teaching: bool = False,
    values: Mapping[str, str] | None = None,
) -> None:
    """Rewrite the navigation bars of a run's pages: index, previous and next among ``pages`` (in order).

    Also names notebooks and parameters in words where a page's prose names them as code
    (:func:`notebook_references`, :func:`parameter_references`).

    Parameters
    ----------
    report_dir : str or Path
        Run folder holding the pages.
    pages : sequence of Page
        The pages present, in reading order.
    lang : {"zh", "en"}
        Navigation language.
    teaching : bool
        A teaching report keeps a parameter's name beside its words (trainees change it in the params file).
    values : mapping, optional
        The run's parameter values as shown (:func:`parameter_values`): prose that names a number or date
        parameter shows its value.
    """
    report_dir = Path(report_dir)
    for i, page in enumerate(pages):
        path = report_dir / page.href
        if not path.exists():
            continue
        prev = (pages[i - 1].href, pages[i - 1].title) if i > 0 else None
        nxt = (pages[i + 1].href, pages[i + 1].title) if i + 1 < len(pages) else None
        nav = _nav_html({"index": "index.html", "prev": prev, "next": nxt}, lang)
        text = _NAV_BLOCK.sub(lambda _, nav=nav: nav, path.read_text(encoding="utf-8"))
        text = parameter_references(notebook_references(text, pages, lang), lang, teaching, values)
        path.write_text(text, encoding="utf-8")


#: A notebook named in a page's prose as code (``06_targeting``), as Markdown backticks render it.
_NOTEBOOK_CODE = re.compile(r"<code>(\d\d_[a-z_]+)</code>")


def notebook_references(text: str, pages: Sequence[Page], lang: str = "zh") -> str:
    """Replace every notebook named as code in a page (``<code>06_targeting</code>``) by that page's title.

    A page of this run becomes a link to it; a notebook the run did not produce is named by its title only. File
    names are for analysts: a growth lead reading the page reads 「06 · 该联系谁」.

    Examples
    --------
    >>> p = [Page("06_targeting", "06_targeting.html", "06 · 该联系谁")]
    >>> notebook_references("见 <code>06_targeting</code> 与 <code>02_user_tiers</code>", p)
    '见 <a href="06_targeting.html">06 · 该联系谁</a> 与 02 · 用户分层'
    """
    found = {p.stem: p for p in pages}

    def name(m: re.Match) -> str:
        stem = m.group(1)
        if stem in found:
            return f'<a href="{html.escape(found[stem].href)}">{html.escape(found[stem].title)}</a>'
        return html.escape(PAGE_TITLES[stem][lang]) if stem in PAGE_TITLES else m.group(0)

    return _NOTEBOOK_CODE.sub(name, text)


#: A parameter named in a page's prose as code: snake_case names only (``k`` or ``unit`` may be anything).
_PARAM_CODE = re.compile(r"<code>([a-z]+(?:_[a-z]+)+)</code>")


def parameter_references(
    text: str, lang: str = "zh", teaching: bool = False, values: Mapping[str, str] | None = None
) -> str:
    """Replace every parameter named as code in a page (``<code>cooldown_days</code>``) by its value or its words.

    Prose names a parameter where its value belongs ("加好友不到 `new_days` 天"): a business page shows the run's
    value when ``values`` has it (numbers and dates, :func:`parameter_values`), else the parameter's name in words,
    with the words and the name in a tooltip. A teaching page keeps the name after the words (and the value),
    since trainees change it in their params file. Code that is not a parameter is left as it is.

    Examples
    --------
    >>> parameter_references("冷却期由 <code>cooldown_days</code> 决定，见 <code>user_id</code>")
    '冷却期由 <span class="param" title="参数 cooldown_days">冷却期</span> 决定，见 <code>user_id</code>'
    >>> parameter_references("<code>cooldown_days</code> 天内", values={"cooldown_days": "7"})
    '<span class="param" title="参数 cooldown_days（冷却期）">7</span> 天内'
    >>> parameter_references("<code>cooldown_days</code>", "en", teaching=True, values={"cooldown_days": "7"})
    'cool-down (<code>cooldown_days</code> = 7)'
    """
    words, values = PARAM_LABELS[lang], values or {}

    def name(m: re.Match) -> str:
        code = m.group(1)
        if code not in words:
            return m.group(0)
        label, value = html.escape(words[code]), html.escape(values.get(code, ""))
        if teaching:
            inner = f"{m.group(0)} = {value}" if value else m.group(0)
            return f"{label}（{inner}）" if lang == "zh" else f"{label} ({inner})"
        tip = "参数" if lang == "zh" else "parameter"
        if value:
            return f'<span class="param" title="{tip} {code}（{label}）">{value}</span>'
        return f'<span class="param" title="{tip} {code}">{label}</span>'

    return _PARAM_CODE.sub(name, text)


#: Parameters whose value is a share: a page shows it as a percentage (``gross_margin`` 0.4 → 40%).
SHARE_PARAMS = frozenset({"alpha", "gross_margin", "top_share_of_buyers", "annual_discount_rate"})


def parameter_values(record: Mapping[str, Any]) -> dict[str, str]:
    """Return the value of every number and date parameter of a run, as a page shows it.

    ``record`` is the run's ``run.json``: the parameters given (the others take their defaults) and the dates the
    notebooks derived (``auto`` resolved). Choices, texts and paths are left out: a page names them in words.

    Examples
    --------
    >>> v = parameter_values({"parameters": {"new_days": 30}, "dates": {"as_of": {"value": "2011-12-10"}}})
    >>> v["new_days"], v["gross_margin"], v["as_of"], "roi_model" in v, "window_start" in v
    ('30', '40%', '2011-12-10', False, False)
    """
    from helpers.labels import fmt_pct
    from helpers.params import SCHEMA

    given, dates = record.get("parameters") or {}, record.get("dates") or {}
    out = {}
    for name, p in SCHEMA.items():
        v = given.get(name, p.default)
        if p.kind == "date":
            d = dates.get(name) if isinstance(dates, dict) else None
            v = d.get("value") if isinstance(d, dict) else v
            if isinstance(v, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", v):
                out[name] = v
        elif p.kind == "int" and isinstance(v, int) and not isinstance(v, bool):
            out[name] = f"{v:,}"
        elif p.kind == "float" and isinstance(v, (int, float)) and not isinstance(v, bool):
            whole = abs(v * 100 - round(v * 100)) < 1e-9
            out[name] = fmt_pct(v, 0 if whole else 1) if name in SHARE_PARAMS else f"{v:g}"
    return out


# ----------------------------------------------------------------------------------------------------- index


@dataclass(frozen=True)
class Page:
    """One page of a run on the index: file, title and the one-sentence result its notebook recorded."""

    stem: str
    href: str
    title: str
    headline: str | None = None


def write_headline(output_dir: str | Path, notebook: str, text: str, *, lang: str = "zh") -> Path:
    """Record a notebook's main result in one sentence, for the run's index (``artifacts/headline_<nb>.json``).

    Call it from the notebook's last cell, with a sentence generated from the results, e.g.
    ``write_headline(output_dir, "03_repurchase", f"预计未来 90 天复购 {n:,} 单（留出期误差 {err:.1%}）")``.

    Parameters
    ----------
    output_dir : str or Path
        The run folder (the notebooks' ``output_dir`` parameter).
    notebook : str
        Notebook name (``"03_repurchase"``).
    text : str
        One sentence (plain text; a newline is replaced by a space).
    lang : {"zh", "en"}
        Language of the sentence.

    Returns
    -------
    Path
        The written file.

    Examples
    --------
    >>> import tempfile
    >>> d = tempfile.mkdtemp()
    >>> _ = write_headline(d, "01_acquisition", "净增 1,234 位好友")
    >>> read_headline(d, "01_acquisition")
    '净增 1,234 位好友'
    """
    path = Path(output_dir) / "artifacts" / f"headline_{notebook}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {"notebook": notebook, "lang": _check_lang(lang), "text": " ".join(str(text).split())}
    path.write_text(json.dumps(record, ensure_ascii=False, indent=2), encoding="utf-8")
    return path


def read_headline(report_dir: str | Path, notebook: str) -> str | None:
    """Return the headline a notebook recorded with :func:`write_headline`, or ``None``."""
    path = Path(report_dir) / "artifacts" / f"headline_{notebook}.json"
    if not path.exists():
        return None
    text = json.loads(path.read_text(encoding="utf-8")).get("text")
    return str(text) if text else None


def _fmt_int(x: Any) -> str:
    try:
        return f"{int(x):,}"
    except (TypeError, ValueError):
        return "—"


def _param_value(value: Any, lang: str) -> str:
    """Return a parameter's value as a reader sees it: yes / no for a switch, not Python's True / False."""
    if isinstance(value, bool):
        return ("是" if value else "否") if lang == "zh" else ("yes" if value else "no")
    return "" if value is None else str(value)


def _quality_html(quality: Any, lang: str) -> str:
    from helpers.labels import Labels

    t, names = TEXT[lang], Labels(lang)  # tables by their names on the pages (好友, 订单), not the file stems
    if quality is None or len(quality) == 0:
        return f'<p class="muted">{t["no_quality"]}</p>'
    rows = []
    ok = True
    for r in quality.to_dict("records"):
        balanced = int(r["read"]) == int(r["kept"]) + int(r["quarantined"])
        ok &= balanced
        mark = "" if balanced else ' class="bad"'
        rows.append(
            f"<tr{mark}><th>{html.escape(names.name('table', r['table']))}</th>"
            f'<td class="file">{html.escape(str(r.get("file", "")))}</td>'
            f'<td class="num">{_fmt_int(r["read"])}</td><td class="num">{_fmt_int(r["kept"])}</td>'
            f'<td class="num">{_fmt_int(r["quarantined"])}</td></tr>'
        )
    tot = {k: int(quality[k].sum()) for k in ("read", "kept", "quarantined")}
    rows.append(
        f'<tr><th>{t["total"]}</th><td class="file"></td><td class="num">{tot["read"]:,}</td>'
        f'<td class="num">{tot["kept"]:,}</td><td class="num">{tot["quarantined"]:,}</td></tr>'
    )
    verdict = (
        f'<p class="ok">✓ {t["quality_ok"]}</p>'
        if ok
        else f'<p class="bad">✗ {t["quality_bad"]}: '
        + ", ".join(
            html.escape(names.name("table", r["table"]))
            for r in quality.to_dict("records")
            if int(r["read"]) != int(r["kept"]) + int(r["quarantined"])
        )
        + "</p>"
    )
    head = f'<th>{t["table"]}</th><th class="file">{t["file"]}</th>' + "".join(
        f'<th class="num">{t[k]}</th>' for k in ("read", "kept", "quarantined")
    )
    return (
        f'<div class="table-box"><table class="index quality"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>{verdict}"
        f'<p><a href="quality/quarantine.csv">{t["quarantine_file"]}</a> · quality/quarantine.csv</p>'
    )


def write_index(
    report_dir: str | Path,
    *,
    run_name: str,
    parameters: Mapping[str, Any],
    fingerprint: str | None,
    span: tuple[str, str] | None,
    pages: Sequence[Page],
    quality: Any = None,
    lang: str = "zh",
    finished: str | None = None,
    glossary: bool = False,
    workbook: Sequence[str] = (),
) -> Path:
    """Write a run's ``index.html``: run name, parameters, data fingerprint and span, one line per page, quality.

    Parameters
    ----------
    report_dir : str or Path
        Run folder.
    run_name : str
        The run's name.
    parameters : mapping
        Parameters of the run (name → value); shown as given, in order.
    fingerprint : str or None
        Data fingerprint (``quality/manifest.json``); ``None`` shows "—".
    span : (str, str) or None
        First and last event of the data.
    pages : sequence of Page
        Pages in reading order; each line shows the title (a link) and its headline.
    quality : DataFrame, optional
        ``quality/accounting.csv`` (``table, file, read, kept, quarantined``); ``None`` when data preparation did
        not run.
    lang : {"zh", "en"}
        Language of the page.
    finished : str, optional
        When the run finished (shown as given).
    glossary : bool
        Link the run's ``glossary.html`` (:func:`write_glossary`) under the pages.
    workbook : sequence of str
        Sheet names of the run's ``exports/workbook.xlsx`` (:func:`helpers.exports.write_report_workbook`), in
        order; when given, the index links the workbook and names its sheets (only those the run wrote: an export
        without staff has no staff sheet). Empty: no workbook.

    Returns
    -------
    Path
        ``report_dir/index.html``.
    """
    lang = _check_lang(lang)
    t = TEXT[lang]
    e = html.escape
    facts = [(t["run"], e(run_name))]
    if finished:
        facts.append((t["finished"], e(str(finished))))
    facts.append((t["span"], e(f"{span[0]} – {span[1]}") if span else t["not_measured"]))
    facts.append((t["fingerprint"], f"<code>{e(fingerprint)}</code>" if fingerprint else t["not_measured"]))
    facts_html = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts)
    items = []
    for p in pages:
        if p.headline:
            line = f'<p class="headline">{e(p.headline)}</p>'
        else:
            line = f'<p class="headline muted">{t["no_headline"]}</p>'
        items.append(f'<li><a href="{e(p.href)}">{e(p.title)}</a>{line}</li>')
    labels = PARAM_LABELS.get(lang, {})
    prow = "".join(
        f"<tr><th><code>{e(str(k))}</code>{(' ' + e(labels[k])) if k in labels else ''}</th>"
        f"<td>{e(_param_value(v, lang))}</td></tr>"
        for k, v in parameters.items()
    )
    body = (
        f"<h1>{e(t['report'])} · {e(run_name)}</h1>\n"
        f'<dl class="facts">{facts_html}</dl>\n'
        f'<h2>{t["pages"]}</h2>\n<ol class="pages">{"".join(items)}</ol>\n'
        + (
            f'<p class="glossary-link"><a href="glossary.html">{t["glossary"]}</a> — {t["glossary_what"]}</p>\n'
            if glossary
            else ""
        )
        + (
            f'<p class="workbook-link"><a href="exports/workbook.xlsx">{t["workbook"]}</a> — '
            f"{e(_workbook_what(workbook, lang))}</p>\n"
            if workbook
            else ""
        )
        + f"<h2>{t['quality']}</h2>\n{_quality_html(quality, lang)}\n"
        f"<h2>{t['parameters']}</h2>\n"
        f'<div class="table-box"><table class="index params"><thead><tr><th>{t["parameter"]}</th><th>{t["value"]}</th>'
        f"</tr></thead><tbody>{prow}</tbody></table></div>\n"
    )
    first = (pages[0].href, pages[0].title) if pages else None
    nav = {"index": None, "prev": None, "next": first}
    page = _document(body, title=f"{t['report']} · {run_name}", lang=lang, nav=nav)
    out = Path(report_dir) / "index.html"
    out.write_text(page, encoding="utf-8")
    return out


#: The glossary shipped with the workbook (docs/ beside the package); a run folder gets it as ``glossary.html``.
GLOSSARY = Path(__file__).resolve().parents[1] / "docs" / "glossary.md"


def write_glossary(
    report_dir: str | Path, *, lang: str = "zh", source: str | Path = GLOSSARY, teaching: bool = False
) -> Path | None:
    """Write the glossary (``docs/glossary.md``) into a run folder as ``glossary.html``, so pages can link to it.

    Pages link terms to ``../docs/glossary.md`` (which works in JupyterLab); :func:`export_notebook` points those
    links at this page. Returns ``None`` when the workbook's ``docs`` folder is not there (an installed copy).

    Parameters
    ----------
    report_dir : str or Path
        Run folder.
    lang : {"zh", "en"}
        Language of the page: every term is named in both languages, its definition, window and denominator in
        this one (:func:`glossary_in`).
    source : str or Path
        The glossary's markdown.
    teaching : bool
        Keep each parameter's name beside its words (:func:`parameter_references`) and the column naming the helper
        that computes each figure; a business page shows the words only (a definition names the parameter, not
        this run's value).

    Returns
    -------
    Path or None
        ``report_dir/glossary.html``.
    """
    import mistune

    source = Path(source)
    if not source.exists():
        return None
    text = glossary_in(source.read_text(encoding="utf-8"), _check_lang(lang), code=teaching)
    body = mistune.create_markdown(escape=False, plugins=["table"])(text)
    body = body.replace("<table>", '<div class="table-box"><table class="index glossary">').replace(
        "</table>", "</table></div>"
    )
    body = parameter_references(body, _check_lang(lang), teaching)
    title = TEXT[_check_lang(lang)]["glossary"]
    page = _document(body, title=title, lang=lang, nav={"index": "index.html", "prev": None, "next": None})
    out = Path(report_dir) / "glossary.html"
    out.write_text(page, encoding="utf-8")
    return out


#: The glossary's columns written twice, Chinese and English: a page keeps the one of its language.
_GLOSSARY_PAIRS = (("定义", "definition"), ("窗口", "window"), ("分母 / 单位", "denominator / unit"))
_CELL = re.compile(r"(?:`[^`]*`|\\\||[^|`])+|(?<=\|)(?=\|)")  # a code span or an escaped \| stays in its cell


def _cells(line: str) -> list[str]:
    r"""Split a Markdown table row into its cells (a ``|`` inside a code span, or escaped as ``\|``, is the cell's).

    >>> _cells(r"| a | `x|y` | P(y \| t) |")
    ['a', '`x|y`', 'P(y \\| t)']
    """
    return [c.strip() for c in _CELL.findall(line.strip().strip("|"))]


def glossary_in(markdown: str, lang: str, code: bool = True) -> str:
    r"""Return the glossary's Markdown for a page in ``lang``: of each column written in both languages, its own.

    Terms stay in both languages (术语 and term); definition, window and denominator are given per language, and
    a table that has only the English column keeps it. With ``code=False`` (a business page) the ``code`` column,
    which names the helper that computes each figure, is left out: module names are for analysts and trainers.

    Examples
    --------
    >>> md = "\n".join(["| 术语 | term | 定义 | definition | code |", "|---|---|---|---|---|",
    ...                  "| 流量 | traffic | 期内好友 | friends | `x` |"])
    >>> print(glossary_in(md, "zh"))
    | 术语 | term | 定义 | code |
    |---|---|---|---|
    | 流量 | traffic | 期内好友 | `x` |
    >>> glossary_in(md, "en").splitlines()[2]
    '| 流量 | traffic | friends | `x` |'
    >>> glossary_in(md, "zh", code=False).splitlines()[2]
    '| 流量 | traffic | 期内好友 |'
    """
    out, keep = [], None
    for line in markdown.splitlines():
        if not line.startswith("|"):
            out.append(line)
            keep = None
            continue
        cells = _cells(line)
        if keep is None:  # the header: drop the other language's column of every pair the table has both of
            drop = {zh if lang == "en" else en for zh, en in _GLOSSARY_PAIRS if zh in cells and en in cells}
            drop |= set() if code else {"code"}
            keep = [i for i, c in enumerate(cells) if c not in drop]
        if set(line.replace("|", "").strip()) <= {"-", ":", " "}:
            out.append("|" + "|".join("---" for _ in keep) + "|")
        else:
            out.append("| " + " | ".join(cells[i] for i in keep if i < len(cells)) + " |")
    return "\n".join(out)


def write_report_index(report_dir: str | Path) -> Path:
    """Write the index of a finished run folder and link its pages to each other, from what the run left there.

    Reads ``run.json`` (name, parameters, data fingerprint, data span when recorded, the notebooks in run order),
    ``quality/accounting.csv`` and each notebook's headline (:func:`write_headline`); the language is the run's
    ``lang`` parameter (``zh`` when absent). Only pages that exist are listed and linked.

    Parameters
    ----------
    report_dir : str or Path
        The run folder (the runner calls this before publishing it).

    Returns
    -------
    Path
        ``report_dir/index.html``.
    """
    import nbformat
    import pandas as pd

    report_dir = Path(report_dir)
    record = json.loads((report_dir / "run.json").read_text(encoding="utf-8"))
    params = dict(record.get("parameters") or {})
    lang = params.get("lang", "zh") if params.get("lang", "zh") in LANGS else "zh"
    stems = [n["notebook"] if isinstance(n, dict) else str(n) for n in record.get("notebooks", [])]
    pages = []
    for stem in stems:
        html_path, nb_path = report_dir / f"{stem}.html", report_dir / f"{stem}.ipynb"
        if not html_path.exists():
            continue
        title = PAGE_TITLES.get(stem, {}).get(lang, stem)
        if nb_path.exists():
            title = notebook_title(nbformat.read(nb_path, as_version=4), stem, lang, _language_tags(lang))
        pages.append(Page(stem, html_path.name, title, read_headline(report_dir, stem)))
    span = None
    dates = record.get("dates") or {}
    if isinstance(dates, dict) and dates.get("data_span"):
        span = tuple(str(s)[:10] for s in dates["data_span"][:2])
    accounting = report_dir / "quality" / "accounting.csv"
    quality = pd.read_csv(accounting, encoding="utf-8-sig") if accounting.exists() else None
    shown = {k: v for k, v in params.items() if k != "output_dir"}
    link_pages(report_dir, pages, lang=lang, teaching=bool(params.get("teaching")), values=parameter_values(record))
    glossary = write_glossary(report_dir, lang=lang, teaching=bool(params.get("teaching")))
    return write_index(
        report_dir,
        run_name=str(record.get("run_name", report_dir.name)),
        parameters=shown,
        fingerprint=record.get("data_fingerprint"),
        span=span,  # type: ignore[arg-type]
        pages=pages,
        quality=quality,
        lang=lang,
        finished=_when(record.get("finished")),
        glossary=glossary is not None,
        workbook=workbook_sheets(report_dir / "exports" / "workbook.xlsx"),
    )


def workbook_sheets(path: str | Path) -> list[str]:
    """Return the sheet names of a workbook in order, or ``[]`` when the file does not exist."""
    import openpyxl

    if not Path(path).exists():
        return []
    wb = openpyxl.load_workbook(path, read_only=True)
    try:
        return list(wb.sheetnames)
    finally:
        wb.close()


def _workbook_what(sheets: Sequence[str], lang: str) -> str:
    """Describe a workbook by the sheets it holds: the left-out note only when a table was too large for a sheet.

    Examples
    --------
    >>> _workbook_what(["联系名单", "渠道"], "zh")
    '一张表一页，中文表头：联系名单、渠道'
    >>> _workbook_what(["About", "Channels"], "en").split("; ")[0]
    'one sheet per table, headers in words: Channels'
    >>> _workbook_what(["About", "Channels"], "en").endswith("named on the About sheet")
    True
    """
    from helpers.exports import LEFT_OUT_SHEET

    t = TEXT[lang]
    about = LEFT_OUT_SHEET[lang]
    shown = [s for s in sheets if s != about]
    text = t["workbook_what"].format(sheets=("、" if lang == "zh" else ", ").join(shown))
    return text + (t["workbook_left_out"].format(about=about) if about in sheets else "")


def _when(stamp: str | None) -> str | None:
    """Format the run record's ISO time for people.

    Examples
    --------
    >>> _when("2026-12-02T17:47:39+0800")
    '2026-12-02 17:47 (UTC+08:00)'
    """
    from datetime import datetime

    if not stamp:
        return None
    try:
        t = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S%z")
    except ValueError:
        return stamp
    off = t.strftime("%z")
    return f"{t:%Y-%m-%d %H:%M} (UTC{off[:3]}:{off[3:]})"
