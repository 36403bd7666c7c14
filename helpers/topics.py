"""Community topics (社群话题): what groups talk about, when, and which topics come before purchases.

The pipeline, each step a function a notebook cell calls:

1. :func:`chat_lines` — the text messages worth reading: text type only, recalled messages and their recall
   notices dropped, staff messages left out by default (their broadcasts would otherwise dominate), personal
   data masked (:mod:`helpers.textmask`).
2. :func:`segment` — clean (emoji codes, @mentions, URLs, numbers removed by vectorised patterns), de-duplicate
   (chat repeats itself: 好的, 收到, the same question …, each distinct line is segmented once), segment with
   **rjieba** (the Rust port of jieba, same dictionary and HMM, shipped inside the wheel, no network), drop stop
   words (``helpers/resources/stopwords_zh.txt``) and one-character tokens, and count words per distinct line.
   Words that jieba tags as person names (``nr``) are dropped from the vocabulary, so a nickname never becomes a
   keyword.
3. :func:`group_week_keywords` — TF-IDF keywords per group and week (each group-week is one document; the IDF
   comes from all group-weeks of this chat corpus).
4. :class:`ChatTopics` — NMF topics on the messages' TF-IDF (fitted on a sample, applied to every distinct line),
   ``k`` chosen by **topic quality = mean NPMI coherence × topic diversity** (Dieng, Ruiz & Blei 2020): merging two
   topics puts words that never meet in one message together (coherence falls), splitting one topic repeats its
   words (diversity falls). Each topic is named by its top words.
5. :func:`topic_hours`, :func:`topic_peaks`, :func:`topic_weeks` — when each topic comes up.
6. :func:`topics_before_purchase` — which topics are followed by a purchase of the sender within 7 days more
   often than other topics are. This is **association**: people who ask for a coupon link were going to buy
   anyway, partly; the table does not say that talking about a topic causes purchases.

Speed (2 cores, ``bench/bench_topics.py --messages 100000``, measured on a loaded machine): rjieba cut 1.07 M
characters/s against jieba's 0.12 M (8.7×) on the same 20,000 distinct lines, with the same tokens on 100 % of them;
the whole pipeline took 21 s for 100,000 messages (segmentation 2.6 s, choosing k and fitting 18.6 s), 0.56 GiB.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from scipy import sparse
from scipy.stats import norm

from helpers.base import FittedModel, cpu_threads
from helpers.definitions import whole_weeks
from helpers.textmask import mask_text

__all__ = [
    "TEXT",
    "ChatTopics",
    "SegmentedCorpus",
    "Segmenter",
    "chat_lines",
    "chosen_text",
    "corpus_text",
    "latest_keywords",
    "purchase_text",
    "recovery_table",
    "clean_text",
    "group_week_keywords",
    "load_stopwords",
    "match_planted_topics",
    "PURCHASE_COLUMNS",
    "plot_k_selection",
    "plot_topic_hours",
    "plot_topic_purchase",
    "plot_topic_trends",
    "segment",
    "topic_hours",
    "topic_peaks",
    "topic_weeks",
    "topics_before_purchase",
]

NO_TOPIC = -1

_TEXT = {
    "zh": {
        "hour": "小时",
        "topic": "话题",
        "share": "该话题消息占比",
        "hours_title": "各话题在一天中的时段分布（每行合计 100%）",
        "week": "周",
        "messages_week": "每周消息数",
        "trends_title": "各话题每周消息数",
        "k": "话题数 k",
        "quality": "话题质量（一致性 × 多样性）",
        "coherence": "NPMI 一致性",
        "diversity": "多样性",
        "k_title": "话题数的选择",
        "ratio": "7 天内购买率之比（该话题 ÷ 其他话题），95% 区间",
        "purchase_title": "哪些话题之后更常购买（相关，不是因果）",
        "chosen": "选定",
    },
    "en": {
        "hour": "hour of day",
        "topic": "topic",
        "share": "share of the topic's messages",
        "hours_title": "When each topic comes up (each row sums to 100 %)",
        "week": "week",
        "messages_week": "messages per week",
        "trends_title": "Messages per topic and week",
        "k": "number of topics k",
        "quality": "topic quality (coherence × diversity)",
        "coherence": "NPMI coherence",
        "diversity": "diversity",
        "k_title": "Choosing the number of topics",
        "ratio": "ratio of 7-day purchase rates (topic ÷ other topics), 95 % interval",
        "purchase_title": "Topics followed by purchases more often (association, not causation)",
        "chosen": "chosen",
    },
}


def _t(lang: str) -> dict[str, str]:
    if lang not in _TEXT:
        raise ValueError(f"lang must be one of {sorted(_TEXT)}, not {lang!r}")
    return _TEXT[lang]


# --- text preparation -------------------------------------------------------------------------------------------


def load_stopwords(extra: Iterable[str] = ()) -> frozenset[str]:
    """Return the package's Chinese chat stop words (``helpers/resources/stopwords_zh.txt``) plus ``extra``.

    Examples
    --------
    >>> sw = load_stopwords(["面膜"])
    >>> {"哈哈", "好的", "的", "面膜"} <= sw, "快递" in sw
    (True, False)
    """
    text = resources.files("helpers").joinpath("resources/stopwords_zh.txt").read_text(encoding="utf-8")
    words = {w.strip() for w in text.splitlines() if w.strip() and not w.startswith("#")}
    return frozenset(words | {w.lower() for w in words} | set(extra))


# URLs, e-mails, @mentions (WeChat ends them with U+2005), bracketed emoji codes and masked tokens, numbers
_NOISE = (
    r"(?i:https?://\S+|www\.\S+)"
    r"|[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}"
    r"|[@＠][^\s\x{2005}@＠]{1,24}\x{2005}?"
    r"|[\[【][^\[\]【】]{1,8}[\]】]"
    r"|[0-9０-９]+(?:[.,:：/\-][0-9０-９]+)*"
)


def clean_text(texts: pd.Series | pa.Array | pa.ChunkedArray | Iterable[str | None]) -> pa.Array:
    """Remove what is never a topic word: URLs, e-mails, @mentions, emoji codes (``[微笑]``), numbers (vectorised).

    Parameters
    ----------
    texts : Series, Arrow array or iterable of str

    Returns
    -------
    pyarrow.Array
        Cleaned strings (missing values become ``""``).

    Examples
    --------
    >>> clean_text(["@王英\u2005[微笑]这个面膜 99元 https://t.cn/A6x 好用"]).to_pylist()
    ['  这个面膜  元   好用']
    """
    return pc.replace_substring_regex(_to_arrow(texts).fill_null(""), _NOISE, " ")


def _to_arrow(texts) -> pa.Array:
    """Text as one Arrow string array (missing values stay null)."""
    if isinstance(texts, pd.Series):
        return pa.array(texts.astype(object).where(texts.notna(), None), type=pa.large_string())
    if isinstance(texts, pa.ChunkedArray):
        return texts.combine_chunks()
    if isinstance(texts, pa.Array):
        return texts
    return pa.array(list(texts), type=pa.large_string())


class Segmenter:
    """Chinese word segmentation with stop words removed: rjieba (default) or jieba, both offline.

    Parameters
    ----------
    backend : {"rjieba", "jieba"}
        ``rjieba`` (jieba-rs: jieba's dictionary and HMM in Rust, shipped in the wheel) is the runtime choice;
        ``jieba`` (pure Python) is kept as the reference it is compared with and needs ``pip install jieba``.
    stopwords : set of str, optional
        Default :func:`load_stopwords`.
    min_len : int
        Shorter tokens are dropped (single characters are mostly particles in chat).

    Examples
    --------
    >>> Segmenter()("群主，宝宝的辅食可以发一下吗")
    ['群主', '宝宝', '辅食']
    """

    def __init__(self, backend: str = "rjieba", stopwords: Iterable[str] | None = None, min_len: int = 2) -> None:
        self.backend = backend
        self.min_len = min_len
        self._stop = frozenset(stopwords) if stopwords is not None else load_stopwords()
        if backend == "rjieba":
            import rjieba

            self._cut = rjieba.cut
            self._tag = rjieba.tag
            self._has_word = rjieba.has_word
        elif backend == "jieba":
            import jieba
            import jieba.posseg

            jieba.setLogLevel(60)
            self._cut = jieba.lcut
            self._tag = lambda s: [(p.word, p.flag) for p in jieba.posseg.lcut(s)]
            self._has_word = lambda w: w in jieba.dt.FREQ
        else:
            raise ValueError(f"backend must be 'rjieba' or 'jieba', not {backend!r}")

    def __call__(self, text: str) -> list[str]:
        """Return the kept tokens of one (cleaned) line, lower-cased."""
        stop, n = self._stop, self.min_len
        return [w for t in self._cut(text) if len(t) >= n and t.isalnum() and (w := t.lower()) not in stop]

    def is_person_name(self, word: str) -> bool:
        """Whether ``word`` looks like a person's name, to keep it out of keywords.

        The segmenter's dictionary tags many common nouns of chat as names (宝宝, 老公), so a word counts as a
        name when it is tagged ``nr*`` on its own **and** either starts with one of the 100 most common
        surnames (王英, 李总) or is not a dictionary word at all (a name the HMM found: 小红).
        """
        if not any(flag.startswith("nr") for _, flag in self._tag(word)):
            return False
        return word[0] in _SURNAMES or not self._has_word(word)


#: The 100 most common Chinese surnames (first character of a person-name token).
_SURNAMES = frozenset(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭"
    "陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)


def _identity(tokens: list[str]) -> list[str]:
    return tokens


def chat_lines(messages: pd.DataFrame, customers_only: bool = True, mask: bool = True) -> tuple[pd.DataFrame, dict]:
    """Select the messages whose text is analysed, and mask personal data in it.

    Kept: ``msgtype == "text"`` (when the column exists), ``action == "send"`` rows whose id is not the
    ``recalled_message_id`` of a recall row (when the export names it), non-empty ``content``; with
    ``customers_only`` and a ``sender_role`` column, customers' messages only (staff announcements would otherwise
    dominate the topics).

    Parameters
    ----------
    messages : DataFrame
        Contract ``messages`` with ``content`` (plus ``sent_at``, ``group_id``, ``user_id``).
    customers_only : bool
        Leave out staff messages where ``sender_role`` says who sent what.
    mask : bool
        Mask phone numbers, WeChat ids, e-mails, ID and bank cards (the loader does this already; masking
        twice changes nothing).

    Returns
    -------
    lines : DataFrame
        The kept rows (same columns, index reset).
    notes : dict
        Rows in and out by reason, and personal strings masked per kind.
    """
    if "content" not in messages.columns:
        raise ValueError("messages has no content column: chat topics are not measured on this export")
    m = messages
    notes: dict = {"messages": len(m)}
    if "msgtype" in m.columns:
        keep = m["msgtype"].fillna("").str.lower().eq("text")
        notes["not_text"] = int((~keep).sum())
        m = m[keep]
    if "action" in m.columns:
        recall = m["action"].fillna("send").str.lower().eq("recall")
        gone = set(m.loc[recall, "recalled_message_id"].dropna()) if "recalled_message_id" in m.columns else set()
        recalled = m["message_id"].isin(gone) if "message_id" in m.columns and gone else pd.Series(False, m.index)
        notes["recall_notices"] = int(recall.sum())
        notes["recalled"] = int(recalled.sum())
        m = m[~recall & ~recalled]
    if customers_only and "sender_role" in m.columns:
        staff = m["sender_role"].fillna("customer").eq("staff")
        notes["staff_messages"] = int(staff.sum())
        m = m[~staff]
    empty = m["content"].isna() | m["content"].astype(str).str.strip().eq("")
    notes["empty"] = int(empty.sum())
    m = m[~empty].reset_index(drop=True)
    if mask:
        masked, counts = mask_text(m["content"])
        m = m.assign(content=masked)
        notes["masked"] = counts
    notes["kept"] = len(m)
    return m, notes


@dataclass
class SegmentedCorpus:
    """Messages segmented once: every distinct cleaned line's word counts, and which line each message is.

    Attributes
    ----------
    codes : ndarray of int
        Per message, the row of ``counts`` holding its words.
    counts : scipy.sparse.csr_matrix
        Word counts per distinct line (rows) and vocabulary word (columns).
    vocabulary : ndarray of str
        Column names of ``counts``.
    n_chars : int
        Characters of the input messages (for throughput).
    seconds : dict
        Wall time per stage (clean, deduplicate, segment, vocabulary).
    dropped_names : list of str
        Vocabulary words dropped as person names.
    """

    codes: np.ndarray
    counts: sparse.csr_matrix
    vocabulary: np.ndarray
    n_chars: int
    seconds: dict = field(default_factory=dict)
    dropped_names: list = field(default_factory=list)

    @property
    def n_messages(self) -> int:
        """Number of messages."""
        return len(self.codes)

    @property
    def n_unique(self) -> int:
        """Number of distinct cleaned lines."""
        return self.counts.shape[0]

    def message_counts(self, rows: np.ndarray | None = None) -> sparse.csr_matrix:
        """Word counts of the messages ``rows`` (all messages by default), one row each."""
        codes = self.codes if rows is None else self.codes[rows]
        return self.counts[codes]

    def document_frequency(self) -> np.ndarray:
        """Messages containing each vocabulary word."""
        mult = np.bincount(self.codes, minlength=self.n_unique)
        return np.asarray((self.counts > 0).T @ mult).ravel()


def segment(
    texts: pd.Series | pa.Array | Iterable[str],
    segmenter: Segmenter | None = None,
    min_df: int = 3,
    max_df: float = 0.5,
    drop_names: bool = True,
) -> SegmentedCorpus:
    """Clean, de-duplicate and segment chat lines into a word-count matrix over distinct lines.

    Parameters
    ----------
    texts : Series, Arrow array or iterable of str
        The message texts (already selected by :func:`chat_lines`).
    segmenter : Segmenter, optional
        Default ``Segmenter("rjieba")``.
    min_df : int
        Keep words in at least this many messages.
    max_df : float
        Drop words in more than this share of messages (what every line says is no topic).
    drop_names : bool
        Drop vocabulary words the segmenter tags as person names.

    Returns
    -------
    SegmentedCorpus
    """
    from sklearn.feature_extraction.text import CountVectorizer

    seg = segmenter or Segmenter()
    sec: dict[str, float] = {}
    t0 = time.perf_counter()
    arr = _to_arrow(texts)
    cleaned = clean_text(arr)
    n_chars = int(pc.sum(pc.utf8_length(arr)).as_py() or 0)
    sec["clean"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    enc = pc.dictionary_encode(pc.utf8_trim_whitespace(cleaned))
    # distinct lines in sorted order, not in order of first appearance: the corpus (and every model fitted on it)
    # depends on what was said, not on the order the export or the engine listed it
    order = np.asarray(pc.sort_indices(enc.dictionary), dtype=np.int64)
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    codes = rank[np.asarray(enc.indices.to_numpy(zero_copy_only=False), dtype=np.int64)]
    uniques = enc.dictionary.take(pa.array(order)).to_pylist()
    sec["deduplicate"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    cv = CountVectorizer(analyzer=_identity, lowercase=False)
    counts = cv.fit_transform(seg(s) for s in uniques).tocsr() if uniques else sparse.csr_matrix((0, 0))
    vocab = cv.get_feature_names_out() if uniques and counts.shape[1] else np.array([], dtype=object)
    sec["segment"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    corpus = SegmentedCorpus(codes, counts, np.asarray(vocab, dtype=object), n_chars, sec)
    if counts.shape[1]:
        df = corpus.document_frequency()
        keep = (df >= min_df) & (df <= max_df * max(len(codes), 1))
        names = []
        if drop_names:
            for j in np.flatnonzero(keep):
                if seg.is_person_name(vocab[j]):
                    keep[j] = False
                    names.append(str(vocab[j]))
        corpus.counts = counts[:, np.flatnonzero(keep)].tocsr()
        corpus.vocabulary = corpus.vocabulary[keep]
        corpus.dropped_names = names
    sec["vocabulary"] = time.perf_counter() - t0
    return corpus


# --- keywords per group and week --------------------------------------------------------------------------------


def _top_terms(matrix: sparse.csr_matrix, vocab: np.ndarray, top_n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row, rank and column of each row's ``top_n`` largest entries (ties broken by column)."""
    m = matrix.tocsr()
    m.sort_indices()
    rows, ranks, cols, vals = [], [], [], []
    for i in range(m.shape[0]):
        a, b = m.indptr[i], m.indptr[i + 1]
        if a == b:
            continue
        order = np.lexsort((m.indices[a:b], -m.data[a:b]))[:top_n]
        rows.append(np.full(order.size, i))
        ranks.append(np.arange(1, order.size + 1))
        cols.append(m.indices[a:b][order])
        vals.append(m.data[a:b][order])
    if not rows:
        return np.array([], int), np.array([], int), np.array([], int), np.array([])
    return np.concatenate(rows), np.concatenate(ranks), np.concatenate(cols), np.concatenate(vals)


