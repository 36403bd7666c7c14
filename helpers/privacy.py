"""Personal data: the pseudonymisation key, keyed pseudonyms, masking of free text and a scanner for outputs.

Privacy by construction:

* Identifiers that are personal data (phone numbers in any spelling, WeChat ``wxid_`` ids, e-mail addresses, ID-card
  numbers, names) are replaced at load by **keyed** pseudonyms, ``pii_`` + HMAC-SHA256(key, identifier). Without the
  key nobody can enumerate the 10^10 mobile numbers to reverse them; with the same key the same person gets the same
  pseudonym in every table and every run.
* The key never enters a notebook, a parameter file, a report or a log. :func:`pii_key` reads it from the environment
  (``SIYU_PII_KEY``) or from a local key file (``~/.config/siyu-workbook/pii.key``, or ``SIYU_PII_KEY_FILE``), which
  it creates on first use with permissions 0600. Only :func:`key_id`, a short non-secret fingerprint, is ever shown.
* :data:`DEMO_KEY` is a fixed, public key for the simulated sample data only; the loader refuses it for a folder that
  is not simulator output.
* :func:`mask_text` masks personal data inside free text; :func:`find_personal_data` finds it in any output.

Run ``python -m helpers.privacy init`` to create the key file, ``key-id`` to print the fingerprint of the key in use,
``scan FILE ...`` to list personal data found in files.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import os
import re
import secrets
import sys
import unicodedata
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

__all__ = [
    "DEMO_KEY",
    "KEY_ENV",
    "KEY_FILE_ENV",
    "PSEUDONYMISED_NAME_KINDS",
    "PiiKeyError",
    "canonical_identifier",
    "find_personal_data",
    "is_demo_key",
    "key_file",
    "key_id",
    "mask_text",
    "mask_value",
    "pii_key",
    "pseudonym",
    "pseudonymise_ids",
    "pseudonymise_names",
    "scan_file",
]

#: Environment variable holding the key (64 hex characters, or any text of at least 32 characters).
KEY_ENV = "SIYU_PII_KEY"
#: Environment variable naming the key file (default ``~/.config/siyu-workbook/pii.key``).
KEY_FILE_ENV = "SIYU_PII_KEY_FILE"
DEFAULT_KEY_FILE = "~/.config/siyu-workbook/pii.key"
#: The public demo key: for the simulated sample data only. Anyone can reverse pseudonyms made with it.
DEMO_KEY = b"siyu-workbook PUBLIC DEMO KEY - simulated sample data only - NOT SECRET"
MIN_KEY_BYTES = 16
_HOW = (
    f"run `python -m helpers.privacy init` (creates {DEFAULT_KEY_FILE}, mode 0600; back it up) "
    f"or set {KEY_ENV} to 64 hex characters (python -c 'import secrets; print(secrets.token_hex(32))')"
)


class PiiKeyError(RuntimeError):
    """No usable pseudonymisation key: the one-line message says how to create one."""


# ----------------------------------------------------------------------------------------------------- the key
def key_file() -> Path:
    """Return the key file's path: ``$SIYU_PII_KEY_FILE`` or ``~/.config/siyu-workbook/pii.key``."""
    return Path(os.environ.get(KEY_FILE_ENV) or DEFAULT_KEY_FILE).expanduser()


def _shown(path: Path) -> str:
    """Path as shown in messages: the home folder (which names the user) as ``~``."""
    try:
        return "~/" + str(path.resolve().relative_to(Path.home().resolve()))
    except (ValueError, RuntimeError):
        return str(path)


def _decode_key(text: str, where: str) -> bytes:
    text = text.strip()
    if re.fullmatch(r"(?:[0-9a-fA-F]{2}){16,}", text):
        return bytes.fromhex(text)
    if len(text) >= 2 * MIN_KEY_BYTES:
        return text.encode()
    raise PiiKeyError(f"the pseudonymisation key in {where} is too short ({len(text)} characters): {_HOW}")


