"""Map a plain transaction log into the workbook's data contract: the CDNOW cohort as the worked example.

CDNOW (Fader, Hardie & Lee 2005) is the shape many old exports have: one line per transaction with a customer id, a
date and an amount, for customers who all first bought in one quarter (Q1 1997) and were then followed for 18 months.
Nothing records when a customer became a contact, through which channel, or whether they left.

1. **orders** — one row per transaction: ``order_id`` (the line number: CDNOW has none), ``user_id``, ``ordered_at``
   (the date at noon: the log has no time of day) and ``amount``. Zero-dollar lines are kept as the log has them.
2. **contacts** — one row per customer, "added" at the first transaction, all in one channel (``cdnow``). The report
   then says first-order conversion is not a measurement (add times are first orders) and deletion is not measured
   (no ``removed_at``), rather than showing 100 % and 0 %.

With the report's default window (the year before ``as_of``) nobody is added in the window: 01 says when the
contacts were added instead of showing empty tables; 02 names the clusters of long-silent buyers *at risk*.
Amounts are US dollars and are not converted: set ``currency: $`` so the pages do not show them as yuan. The log
records no refund, so refunds are *not measured* (not ¥0).

Usage::

    python examples/cdnow_to_contract.py ../shared/data/cdnow/CDNOW_master.txt exports/cdnow
    python -m helpers.run --params my_cdnow.yaml   # data_dir: exports/cdnow, as_of: 1998-07-01, currency: $
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd


def to_contract(log: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Turn CDNOW lines (``customer_id date number_of_cds dollar_value``) into ``contacts`` and ``orders``.

    Examples
    --------
    >>> log = pd.DataFrame({"customer_id": [7, 7], "date": [19970102, 19970330], "dollar_value": [20.76, 0.0]})
    >>> contacts, orders = to_contract(log)
    >>> contacts.to_dict("records")
    [{'user_id': '7', 'added_at': Timestamp('1997-01-02 12:00:00'), 'channel': 'cdnow'}]
    >>> orders["order_id"].tolist(), orders["amount"].tolist()
    (['T0', 'T1'], [20.76, 0.0])
    """
    orders = pd.DataFrame(
        {
            "order_id": [f"T{i}" for i in range(len(log))],
            "user_id": log["customer_id"].astype(str).to_numpy(),
            "ordered_at": pd.to_datetime(log["date"].astype(str), format="%Y%m%d") + pd.Timedelta(hours=12),
            "amount": log["dollar_value"].astype(float).to_numpy(),
        }
    )
    first = orders.groupby("user_id", sort=True)["ordered_at"].min()
    contacts = pd.DataFrame({"user_id": first.index, "added_at": first.to_numpy(), "channel": "cdnow"})
    return contacts, orders


def main(argv: list[str] | None = None) -> int:
    """Read ``CDNOW_master.txt`` and write ``contacts.csv`` and ``orders.csv`` into the output folder."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("log", type=Path, help="CDNOW_master.txt (whitespace-separated, with a header line)")
    parser.add_argument("out", type=Path, help="folder for contacts.csv and orders.csv")
    args = parser.parse_args(argv)
    contacts, orders = to_contract(pd.read_csv(args.log, sep=r"\s+"))
    args.out.mkdir(parents=True, exist_ok=True)
    contacts.to_csv(args.out / "contacts.csv", index=False)
    orders.to_csv(args.out / "orders.csv", index=False)
    print(f"{len(contacts):,} contacts, {len(orders):,} orders → {args.out} (amounts in US dollars: set currency: $)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