def group_week_keywords(
    corpus: SegmentedCorpus, group_id: pd.Series | np.ndarray, sent_at: pd.Series | np.ndarray, top_n: int = 5
) -> pd.DataFrame:
    """Top TF-IDF keywords of each group and week (Monday-start).

    Each group-week is one document (the words of all its messages); TF (sublinear, 1 + log count) × IDF over
    all group-weeks of the corpus, so a word every group says every week scores low and a word one group said
    a lot that week scores high.

    Parameters
    ----------
    corpus : SegmentedCorpus
        From :func:`segment`, aligned with ``group_id`` and ``sent_at``.
    group_id, sent_at : array-like
        Per message.
    top_n : int
        Keywords per group-week.

    Returns
    -------
    DataFrame
        ``group_id``, ``week``, ``rank`` (1 = strongest), ``keyword``, ``score``, and ``messages`` of that group-week.
    """
    from sklearn.feature_extraction.text import TfidfTransformer

    g = pd.Series(np.asarray(group_id)).astype(str)
    week = pd.to_datetime(pd.Series(np.asarray(sent_at))).dt.to_period("W-SUN").dt.start_time
    keys = pd.MultiIndex.from_arrays([g, week])
    doc, labels = pd.factorize(keys)
    n_docs = len(labels)
    assign = sparse.csr_matrix(
        (np.ones(len(doc)), (doc, corpus.codes)), shape=(n_docs, corpus.n_unique), dtype=np.float64
    )
    counts = (assign @ corpus.counts).tocsr()
    messages = np.bincount(doc, minlength=n_docs)
    if counts.shape[1] == 0 or n_docs == 0:
        return pd.DataFrame(columns=["group_id", "week", "rank", "keyword", "score", "messages"])
    tfidf = TfidfTransformer(sublinear_tf=True).fit_transform(counts)
    rows, ranks, cols, vals = _top_terms(tfidf, corpus.vocabulary, top_n)
    lab = labels.to_frame(index=False)
    return pd.DataFrame(
        {
            "group_id": lab.iloc[rows, 0].to_numpy(),
            "week": lab.iloc[rows, 1].to_numpy(),
            "rank": ranks,
            "keyword": corpus.vocabulary[cols],
            "score": np.round(vals, 4),
            "messages": messages[rows],
        }
    )