def _create_key_file(path: Path) -> bytes:
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # created by a concurrent run meanwhile
        return _read_key_file(path)
    except OSError as err:
        raise PiiKeyError(
            f"cannot create the key file {_shown(path)} ({err.strerror}): set {KEY_ENV} or {KEY_FILE_ENV} instead"
        ) from None
    with os.fdopen(fd, "w") as fh:
        fh.write(secrets.token_hex(32) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    return _read_key_file(path)


def _read_key_file(path: Path) -> bytes:
    try:
        mode = path.stat().st_mode
        if os.name == "posix" and mode & 0o077:
            raise PiiKeyError(
                f"the key file {_shown(path)} can be read by other users (mode {mode & 0o777:o}): "
                f"run `chmod 600 {_shown(path)}`"
            )
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise PiiKeyError(f"cannot read the key file {_shown(path)} ({err.strerror}): {_HOW}") from None
    return _decode_key(text, _shown(path))


def pii_key(demo: bool = False, *, create: bool = True) -> bytes:
    """Return the pseudonymisation key; never print it, pass it as a parameter or store it in a notebook.

    Looked up in this order: the demo key when ``demo`` (simulated sample data only); the ``SIYU_PII_KEY``
    environment variable; the key file (``SIYU_PII_KEY_FILE`` or ``~/.config/siyu-workbook/pii.key``), created
    with 32 random bytes and permissions 0600 on first use when ``create``. Back the file up: another key gives
    other pseudonyms, so ids no longer match earlier reports.

    Parameters
    ----------
    demo : bool
        Return :data:`DEMO_KEY`, the public key for the bundled simulated sample.
    create : bool
        Create the key file when neither the variable nor the file exists.

    Returns
    -------
    bytes
        The key (at least 16 bytes).

    Raises
    ------
    PiiKeyError
        One line saying how to fix it: no key and ``create=False``, a key that is too short, a key file other users
        can read, a key file that cannot be created.

    Examples
    --------
    >>> pii_key(demo=True) == DEMO_KEY
    True
    """
    if demo:
        return DEMO_KEY
    env = os.environ.get(KEY_ENV)
    if env is not None:
        return _decode_key(env, KEY_ENV)
    path = key_file()
    if path.exists():
        return _read_key_file(path)
    if not create:
        raise PiiKeyError(f"no pseudonymisation key for your data: {_HOW}")
    return _create_key_file(path)


def check_key(key: object) -> bytes:
    """Return ``key`` if it is a usable key (bytes, at least 16 of them); else raise :class:`PiiKeyError`."""
    if isinstance(key, str):
        raise PiiKeyError("the key must be bytes from privacy.pii_key(), not a text salt: " + _HOW)
    if not isinstance(key, bytes | bytearray) or len(key) < MIN_KEY_BYTES:
        raise PiiKeyError(f"the pseudonymisation key must be at least {MIN_KEY_BYTES} bytes: {_HOW}")
    return bytes(key)


def is_demo_key(key: bytes) -> bool:
    """Whether ``key`` is the public demo key."""
    return hmac.compare_digest(bytes(key), DEMO_KEY)


def key_id(key: bytes) -> str:
    """Return a short fingerprint of the key that reveals nothing about it, to tell keys apart between runs.

    Examples
    --------
    >>> key_id(DEMO_KEY)
    'demo'
    >>> len(key_id(b"k" * 32)), key_id(b"k" * 32) == key_id(b"k" * 32)
    (10, True)
    """
    if is_demo_key(key):
        return "demo"
    return "k-" + hmac.new(key, b"siyu-workbook key id", hashlib.sha256).hexdigest()[:8]


def pseudonym(value: str, key: bytes) -> str:
    """Return the keyed pseudonym of an identifier in its canonical spelling (see :func:`canonical_identifier`).

    Examples
    --------
    >>> k = b"k" * 32
    >>> pseudonym("13812345678", k)[:4], len(pseudonym("13812345678", k))
    ('pii_', 20)
    >>> pseudonym("+86 138-1234-5678", k) == pseudonym("13812345678", k)
    True
    """
    canon = canonical_identifier(value) or unicodedata.normalize("NFKC", value).strip()
    return "pii_" + hmac.new(key, canon.encode(), hashlib.sha256).hexdigest()[:16]


# ------------------------------------------------------------------------------------- what personal data looks like
_SEP = r"[ \t-]"
_PHONE = (
    r"(?<![\d+.])(?:(?:\+|00)\s?86\s?-?\s?|86\s?-?\s?|\(\+?86\)\s?)?"  # +86 / 0086 / 86- / 86 / (+86)
    rf"1[3-9]\d(?:{_SEP}?\d){{8}}(?!\d|\.\d)"  # 139 9999 9998, 139-9999-9998; not the digits of a decimal
)
_PATTERNS: dict[str, re.Pattern[str]] = {
    "id_card": re.compile(
        r"(?<![0-9A-Za-z.])[1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx](?![0-9A-Za-z])"
    ),
    "bank_card": re.compile(rf"(?<![\d.])(?:62|4\d|5[1-5])\d{{2}}(?:{_SEP}?\d{{4}}){{3}}(?:{_SEP}?\d{{1,3}})?(?!\d)"),
    "phone": re.compile(_PHONE),
    "landline": re.compile(r"(?<![\d])(?:\(0\d{2,3}\)\s?|0\d{2,3}[ -])\d{7,8}(?!\d)"),
    "wechat_id": re.compile(r"(?i)(?<![A-Za-z0-9])wxid_[a-z0-9_-]{4,}"),
    "email": re.compile(r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"),
}
_TOKENS = {k: f"[{k}]" for k in _PATTERNS}
_TOKENS["landline"] = "[phone]"
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def _id_card_ok(s: str) -> bool:
    digits = re.sub(r"\D", "", s[:17])
    total = sum(int(d) * w for d, w in zip(digits, _ID_WEIGHTS, strict=True))
    return "10X98765432"[total % 11] == s[17].upper()


def _luhn_ok(s: str) -> bool:
    digits = [int(d) for d in re.sub(r"\D", "", s)][::-1]
    return sum(d if i % 2 == 0 else (2 * d - 9 if d > 4 else 2 * d) for i, d in enumerate(digits)) % 10 == 0


_VALID = {"id_card": _id_card_ok, "bank_card": _luhn_ok}


def _nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text) if not text.isascii() else text


def find_personal_data(text: str, kinds: Iterable[str] | None = None) -> list[str]:
    """List the personal data found in ``text``: phone numbers in every spelling, WeChat ids, e-mails, ID / bank cards.

    The text is NFKC-normalised first (full-width digits count); matches are returned as normalised. Names cannot
    be recognised by their shape: look for known names separately.

    Parameters
    ----------
    text : str
        Any text: HTML, a notebook's JSON, a CSV, a log.
    kinds : iterable of str, optional
        Subset of ``phone``, ``landline``, ``wechat_id``, ``email``, ``id_card``, ``bank_card`` (default: all).

    Returns
    -------
    list of str
        The matches, in order of kind then position.

    Examples
    --------
    >>> find_personal_data("call +86 139 9999 9998 or 0086-13999999997, wxid_ab12cd; 2025-01-05 10:00")
    ['+86 139 9999 9998', '0086-13999999997', 'wxid_ab12cd']
    >>> find_personal_data("１３８１２３４５６７８")
    ['13812345678']
    >>> find_personal_data("O0000000001, pii_1a2b3c4d5e6f7a8b, 20250105103000, 0.9992287571489434, 15648080824.5")
    []
    """
    text = _nfkc(text)
    out = []
    for kind, pat in _PATTERNS.items():
        if kinds is not None and kind not in kinds:
            continue
        for m in pat.finditer(text):
            if kind not in _VALID or _VALID[kind](m.group(0)):
                out.append(m.group(0))
    return out


def _mask_one(text: str) -> tuple[str, Counter]:
    counts: Counter = Counter()
    text = _nfkc(text)
    for kind, pat in _PATTERNS.items():
        if kind == "email" and "@" not in text or kind == "wechat_id" and "wxid" not in text.lower():
            continue

        def sub(m: re.Match[str], kind: str = kind) -> str:
            if kind in _VALID and not _VALID[kind](m.group(0)):
                return m.group(0)
            counts[_TOKENS[kind].strip("[]")] += 1
            return _TOKENS[kind]

        text = pat.sub(sub, text)
    return text, counts


def mask_value(value: object) -> object:
    """Mask personal data in one value (text); anything else is returned unchanged.

    Examples
    --------
    >>> mask_value("客户 +8613999999999 的订单")
    '客户 [phone] 的订单'
    >>> mask_value(12.5)
    12.5
    """
    return _mask_one(value)[0] if isinstance(value, str) else value


def mask_text(series: pd.Series) -> tuple[pd.Series, dict[str, int]]:
    """Mask personal data in free text: phone numbers (every spelling), WeChat ids, e-mails, ID and bank cards.

    Each unique value is masked once, so a column of repeated labels costs one pass over its distinct values.

    Parameters
    ----------
    series : Series
        Text cells (missing values stay missing).

    Returns
    -------
    masked : Series
        Same index; personal data replaced by ``[phone]``, ``[wechat_id]``, ``[email]``, ``[id_card]``,
        ``[bank_card]``.
    counts : dict
        Replacements per kind, counted per cell.

    Examples
    --------
    >>> m, n = mask_text(pd.Series(["张三 139-9999-9998", "wxid_abc123 联系", None, "门店"]))
    >>> m.tolist(), n
    (['张三 [phone]', '[wechat_id] 联系', None, '门店'], {'phone': 1, 'wechat_id': 1})
    """
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    if not len(uniques):
        return series.copy(), {}
    weights = np.bincount(codes[codes >= 0], minlength=len(uniques))
    masked = np.empty(len(uniques), dtype=object)
    total: Counter = Counter()
    for i, u in enumerate(uniques):
        if isinstance(u, str):
            masked[i], c = _mask_one(u)
            for k, n in c.items():
                total[k] += n * int(weights[i])
        else:
            masked[i] = u
    out = np.where(codes >= 0, masked[np.maximum(codes, 0)], None)
    result = pd.Series(out, index=series.index, dtype=object).where(codes >= 0, series)
    return result, dict(total)


# ------------------------------------------------------------------------------------------------ identifiers
_PHONE_WHOLE = re.compile(rf"(?:(?:\+|00)\s?86\s?-?\s?|86\s?-?\s?|\(\+?86\)\s?)?(1[3-9]\d(?:{_SEP}?\d){{8}})")
_WXID_WHOLE = re.compile(r"(?i)wxid_[a-z0-9_-]{4,}")
_EMAIL_WHOLE = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_PSEUDONYM = r"^pii_[0-9a-f]{16}$"
#: RE2 pattern (Arrow) that every identifier holding personal data matches; exact checks run on the matches only.
ID_CANDIDATE_RE2 = (
    r"(?:^|[^0-9+])(?:(?:\+|00)\s?86\s?-?\s?|86\s?-?\s?|\(\+?86\)\s?)?1[3-9][0-9](?:[ \t-]?[0-9]){8}(?:[^0-9]|$)"
    r"|(?i:wxid_)|@|[0-9]{17}[0-9Xx]"
)


def canonical_identifier(value: str) -> str | None:
    """Return the canonical spelling of an identifier that holds personal data, or ``None`` if it holds none.

    A whole-cell phone number becomes its 11 digits (country code, spaces, dashes and full-width digits removed);
    a WeChat id or e-mail is lower-cased; an id that merely contains a phone number gets that number in 11 digits.

    Examples
    --------
    >>> [canonical_identifier(v) for v in ["+86 139 9999 9998", "0086-13999999998", "86-139-9999-9998"]]
    ['13999999998', '13999999998', '13999999998']
    >>> canonical_identifier("１３９９９９９９９９８"), canonical_identifier("WXID_AbC123")
    ('13999999998', 'wxid_abc123')
    >>> canonical_identifier("ref_13999999998"), canonical_identifier("00013629")
    ('ref_13999999998', None)
    """
    t = _nfkc(value).strip()
    m = _PHONE_WHOLE.fullmatch(t)
    if m:
        return re.sub(r"\D", "", m.group(1))
    if _WXID_WHOLE.fullmatch(t) or _EMAIL_WHOLE.fullmatch(t):
        return t.lower()
    found = False

    def canon(m: re.Match[str]) -> str:
        nonlocal found
        found = True
        return re.sub(r"\D", "", _PHONE_WHOLE.fullmatch(m.group(0).strip()).group(1))

    t2 = _PATTERNS["phone"].sub(canon, t)
    if found or find_personal_data(t2, ("wechat_id", "email", "id_card")):
        return t2
    return None


def pseudonymise_ids(values: pd.Series, key: bytes, mode: str = "detect", arrow: pa.Array | None = None) -> tuple:
    """Replace identifiers that are personal data by keyed pseudonyms.

    Parameters
    ----------
    values : Series
        Identifiers as text (NFKC-normalised, trimmed; missing as NaN / None).
    key : bytes
        The pseudonymisation key (:func:`pii_key`).
    mode : {"detect", "person", "all"}
        ``detect``: ids that hold a phone number (any spelling), WeChat id, e-mail or ID-card number.
        ``person`` (columns naming a person: user, referrer): also ids with non-ASCII letters (names such as
        ``张三``). ``all`` (staff): every id.
    arrow : pyarrow Array, optional
        The same values as an Arrow string array, if the caller has it (saves a conversion).

    Returns
    -------
    values : Series
        Pseudonymised where needed (``pii_`` + 16 hex characters), else unchanged.
    n : int
        Cells replaced.

    Examples
    --------
    >>> v, n = pseudonymise_ids(pd.Series(["00013629", "+86 139 9999 9998", "张三", None]), b"k" * 32, "person")
    >>> [x[:4] if isinstance(x, str) else x for x in v], n
    (['0001', 'pii_', 'pii_', None], 2)
    """
    if arrow is None:
        arrow = pa.array(values.astype("object").to_numpy(), type=pa.string(), from_pandas=True)
    if mode == "all":  # every id, except those that already are pseudonyms (clean tables loaded again)
        hit = pc.and_(pc.is_valid(arrow), pc.invert(pc.fill_null(pc.match_substring_regex(arrow, _PSEUDONYM), False)))
    else:
        hit = pc.fill_null(pc.match_substring_regex(arrow, ID_CANDIDATE_RE2), False)
        if mode == "person":
            hit = pc.or_(hit, pc.fill_null(pc.invert(pc.string_is_ascii(arrow)), False))
    m = bool_mask(hit) & values.notna().to_numpy()
    if not m.any():
        return values, 0
    cand = values[m]
    codes, uniques = pd.factorize(cand)
    repl = np.empty(len(uniques), dtype=object)
    for i, u in enumerate(uniques):
        canon = canonical_identifier(u)
        if canon is None and mode == "person" and not u.isascii():
            canon = u
        if canon is None and mode == "all":
            canon = u
        repl[i] = None if canon is None else "pii_" + hmac.new(key, canon.encode(), hashlib.sha256).hexdigest()[:16]
    new = repl[codes]
    changed = np.array([x is not None for x in new], dtype=bool)
    if not changed.any():
        return values, 0
    out = values.astype("object").copy()
    pos = np.flatnonzero(m)[changed]
    out.iloc[pos] = new[changed]
    return out, int(changed.sum())


#: Kinds of a team's names file whose codes are pseudonymised ids in the clean tables (``staff_id`` always is).
PSEUDONYMISED_NAME_KINDS = frozenset({"staff"})


def pseudonymise_names(names: pd.DataFrame, key: bytes, source: str = "names file") -> tuple[pd.DataFrame, int]:
    """Give a names file's staff rows the codes the clean tables use, and refuse display names holding personal data.

    A team names its staff by its own ids (``staff, ZhangSan, 导购07``), but the clean tables and every page know
    them only by keyed pseudonyms. Each code of a kind in :data:`PSEUDONYMISED_NAME_KINDS` is replaced by its
    pseudonym, spelled as the loader spells it (NFKC, trimmed), unless it already is one; the team's own id is then
    in no file the report writes. A display name is shown on every page and sheet, so one holding a phone number,
    WeChat id, e-mail or ID / bank card number is an error (names cannot be recognised by their shape: choose an
    alias such as a job number).

    Parameters
    ----------
    names : DataFrame
        The names file as text: ``kind, code, zh`` and optionally ``en``.
    key : bytes
        The pseudonymisation key the tables were loaded with (:func:`pii_key`).
    source : str
        The file's name, for the error.

    Returns
    -------
    names : DataFrame
        The same rows, staff codes pseudonymised.
    n : int
        Codes replaced.

    Examples
    --------
    >>> f = pd.DataFrame({"kind": ["staff", "channel"], "code": [" ZhangSan", "poster"], "zh": ["导购07", "海报"]})
    >>> out, n = pseudonymise_names(f, b"k" * 32)
    >>> out["code"].tolist() == [pseudonym("ZhangSan", b"k" * 32), "poster"], n
    (True, 1)
    >>> pseudonymise_names(out, b"k" * 32)[1]  # already pseudonyms: unchanged
    0
    >>> pseudonymise_names(f.assign(zh=["小张 13812345678", "海报"]), b"k" * 32)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: names file, row 2 (kind staff): the display name holds a phone number; every page shows it, ...
    """
    out = names.copy()
    words = {
        **dict.fromkeys(("phone", "landline"), "a phone number"),
        **{"wechat_id": "a WeChat id", "email": "an e-mail address"},
        **{"id_card": "an ID card number", "bank_card": "a bank card number"},
    }
    for i, row in enumerate(out.itertuples(index=False), start=2):  # row 1 is the header
        for col in ("zh", "en"):
            text = str(getattr(row, col, "") or "")
            for kind in words:
                if find_personal_data(text, (kind,)):
                    raise ValueError(
                        f"{source}, row {i} (kind {row.kind.strip()}): the display name holds {words[kind]}; every "
                        "page shows it, so use an alias such as a job number (工号)"
                    )
    kinds = out["kind"].astype(str).str.strip()
    codes = out["code"].astype(str).map(lambda v: unicodedata.normalize("NFKC", v).strip())
    mine = kinds.isin(PSEUDONYMISED_NAME_KINDS) & ~codes.str.fullmatch(_PSEUDONYM.strip("^$"))
    out.loc[mine, "code"] = codes[mine].map(lambda v: pseudonym(v, key))
    return out, int(mine.sum())


def bool_mask(arr: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Return an Arrow boolean array (or chunked array) as a numpy bool array (null -> False)."""
    return np.asarray(pc.fill_null(arr, False).to_numpy(zero_copy_only=False), dtype=bool)


#: RE2 pattern (Arrow) that free text holding personal data matches; masking then runs on the matching values only.
TEXT_CANDIDATE_RE2 = r"[0-9](?:[ \t-]?[0-9]){6}|(?i:wxid_)|@"


# ------------------------------------------------------------------------------------------------------ command line
def scan_file(path: str | Path) -> list[str]:
    """List the personal data found in one output file (:func:`find_personal_data` over its text).

    Parquet and Excel files are read as tables (every sheet); anything else as UTF-8 text (HTML, notebooks, CSV,
    JSON, logs).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        text = pd.read_parquet(path).astype(str).to_csv(index=False)
    elif suffix in (".xlsx", ".xlsm"):
        sheets = pd.read_excel(path, sheet_name=None, header=None, dtype=str)
        text = "\n".join(df.to_csv(index=False) for df in sheets.values())
    else:
        text = path.read_bytes().decode("utf-8", errors="replace")
    return find_personal_data(text)


def main(argv: list[str] | None = None) -> int:
    """Command line: ``init`` (create the key file), ``key-id`` (fingerprint of the key in use), ``scan FILE ...``."""
    ap = argparse.ArgumentParser(prog="python -m helpers.privacy", description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("init", help=f"create the key file ({DEFAULT_KEY_FILE} or ${KEY_FILE_ENV}) if it does not exist")
    sub.add_parser("key-id", help="print the fingerprint of the key in use (never the key)")
    scan = sub.add_parser("scan", help="list personal data found in files (exit 1 if any)")
    scan.add_argument("files", nargs="+", type=Path)
    args = ap.parse_args(argv)
    try:
        if args.cmd == "init":
            existed = os.environ.get(KEY_ENV) is not None or key_file().exists()
            key = pii_key(create=True)
            where = KEY_ENV if os.environ.get(KEY_ENV) is not None else _shown(key_file())
            state = "using the existing" if existed else "created a new"
            print(f"{state} key in {where} (id {key_id(key)}); back it up")
            return 0
        if args.cmd == "key-id":
            print(key_id(pii_key(create=False)))
            return 0
    except PiiKeyError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    found = 0
    for f in args.files:
        hits = scan_file(f)
        found += len(hits)
        for h in hits[:20]:
            print(f"{f}: {h[:4]}…")  # never echo the whole value
    return 1 if found else 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
