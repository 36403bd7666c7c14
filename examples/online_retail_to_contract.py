"""Map a real shop export into the workbook's data contract: UCI Online Retail as the worked example.

Copy this file to map your own export (Youzan 有赞, Shopify, Weidian, an ERP): the three steps are the same.

1. **orders** — one row per order: ``order_id``, ``user_id``, ``ordered_at``, ``amount``, ``status``.
   Online Retail has one row per invoice *line*, so lines are summed per invoice. Cancellation invoices (their
   number starts with ``C``) are refunds: status ``refunded`` and the refunded amount as a positive number. The
   workbook nets them against the customer's latest purchase at or before the refund (docs/data_contract.md).
2. **contacts** — one row per customer: ``user_id``, ``added_at``, ``channel`` (and ``removed_at`` if your system
   records deletions). Online Retail has no add date, no channel and no deletions: a customer is "added" at their
   first invoice, the channel stands in as the customer's market (UK / EU / rest of world) — replace it with your real
   acquisition channel — and ``removed_at`` is left out, so the report says deletion is *not measured* rather than 0.
3. **drop what cannot be a contact's purchase** and say how much: Online Retail lines without a ``CustomerID``
   (guest checkouts, adjustments) belong to nobody.

Amounts stay in the export's currency (pounds sterling here): set ``currency: £`` in the params file, or the pages
show them beside ¥.

Usage::

    python examples/online_retail_to_contract.py ../shared/data/online_retail/online_retail.parquet exports/retail
    python -m helpers.run --params my_retail.yaml   # run_name: online_retail, data_dir: exports/retail
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

EU = {
    "Austria", "Belgium", "Channel Islands", "Cyprus", "Czech Republic", "Denmark", "EIRE", "European Community",
    "Finland", "France", "Germany", "Greece", "Iceland", "Italy", "Lithuania", "Malta", "Netherlands", "Norway",
    "Poland", "Portugal", "Spain", "Sweden", "Switzerland",
}  # fmt: skip


def market(country: str) -> str:
    """Return the market a country belongs to: the stand-in for an acquisition channel."""
    if country == "United Kingdom":
        return "uk"
    return "eu" if country in EU else "rest_of_world"


def to_contract(lines: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Turn Online Retail invoice lines into the contract's ``contacts`` and ``orders``.

    Returns
    -------
    (contacts, orders, counts)
        The two tables and what was dropped, for the record.
    """
    known = lines[lines["CustomerID"].notna()]
    counts = {"lines": len(lines), "lines_without_customer": int(lines["CustomerID"].isna().sum())}
    known = known.assign(
        user_id=known["CustomerID"].astype("int64").astype(str),
        line_amount=known["Quantity"] * known["UnitPrice"],
    )
    orders = known.groupby("InvoiceNo", as_index=False).agg(
        user_id=("user_id", "first"), ordered_at=("InvoiceDate", "min"), amount=("line_amount", "sum")
    )
    refund = orders["InvoiceNo"].str.startswith("C")
    orders = orders.assign(
        order_id=orders["InvoiceNo"],
        status=refund.map({True: "refunded", False: "paid"}),
        amount=orders["amount"].abs().round(2),  # a cancellation's lines are negative: the refund is positive
    )[["order_id", "user_id", "ordered_at", "amount", "status"]]
    first = known.sort_values("InvoiceDate").groupby("user_id", as_index=False).first()
    contacts = pd.DataFrame(
        {"user_id": first["user_id"], "added_at": first["InvoiceDate"], "channel": first["Country"].map(market)}
    )
    counts.update(customers=len(contacts), invoices=len(orders), refunds=int(refund.sum()))
    return contacts, orders, counts


def main(argv: list[str] | None = None) -> int:
    """Read the Online Retail Parquet file and write ``contacts.csv`` and ``orders.csv`` into a folder."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("source", help="online_retail.parquet (UCI dataset 352)")
    ap.add_argument("out", help="folder to write contacts.csv and orders.csv into")
    args = ap.parse_args(argv)
    contacts, orders, counts = to_contract(pd.read_parquet(args.source))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    contacts.to_csv(out / "contacts.csv", index=False)
    orders.to_csv(out / "orders.csv", index=False)
    print(
        f"{counts['customers']:,} contacts and {counts['invoices']:,} orders ({counts['refunds']:,} refunds) "
        f"written to {out}; {counts['lines_without_customer']:,} of {counts['lines']:,} invoice lines have no "
        "customer and are left out (amounts in pounds sterling: set currency: £)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