# --- topics -----------------------------------------------------------------------------------------------------


def _npmi_coherence(binary: sparse.csr_matrix, top: np.ndarray) -> np.ndarray:
    """Mean NPMI over the word pairs of each topic's top words (document co-occurrence in ``binary``)."""
    n = binary.shape[0]
    cols = np.unique(top)
    pos = {c: i for i, c in enumerate(cols)}
    sub = binary[:, cols].astype(np.float64)
    co = np.asarray((sub.T @ sub).todense())
    p = np.diag(co) / n
    out = []
    for words in top:
        idx = [pos[c] for c in words]
        vals = []
        for a in range(len(idx)):
            for b in range(a + 1, len(idx)):
                pij = co[idx[a], idx[b]] / n
                if pij <= 0:
                    vals.append(-1.0)
                else:
                    vals.append(np.log(pij / (p[idx[a]] * p[idx[b]])) / -np.log(pij))
        out.append(float(np.mean(vals)) if vals else np.nan)
    return np.array(out)


#: Sentences of the topics section, filled with results (``Labels.text(TEXT, key, ...)``).
TEXT: dict[str, dict[str, str]] = {
    "no_text": {
        "zh": "messages 表没有 content（消息内容）列：话题未测量。企业微信会话存档导出的 content 字段可以加上。",
        "en": "The messages table has no content column: topics are not measured. WeCom's session archive "
        "exports it as content.",
    },
    "lines": {
        "zh": "分析 {kept} 条客户文本消息（共 {messages} 条消息；非文本 {not_text} 条、撤回 {recalled} 条、"
        "员工消息 {staff} 条不计）；{unique} 条不同的句子，词表 {vocab} 个词。",
        "en": "{kept} customer text messages analysed (of {messages}; {not_text} non-text, {recalled} recalled and "
        "{staff} staff messages left out); {unique} distinct lines, vocabulary of {vocab} words.",
    },
    "too_small": {
        "zh": "聊天文本太少，找不出话题（{why}）：话题未测量。",
        "en": "Too little chat text to find topics ({why}): topics are not measured.",
    },
    "chosen_k": {
        "zh": "选定 k = {k}（话题质量 {quality}，一致性 {coherence}，多样性 {diversity}）。",
        "en": "k = {k} chosen (topic quality {quality}, coherence {coherence}, diversity {diversity}).",
    },
    "purchase": {
        "zh": "消息之后 7 天内购买率明显高于其他话题的：{higher}（相关，不是因果）。",
        "en": "Topics followed by a purchase within 7 days clearly more often than other topics: {higher} "
        "(association, not causation).",
    },
    "purchase_none": {
        "zh": "没有哪个话题之后的 7 天购买率明显高于其他话题。",
        "en": "No topic is followed by a purchase within 7 days clearly more often than the others.",
    },
}


class ChatTopics(FittedModel):
    """NMF topics of chat messages, with the number of topics chosen by topic quality.

    Fitted on a random sample of messages (repeated lines count as often as they were sent), applied to every
    distinct line. ``k`` maximises **topic quality** = mean NPMI coherence of each topic's top words (how often
    they appear in the same message, −1 … 1) × topic diversity (share of distinct words among all topics' top
    words; Dieng, Ruiz & Blei 2020). NMF with this loss has many local optima (a start may merge two topics and
    spend a component on a few spam lines), so the k chosen from one start changed with the seed. Each candidate
    ``k`` is therefore fitted from ``restarts`` starts on a small sample (``search_sample``), the start with the best
    quality is refined and scored on ``select_sample`` messages, and the final fit starts from the chosen candidate's
    topics rather than from a fresh start, which often ended in a worse optimum. The reconstruction error is reported
    beside the quality (it always falls with ``k``, so it cannot choose ``k`` alone). Each message gets the topic
    with the largest NMF weight, or :data:`NO_TOPIC` (−1) when none of its words is in the vocabulary (好的, [强], …).

    Parameters
    ----------
    k : int or "auto"
        Number of topics, or choose from ``k_grid``.
    k_grid : sequence of int
        Candidates for ``k="auto"``.
    top_n : int
        Top words per topic (naming, coherence, diversity).
    fit_sample : int
        Messages the final NMF is fitted on.
    select_sample : int
        Messages each candidate ``k``'s best start is refined and scored on.
    search_sample : int
        Messages the starts are fitted and compared on (a subset of ``select_sample``).
    restarts : int
        NMF starts per candidate ``k`` (``k="auto"``): the SVD start of ``random_state`` and ``restarts − 1`` more
        from seeds derived from it. Measured over seeds 0–4 (``bench/topic_k_seeds.py``; 5 topics planted): one
        start chose k = 5, 5, 3, 3, 4 on an earlier sample. Ten starts with the refinement, on the bundled sample
        with messages sampled in line order: k = 5 for 8 of seeds 0–9 and all five planted topics found for 7 (the
        check-in topic shares fixed question phrases with every topic's lines; the others are found every time).
    random_state : int
        Seed of the samples and of NMF.
    n_threads : int, optional
        BLAS threads of NMF while fitting and assigning topics (``None``: every core). Default 1: see
        :func:`helpers.base.cpu_threads` for what more threads cost on a shared machine.

    Attributes
    ----------
    params_ : dict
        ``k`` and the chosen fit's ``quality``, ``coherence`` and ``diversity``.
    k_scores_ : DataFrame
        Per candidate ``k``: ``coherence``, ``diversity``, ``quality``, ``reconstruction_error``.
    top_words_ : dict
        Topic number → its ``top_n`` words, strongest first.
    topic_names_ : dict
        Topic number → name (its three top words joined by ``/``); :data:`NO_TOPIC` has none (pages leave it out).
    notes_ : list of str
        Samples used and how ``k`` was chosen.
    """

    def __init__(
        self,
        k: int | str = "auto",
        k_grid: Iterable[int] = range(3, 13),
        top_n: int = 10,
        fit_sample: int = 200_000,
        select_sample: int = 50_000,
        search_sample: int = 10_000,
        restarts: int = 10,
        random_state: int = 0,
        n_threads: int | None = 1,
    ) -> None:
        self.k = k
        self.k_grid = tuple(k_grid)
        self.top_n = top_n
        self.fit_sample = fit_sample
        self.select_sample = select_sample
        self.search_sample = search_sample
        self.restarts = restarts
        self.random_state = random_state
        self.n_threads = n_threads

    def _sample(self, corpus: SegmentedCorpus, size: int, rng: np.random.Generator) -> np.ndarray:
        """Distinct-line rows of a random sample of non-empty messages, in line order.

        Drawn from the messages' lines sorted, so the sample depends on which lines were sent how often, not on the
        order of the messages (Spark and DuckDB list the same export in different orders).
        """
        nonempty = np.diff(corpus.counts.indptr) > 0
        pool = np.sort(corpus.codes[nonempty[corpus.codes]])
        return pool if pool.size <= size else pool[np.sort(rng.choice(pool.size, size, replace=False))]

    def _nmf(self, k: int, final: bool = True):
        from sklearn.decomposition import NMF

        it, tol = (1000, 1e-4) if final else (300, 1e-3)  # candidates are compared, the chosen one is fitted finely
        # generalised Kullback–Leibler loss (Lee & Seung): word weights of short messages are sparse counts, and
        # the Frobenius loss spends components on frequent filler words shared by every topic instead
        return NMF(
            n_components=k,
            init="nndsvda",
            beta_loss="kullback-leibler",
            solver="mu",
            max_iter=it,
            tol=tol,
            random_state=self.random_state,
        )

    def _top(self, components: np.ndarray) -> np.ndarray:
        return np.argsort(-components, axis=1, kind="stable")[:, : self.top_n]

    def _quality(self, nmf, binary: sparse.csr_matrix) -> dict:
        top = self._top(nmf.components_)
        coh = float(np.nanmean(_npmi_coherence(binary, top)))
        div = len(np.unique(top)) / top.size
        return {"coherence": coh, "diversity": div, "quality": coh * div}

    def _refine(self, k: int, x: sparse.csr_matrix, start, final: bool, seed: int | None = None):
        """NMF of ``x`` with ``k`` topics, from a fitted model's topics (``start``) or from an SVD start.

        The SVD start uses ``seed`` (default ``random_state``).
        """
        from sklearn.exceptions import ConvergenceWarning

        nmf = self._nmf(k, final=final)
        if seed is not None:
            nmf.set_params(random_state=seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            if start is None:
                return nmf.fit(x)
            # multiplicative updates never move a zero: a small floor lets every weight move
            w, h = start.transform(x) + 1e-6, start.components_ + 1e-6
            return nmf.set_params(init="custom").fit(x, W=w, H=h)

    def _choose_k(self, corpus: SegmentedCorpus, rows: np.ndarray, rng: np.random.Generator) -> tuple[int, object, str]:
        """Score every candidate ``k``; return the chosen one, its refined fit (the final fit's start) and a note."""
        sel = rows if len(rows) <= self.select_sample else np.sort(rng.choice(rows, self.select_sample, False))
        search = sel if len(sel) <= self.search_sample else np.sort(rng.choice(sel, self.search_sample, False))
        xs, xq = self.tfidf_.transform(corpus.counts[search]), self.tfidf_.transform(corpus.counts[sel])
        bs = (corpus.counts[search] > 0).astype(np.float64).tocsr()
        bq = (corpus.counts[sel] > 0).astype(np.float64).tocsr()
        more = np.random.SeedSequence(self.random_state).generate_state(max(self.restarts - 1, 0))
        seeds = [self.random_state, *(int(s) for s in more)]
        scores, fits = [], {}
        for k in self.k_grid:
            if k >= min(xs.shape):
                continue
            best, best_q = None, -np.inf
            for seed in seeds:  # NMF has many local optima: several cheap starts on a small sample
                nmf = self._refine(k, xs, None, final=False, seed=seed)
                q = self._quality(nmf, bs)["quality"]
                if q > best_q:
                    best, best_q = nmf, q
            fits[k] = self._refine(k, xq, best, final=False)  # the best start, refined and scored on more messages
            scores.append(
                {"k": k, **self._quality(fits[k], bq), "reconstruction_error": float(fits[k].reconstruction_err_)}
            )
        if not scores:
            raise ValueError("no candidate k fits this corpus (too few words or messages)")
        self.k_scores_ = pd.DataFrame(scores).set_index("k")
        k = int(self.k_scores_["quality"].idxmax())
        note = (
            f"k = {k} of {list(self.k_scores_.index)} by topic quality (NPMI coherence × diversity): best of "
            f"{len(seeds)} NMF starts per k on {len(search):,} messages, refined and scored on {len(sel):,}"
        )
        return k, fits[k], note

    def fit(self, corpus: SegmentedCorpus) -> ChatTopics:
        """Fit TF-IDF and NMF on a sample of the corpus, choosing ``k`` when ``k="auto"``.

        Parameters
        ----------
        corpus : SegmentedCorpus
            From :func:`segment`.

        Returns
        -------
        ChatTopics
            self
        """
        with cpu_threads(self.n_threads):
            return self._fit(corpus)

    def _fit(self, corpus: SegmentedCorpus) -> ChatTopics:
        from sklearn.feature_extraction.text import TfidfTransformer

        if corpus.counts.shape[1] < 2:
            raise ValueError("fewer than two vocabulary words: no topics can be fitted on this chat text")
        rng = np.random.default_rng(self.random_state)
        rows = self._sample(corpus, self.fit_sample, rng)
        self.tfidf_ = TfidfTransformer(sublinear_tf=True).fit(corpus.counts[rows])
        self.vocabulary_ = corpus.vocabulary
        notes = [f"TF-IDF and NMF fitted on {len(rows):,} messages with topic words (sample of {corpus.n_messages:,})"]
        if self.k == "auto":
            k, start, note = self._choose_k(corpus, rows, rng)
            notes.append(note)
        else:
            k, start = int(self.k), None
            self.k_scores_ = pd.DataFrame(columns=["coherence", "diversity", "quality", "reconstruction_error"])
        x = self.tfidf_.transform(corpus.counts[rows])
        self.nmf_ = self._refine(k, x, start, final=True)
        if self.nmf_.n_iter_ >= self.nmf_.max_iter:
            notes.append(f"NMF stopped at its iteration limit ({self.nmf_.max_iter}) before the tolerance was met")
        top = self._top(self.nmf_.components_)
        coh = _npmi_coherence((corpus.counts[rows] > 0).astype(np.float64).tocsr(), top)
        self.coherence_ = pd.Series(coh, index=range(k), name="coherence")
        self.top_words_ = {i: [str(self.vocabulary_[j]) for j in top[i]] for i in range(k)}
        self.topic_names_ = {i: " / ".join(w[:3]) for i, w in self.top_words_.items()}
        div = len(np.unique(top)) / top.size
        self.params_ = {"k": k, "quality": float(np.nanmean(coh)) * div, "coherence": float(np.nanmean(coh))}
        self.params_["diversity"] = div
        self.notes_ = notes
        return self

    def transform(self, corpus: SegmentedCorpus, chunk: int = 200_000) -> pd.DataFrame:
        """Assign every message its topic.

        Parameters
        ----------
        corpus : SegmentedCorpus
            Segmented with the vocabulary the model was fitted on (the same corpus, or one segmented the same way).
        chunk : int
            Distinct lines per NMF transform call (bounds memory).

        Returns
        -------
        DataFrame
            Per message (aligned with ``corpus.codes``): ``topic`` (int, −1 without topic words) and
            ``weight`` (the topic's share of the message's NMF weights, 0 … 1).
        """
        self._check_fitted()
        if not np.array_equal(corpus.vocabulary, self.vocabulary_):
            raise ValueError("the corpus was segmented with another vocabulary than the one this model was fitted on")
        k = self.params_["k"]
        topic_u = np.full(corpus.n_unique, NO_TOPIC, dtype=np.int16)
        share_u = np.zeros(corpus.n_unique)
        nonempty = np.flatnonzero(np.diff(corpus.counts.indptr) > 0)
        for a in range(0, nonempty.size, chunk):
            idx = nonempty[a : a + chunk]
            with cpu_threads(self.n_threads):
                w = self.nmf_.transform(self.tfidf_.transform(corpus.counts[idx]))
            tot = w.sum(axis=1)
            has = tot > 0
            topic_u[idx[has]] = np.argmax(w[has], axis=1).astype(np.int16)
            share_u[idx[has]] = w[has].max(axis=1) / tot[has]
        assert k == self.nmf_.n_components
        return pd.DataFrame({"topic": topic_u[corpus.codes], "weight": share_u[corpus.codes]})

    def top_words_table(self) -> pd.DataFrame:
        """Topics as rows: ``name``, ``top_words`` (joined), ``coherence``."""
        self._check_fitted()
        return pd.DataFrame(
            {
                "name": [self.topic_names_[i] for i in self.top_words_],
                "top_words": [" ".join(w) for w in self.top_words_.values()],
                "coherence": self.coherence_.round(3).to_numpy(),
            },
            index=pd.Index(list(self.top_words_), name="topic"),
        )


def match_planted_topics(top_words: dict[int, list[str]], planted: dict[str, list[str]], top: int = 5) -> pd.DataFrame:
    """Pair planted topics with found topics by the overlap of their words (Hungarian assignment).

    Parameters
    ----------
    top_words : dict
        Found topic → top words (:attr:`ChatTopics.top_words_`).
    planted : dict
        Planted topic name → its characteristic words.
    top : int
        How many of each found topic's top words are compared.

    Returns
    -------
    DataFrame
        Per planted topic: ``topic`` (found, −1 if unmatched), ``overlap`` (of the found topic's ``top`` words, how
        many are planted words of this topic), ``purity`` (``overlap / top``).

    Examples
    --------
    >>> found = {0: ["快递", "发货"], 1: ["面膜", "补水"]}
    >>> match_planted_topics(found, {"skin": ["面膜", "补水"], "ship": ["快递"]}, 2)
          topic  overlap  purity
    skin      1        2     1.0
    ship      0        1     0.5
    """
    from scipy.optimize import linear_sum_assignment

    names = list(planted)
    found = list(top_words)
    ov = np.array([[len(set(top_words[f][:top]) & set(planted[p])) for f in found] for p in names])
    r, c = linear_sum_assignment(-ov)
    out = pd.DataFrame({"topic": -1, "overlap": 0, "purity": 0.0}, index=names)
    for i, j in zip(r, c, strict=True):
        out.loc[names[i], ["topic", "overlap", "purity"]] = [found[j], ov[i, j], ov[i, j] / top]
    return out.astype({"topic": int, "overlap": int, "purity": float})


# --- when topics come up -----------------------------------------------------------------------------------------


def topic_hours(topic: np.ndarray | pd.Series, sent_at: pd.Series | np.ndarray, k: int) -> pd.DataFrame:
    """Messages per topic (rows 0 … k−1, then −1 for no topic) and hour of day (columns 0–23).

    Examples
    --------
    >>> times = pd.to_datetime(["2025-01-01 08:10"] * 2 + ["2025-01-01 21:00"] * 2)
    >>> topic_hours(np.array([0, 0, 1, -1]), times, 2)[[8, 21]].to_dict("index")
    {0: {8: 2, 21: 0}, 1: {8: 0, 21: 1}, -1: {8: 0, 21: 1}}
    """
    t = np.asarray(topic).astype(np.int64)
    h = pd.DatetimeIndex(np.asarray(sent_at)).hour.to_numpy()
    row = np.where(t < 0, k, t)
    grid = np.bincount(row * 24 + h, minlength=(k + 1) * 24).reshape(k + 1, 24)
    return pd.DataFrame(grid, index=pd.Index([*range(k), NO_TOPIC], name="topic"), columns=range(24))


def topic_peaks(grid: pd.DataFrame, names: dict[int, str] | None = None) -> pd.DataFrame:
    """Each topic's peak hour, its share of the topic's messages, and how over-represented the topic is then.

    ``index`` = the topic's share of all messages at its peak hour ÷ its share of all messages (1 = no more than
    usual): a topic whose peak is the chat's general peak (lunch, 21:00) has an index near 1.

    ``relative_peak_hour`` is the hour at which the topic is most over-represented (its share of that hour's
    messages ÷ its share of all messages is highest): the busy hours of the whole chat do not pull it, so it says
    when a topic *dominates* the conversation — the hour to post about it.

    Returns
    -------
    DataFrame
        Per topic (no-topic row left out): ``name``, ``messages``, ``peak_hour``, ``peak_share``, ``index``,
        ``relative_peak_hour``.
    """
    g = grid.drop(index=NO_TOPIC, errors="ignore")
    total_hour = grid.sum(axis=0)
    total = float(total_hour.sum())
    rows = []
    for t, r in g.iterrows():
        n = float(r.sum())
        if n == 0:
            rows.append(
                {
                    "topic": t,
                    "messages": 0,
                    "peak_hour": np.nan,
                    "peak_share": np.nan,
                    "index": np.nan,
                    "relative_peak_hour": np.nan,
                }
            )
            continue
        h = int(r.to_numpy().argmax())
        rel = (r / total_hour.where(total_hour > 0)).to_numpy()
        rows.append(
            {
                "topic": t,
                "messages": int(n),
                "peak_hour": h,
                "peak_share": r.iloc[h] / n,
                "index": (r.iloc[h] / total_hour.iloc[h]) / (n / total),
                "relative_peak_hour": int(np.nanargmax(rel)),
            }
        )
    out = pd.DataFrame(rows).set_index("topic")
    if names is not None:
        out.insert(0, "name", [names.get(t, str(t)) for t in out.index])
    return out


def topic_weeks(topic: np.ndarray | pd.Series, sent_at: pd.Series | np.ndarray, k: int) -> pd.DataFrame:
    """Messages per week (Monday-start, rows) and topic (columns 0 … k−1; no-topic messages left out)."""
    t = np.asarray(topic).astype(np.int64)
    stamps = pd.DatetimeIndex(np.asarray(sent_at))
    week = stamps.to_period("W-SUN").start_time
    df = pd.DataFrame({"week": week[t >= 0], "topic": t[t >= 0]})
    out = df.groupby(["week", "topic"]).size().unstack("topic", fill_value=0)
    out = out.reindex(columns=range(k), fill_value=0)
    if len(stamps):  # the days the messages span: a week they cover only in part is not a week of activity
        out.attrs["span"] = (stamps.min().normalize(), stamps.max().normalize())
    return out


# --- topics before purchases -------------------------------------------------------------------------------------


#: Columns of :func:`topics_before_purchase` (also when no message has a whole follow-up window).
PURCHASE_COLUMNS = [
    "topic",
    "name",
    "messages",
    "customers",
    "followed",
    "rate",
    "rate_ci_low",
    "rate_ci_high",
    "baseline_rate",
    "ratio",
    "ratio_ci_low",
    "ratio_ci_high",
    "association",
]


def topics_before_purchase(
    followups: pd.DataFrame, names: dict[int, str] | None = None, alpha: float = 0.05, days: int = 7
) -> pd.DataFrame:
    """How often a topic's messages are followed by a purchase of their sender within ``days``, vs other topics.

    Unit: a customer's message with a topic, sent at least ``days`` before the snapshot (an open window is not
    a non-purchase). Its outcome: the sender placed a paid order within ``days`` after it. Baseline: the same
    rate over the messages of all *other* topics. Messages of one person are not independent, so intervals are
    cluster-robust by customer (linearisation of the ratio estimators; the sum over customers of squared
    influence terms, × G/(G−1)). This is an **association**: it says which talk tends to come before buying,
    not that the talk causes it.

    Parameters
    ----------
    followups : DataFrame
        Per ``user_id`` and ``topic``: ``messages`` and ``followed`` (followed by a purchase) — the engine's
        :func:`helpers.features.messages_followed_by_purchase`. Rows with ``topic`` −1 are ignored.
    names : dict, optional
        Topic names.
    alpha : float
        1 − confidence level.
    days : int
        The window, for the column names only.

    Returns
    -------
    DataFrame
        Per topic: ``name``, ``messages``, ``customers``, ``followed``, ``rate`` with ``rate_ci_low`` /
        ``rate_ci_high``, ``baseline_rate`` (other topics), ``ratio`` (rate ÷ baseline) with ``ratio_ci_low`` /
        ``ratio_ci_high``, and ``association`` (``higher``, ``lower`` or ``no clear difference``); sorted by ratio.
    """
    f = followups[followups["topic"] >= 0]
    if f.empty:  # no topic message with a whole follow-up window (or no topic words): the same columns, no rows
        return _with_definition(pd.DataFrame(columns=PURCHASE_COLUMNS).set_index("topic"), days)
    n = f.pivot_table(index="user_id", columns="topic", values="messages", aggfunc="sum", fill_value=0)
    y = f.pivot_table(index="user_id", columns="topic", values="followed", aggfunc="sum", fill_value=0)
    y = y.reindex(columns=n.columns, fill_value=0)
    n_all, y_all = n.sum(axis=1).to_numpy(float), y.sum(axis=1).to_numpy(float)
    g = len(n)
    z = norm.ppf(1 - alpha / 2)
    adj = g / (g - 1) if g > 1 else np.nan
    rows = []
    for t in n.columns:
        nt, yt = n[t].to_numpy(float), y[t].to_numpy(float)
        nb, yb = n_all - nt, y_all - yt
        big_n, big_y, big_nb, big_yb = nt.sum(), yt.sum(), nb.sum(), yb.sum()
        r = big_y / big_n if big_n else np.nan
        rb = big_yb / big_nb if big_nb else np.nan
        se_r = np.sqrt(adj * np.sum((yt - r * nt) ** 2)) / big_n if big_n else np.nan
        ratio = r / rb if rb and rb > 0 else np.nan
        if big_y > 0 and big_yb > 0:
            infl = (yt - r * nt) / big_y - (yb - rb * nb) / big_yb
            se_log = np.sqrt(adj * np.sum(infl**2))
            lo, hi = ratio * np.exp(-z * se_log), ratio * np.exp(z * se_log)
        else:
            lo = hi = np.nan
        verdict = "higher" if lo > 1 else "lower" if hi < 1 else "no clear difference"
        rows.append(
            {
                "topic": int(t),
                "name": (names or {}).get(int(t), str(t)),
                "messages": int(big_n),
                "customers": int((nt > 0).sum()),
                "followed": int(big_y),
                "rate": r,
                "rate_ci_low": max(0.0, r - z * se_r),
                "rate_ci_high": min(1.0, r + z * se_r),
                "baseline_rate": rb,
                "ratio": ratio,
                "ratio_ci_low": lo,
                "ratio_ci_high": hi,
                "association": verdict,
            }
        )
    return _with_definition(pd.DataFrame(rows).set_index("topic").sort_values("ratio", ascending=False), days)


def _with_definition(out: pd.DataFrame, days: int) -> pd.DataFrame:
    out.attrs["definition"] = (
        f"rate = share of a topic's customer messages followed by a paid order of the sender within {days} days "
        f"(messages sent at least {days} days before the snapshot); baseline = the same over all other topics; "
        "association, not causation"
    )
    return out


# --- plots -------------------------------------------------------------------------------------------------------


def plot_k_selection(scores: pd.DataFrame, chosen: int | None = None, ax=None, lang: str = "zh"):
    """Topic quality, coherence and diversity per candidate ``k``; the chosen ``k`` marked.

    Returns
    -------
    Axes
    """
    tx = _t(lang)
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.8))
    ax.plot(scores.index, scores["quality"], marker="o", label=tx["quality"])
    ax.plot(scores.index, scores["coherence"], ls="--", label=tx["coherence"])
    ax.plot(scores.index, scores["diversity"], ls=":", label=tx["diversity"])
    if chosen is not None:
        ax.axvline(chosen, color="grey", lw=1)
        ax.annotate(f"{tx['chosen']} k={chosen}", (chosen, ax.get_ylim()[1]), va="top", ha="left", fontsize="small")
    ax.set_xlabel(tx["k"])
    ax.set_title(tx["k_title"])
    ax.legend(fontsize="small")
    return ax


def plot_topic_hours(grid: pd.DataFrame, names: dict[int, str] | None = None, ax=None, lang: str = "zh"):
    """Heatmap of topic × hour of day, each topic's row as shares of its messages (so peaks compare).

    Returns
    -------
    Axes
    """
    import seaborn as sns

    tx = _t(lang)
    g = grid.drop(index=NO_TOPIC, errors="ignore")
    share = g.div(g.sum(axis=1).where(g.sum(axis=1) > 0), axis=0)
    share.index = [(names or {}).get(t, str(t)) for t in share.index]
    if ax is None:
        _, ax = plt.subplots(figsize=(11, 0.45 * len(share) + 1.5))
    sns.heatmap(share, cmap="rocket_r", ax=ax, cbar_kws={"label": tx["share"]})
    ax.set_xlabel(tx["hour"])
    ax.set_ylabel(tx["topic"])
    ax.set_title(tx["hours_title"])
    return ax


def plot_topic_trends(weekly: pd.DataFrame, names: dict[int, str] | None = None, ax=None, lang: str = "zh"):
    """Messages per topic and week, one line per topic; weeks the messages cover only in part are left out.

    Returns
    -------
    Axes
    """
    from helpers.plotting import date_axis

    tx = _t(lang)
    if ax is None:
        _, ax = plt.subplots()
    if "span" in weekly.attrs:  # the first and last weeks the messages cover in part would read as a fall
        weekly = weekly[whole_weeks(weekly.index, *weekly.attrs["span"])]
    for t in weekly.columns:
        ax.plot(weekly.index, weekly[t], label=(names or {}).get(t, str(t)))
    date_axis(ax, lang)
    ax.set_xlabel(tx["week"])
    ax.set_ylabel(tx["messages_week"])
    ax.set_title(tx["trends_title"])
    ax.legend(fontsize="x-small", ncol=2)
    return ax


def plot_topic_purchase(table: pd.DataFrame, ax=None, lang: str = "zh"):
    """Ratio of 7-day purchase rates (topic ÷ other topics) with intervals; 1 = no difference.

    Returns
    -------
    Axes
    """
    tx = _t(lang)
    t = table.iloc[::-1]
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 0.45 * len(t) + 1.5))
    y = np.arange(len(t))
    colors = ["#c44e52" if a == "higher" else "#4c72b0" if a == "lower" else "#8c8c8c" for a in t["association"]]
    ax.errorbar(
        t["ratio"],
        y,
        xerr=[t["ratio"] - t["ratio_ci_low"], t["ratio_ci_high"] - t["ratio"]],
        fmt="none",
        ecolor="#8c8c8c",
        capsize=3,
    )
    ax.scatter(t["ratio"], y, c=colors, zorder=3)
    ax.axvline(1.0, color="black", lw=0.8)
    ax.set_yticks(y, t["name"])
    ax.set_xscale("log")
    # 0.8, 0.9, 1 — not 8 × 10⁻¹; minor ticks are labelled only when the axis spans less than a factor of 10
    narrow = lambda: np.divide(*ax.get_xlim()[::-1]) < 10  # noqa: E731
    ax.xaxis.set_major_formatter(mpl.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(mpl.ticker.FuncFormatter(lambda v, _: f"{v:g}" if narrow() else ""))
    ax.set_xlabel(tx["ratio"])
    ax.set_title(tx["purchase_title"])
    return ax


# --- sentences and tables for the page ---------------------------------------------------------------------------


def corpus_text(notes: dict, corpus: SegmentedCorpus, lang: str = "zh") -> str:
    """Return the sentence saying which messages were analysed (from :func:`chat_lines` notes and the corpus)."""
    return TEXT["lines"][lang].format(
        kept=f"{notes['kept']:,}",
        messages=f"{notes['messages']:,}",
        not_text=f"{notes.get('not_text', 0):,}",
        recalled=f"{notes.get('recalled', 0) + notes.get('recall_notices', 0):,}",
        staff=f"{notes.get('staff_messages', 0):,}",
        unique=f"{corpus.n_unique:,}",
        vocab=f"{len(corpus.vocabulary):,}",
    )


def chosen_text(model: ChatTopics, lang: str = "zh") -> str:
    """Return the sentence giving the chosen number of topics and its quality."""
    p = model.params_
    return TEXT["chosen_k"][lang].format(
        k=p["k"], quality=f"{p['quality']:.3f}", coherence=f"{p['coherence']:.3f}", diversity=f"{p['diversity']:.2f}"
    )


def purchase_text(table: pd.DataFrame, lang: str = "zh") -> str:
    """Return the sentence naming the topics more often followed by a purchase (:func:`topics_before_purchase`)."""
    higher = table.loc[table["association"] == "higher", "name"].tolist()
    if not higher:
        return TEXT["purchase_none"][lang]
    return TEXT["purchase"][lang].format(higher=("、" if lang == "zh" else "; ").join(higher))


def latest_keywords(keywords: pd.DataFrame, groups: Iterable[str] | None = None) -> pd.DataFrame:
    """Each group's keywords in its latest week with messages (from :func:`group_week_keywords`).

    Examples
    --------
    >>> weeks = pd.to_datetime(["2025-01-06", "2025-01-13", "2025-01-13"])
    >>> kw = pd.DataFrame({"group_id": ["g", "g", "g"], "week": weeks, "rank": [1, 1, 2],
    ...                    "keyword": ["a", "b", "c"], "score": [1.0, 0.9, 0.5], "messages": [3, 4, 4]})
    >>> latest_keywords(kw).to_dict("records")
    [{'group_id': 'g', 'week': Timestamp('2025-01-13 00:00:00'), 'messages': 4, 'keyword': 'b c'}]
    """
    kw = keywords if groups is None else keywords[keywords["group_id"].isin(list(groups))]
    last = kw[kw["week"] == kw.groupby("group_id")["week"].transform("max")].sort_values(["group_id", "rank"])
    out = last.groupby(["group_id", "week", "messages"], as_index=False)["keyword"].agg(" ".join)
    if groups is not None:
        order = {g: i for i, g in enumerate(groups)}
        out = out.sort_values("group_id", key=lambda s: s.map(order)).reset_index(drop=True)
    return out


def recovery_table(model: ChatTopics, peaks: pd.DataFrame, planted: dict, top: int = 5) -> pd.DataFrame:
    """Planted topics (simulated data) beside the found topic they match, with planted and found peak hours.

    Parameters
    ----------
    model : ChatTopics
        Fitted.
    peaks : DataFrame
        :func:`topic_peaks` of the model's topics.
    planted : dict
        ``truth["chat"]["topics"]``: name → ``words``, ``peak_hour`` and ``label``.
    top : int
        Top words compared.

    Returns
    -------
    DataFrame
        Per planted topic (its label): ``topic`` (found name; ``—`` when no topic matches), ``overlap``, ``purity``,
        ``planted_peak``, ``relative_peak_hour``.
    """
    match = match_planted_topics(model.top_words_, {k: v["words"] for k, v in planted.items()}, top)
    found = match["topic"]
    return pd.DataFrame(
        {
            "planted": [planted[k].get("label", k) for k in match.index],
            "topic": [model.topic_names_.get(int(t), "—") for t in found],
            "overlap": match["overlap"].to_numpy(),
            "purity": match["purity"].to_numpy(),
            "planted_peak": [planted[k]["peak_hour"] for k in match.index],
            "relative_peak_hour": [peaks["relative_peak_hour"].get(int(t), np.nan) for t in found],
        },
        index=pd.Index(list(match.index), name="key"),
    )
