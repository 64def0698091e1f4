"""A realistic export of the old system, made deterministically (same seed, same files).

`flask migration sample DIR` writes it; the committed set in ebiz/migration/sample/ is
`write_sample(dir)` with the defaults, and the demo imports it. `faults=True` adds one row of
each deliberate fault, each named by its `legacy_id`/`order_ref` (FAULT-...), so a test can
check the report names every one; the control file counts them like the old system would.

The demo accounts (README "Legacy migration") come first and are fixed.
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

from .importer import BALANCE_COLUMNS, CONTROL_COLUMNS, CUSTOMER_COLUMNS, FILES, ORDER_COLUMNS

DEMO_SKUS = ["CAD-SGR-PTG", "CAD-JHR-JB", "SCP-SGR", "SCP-SBH", "TOPO-3757", "BND-PRK", "PRT-SEM-750K",
             "PRT-3757", "PRT-ATLAS"]
GIVEN = ["Aminah", "Siti", "Nurul", "Farah", "Mei Ling", "Kavitha", "Ahmad", "Muhammad", "Hafiz", "Wei Jie",
         "Rajesh", "Azlan", "Zainab", "Lim", "Suresh", "Faridah", "Daniel", "Nadia"]
FAMILY = ["Hassan", "Abdullah", "Tan", "Lee", "Ismail", "Rahman", "Wong", "Kumar", "Yusof", "Ng", "Omar"]
STATES = ["Kuala Lumpur", "Selangor", "Johor", "Pulau Pinang", "Perak", "Sabah", "Sarawak", "Kedah"]
DEMO_CUSTOMERS = [
    # legacy_id, kind, name, email, mykad/passport/company, balance, verified
    dict(legacy_id="L-100001", kind="individual", full_name="Aminah binti Hassan",
         email="aminah.hassan@example.my", phone="+60 12-345 6789", mykad="850312145566",
         address="12 Jalan Dato Onn, 50480 Kuala Lumpur", counter_verified="Y", created_on="2014-03-02",
         balance="250.00"),
    dict(legacy_id="L-100002", kind="company", full_name="Tan Wei Jie", email="admin@tanukur.example.my",
         phone="+60 3-7956 1122", company_reg_no="201501034567", company_name="Tan Ukur Sdn. Bhd.",
         rep_mykad="780505105533", address="3 Jalan SS2/24, 47300 Petaling Jaya", counter_verified="N",
         created_on="2016-07-19", balance="1200.50"),
    # One person, two old accounts (same MyKad): migrating either brings both.
    dict(legacy_id="L-100003", kind="individual", full_name="Rajesh a/l Kumar", email="rajesh.kumar@example.my",
         phone="+60 16-220 3344", mykad="820715105123", address="8 Lorong Bunga, 10450 George Town",
         counter_verified="Y", created_on="2012-01-10", balance="40.00"),
    dict(legacy_id="L-100004", kind="individual", full_name="Rajesh Kumar", email="rajesh.k@example.my",
         phone="", mykad="820715105123", address="", counter_verified="N", created_on="2019-09-09",
         balance="15.25"),
    dict(legacy_id="L-100005", kind="foreigner", full_name="Hiroshi Tanaka", email="h.tanaka@example.jp",
         phone="+81 90 1234 5678", passport_no="TK1234567", nationality="JP", address="Tokyo",
         counter_verified="N", created_on="2020-02-20", balance="0.00"),
]


def _mykad(rng: random.Random, n: int) -> str:
    return f"{rng.randint(50, 99):02d}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}14{n % 10000:04d}"


def _customer(rng: random.Random, n: int) -> dict:
    given, family = rng.choice(GIVEN), rng.choice(FAMILY)
    row = dict(legacy_id=f"L-{200000 + n}", full_name=f"{given} {family}",
               email=f"{given.lower().replace(' ', '')}.{family.lower()}.{n}@example.my",
               phone=f"+60 1{rng.randint(0, 9)}-{rng.randint(100, 999)} {rng.randint(1000, 9999)}",
               address=f"{rng.randint(1, 99)} Jalan {rng.choice(FAMILY)}, {rng.choice(STATES)}",
               counter_verified=rng.choice("YNN"), created_on=f"20{rng.randint(5, 24):02d}-{rng.randint(1, 12):02d}-"
                                                              f"{rng.randint(1, 28):02d}")
    pick = rng.random()
    if pick < 0.8:
        row.update(kind="individual", mykad=_mykad(rng, n))
    elif pick < 0.9:
        row.update(kind="foreigner", passport_no=f"X{n:08d}", nationality=rng.choice(["SG", "ID", "TH", "GB"]))
    else:
        row.update(kind="company", company_reg_no=f"201{rng.randint(0, 9)}0{rng.randint(1, 6)}{n % 1000000:06d}",
                   company_name=f"{family} Geomatik Sdn. Bhd.", rep_mykad=_mykad(rng, n + 5000))
    return row


FAULTS_CUSTOMERS = [
    dict(legacy_id="FAULT-MYKAD", kind="individual", full_name="Bad MyKad", email="bad.mykad@example.my",
         mykad="901399145678", counter_verified="N"),  # month 13
    dict(legacy_id="FAULT-EMAIL", kind="individual", full_name="Duplicate Email",
         email="aminah.hassan@example.my", mykad="880808145599", counter_verified="N"),
    dict(legacy_id="FAULT-KIND", kind="person", full_name="Unknown Kind", email="unknown.kind@example.my",
         mykad="880808145598", counter_verified="N"),
    dict(legacy_id="FAULT-NAME", kind="individual", full_name="", email="no.name@example.my",
         mykad="880808145597", counter_verified="N"),
    dict(legacy_id="FAULT-DATE", kind="individual", full_name="Bad Date", email="bad.date@example.my",
         mykad="880808145596", counter_verified="N", created_on="2019-02-30"),
    dict(legacy_id="FAULT-VERIFIED", kind="individual", full_name="Maybe Verified",
         email="maybe@example.my", mykad="880808145595", counter_verified="maybe"),
]


def write_sample(directory: Path, *, customers: int = 300, orders_per_customer: float = 1.5, seed: int = 15,
                 faults: bool = True, skus: list[str] | None = None) -> dict[str, int]:
    """Write customers.csv, balances.csv, orders.csv and control.csv; returns the row counts."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    skus = skus or DEMO_SKUS
    totals = {"balances": 0, "orders": 0}
    rows = {"customers": 0, "balances": 0, "orders": 0}
    files = {name: (directory / FILES[name]).open("w", newline="", encoding="utf-8") for name in rows}
    try:
        out = {name: csv.DictWriter(files[name], fieldnames=cols, restval="") for name, cols in
               (("customers", CUSTOMER_COLUMNS), ("balances", BALANCE_COLUMNS), ("orders", ORDER_COLUMNS))}
        for w in out.values():
            w.writeheader()

        def emit(name: str, row: dict, amount: str | None = None) -> None:
            out[name].writerow(row)
            rows[name] += 1
            if amount is not None:
                text = amount.strip()
                try:
                    sen = round(float(text) * 100)
                except ValueError:
                    return
                totals[name] += sen

        def order(n: int, legacy_id: str, ref: str | None = None, items: str | None = None,
                  total: str | None = None) -> None:
            picked = rng.sample(skus, rng.randint(1, 3))
            row = dict(order_ref=ref or f"OLD-{n:07d}", legacy_id=legacy_id,
                       ordered_on=f"20{rng.randint(10, 24):02d}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                       items=items or "|".join(f"{s}*{rng.randint(1, 3)}" for s in picked),
                       total=total or f"{rng.randint(10, 900)}.{rng.randint(0, 99):02d}",
                       status=rng.choice(["paid", "paid", "paid", "cancelled", "refunded"]))
            emit("orders", row, row["total"])

        order_no = 1
        for demo in DEMO_CUSTOMERS:
            emit("customers", {k: v for k, v in demo.items() if k != "balance"})
            emit("balances", dict(legacy_id=demo["legacy_id"], balance=demo["balance"], as_of="2026-11-30"),
                 demo["balance"])
            for _ in range(2):
                order(order_no, demo["legacy_id"])
                order_no += 1
        if faults:
            for row in FAULTS_CUSTOMERS:
                emit("customers", row)
        orders_due = 0.0
        for n in range(1, customers - len(DEMO_CUSTOMERS) - (len(FAULTS_CUSTOMERS) if faults else 0) + 1):
            row = _customer(rng, n)
            emit("customers", row)
            if rng.random() < 0.6:
                amount = f"{rng.randint(0, 2000)}.{rng.randint(0, 99):02d}"
                emit("balances", dict(legacy_id=row["legacy_id"], balance=amount, as_of="2026-11-30"), amount)
            orders_due += orders_per_customer
            while orders_due >= 1:
                order(order_no, row["legacy_id"])
                order_no += 1
                orders_due -= 1
        if faults:
            emit("balances", dict(legacy_id="L-100005", balance="-12.00", as_of="2026-11-30"), "-12.00")
            emit("balances", dict(legacy_id="L-100001", balance="5.00", as_of="2026-11-30"), "5.00")
            emit("balances", dict(legacy_id="FAULT-NOBODY", balance="33.00", as_of="2026-11-30"), "33.00")
            emit("balances", dict(legacy_id="FAULT-MYKAD", balance="7.50", as_of="2026-11-30"), "7.50")
            order(order_no, "L-100001", ref="FAULT-PRODUCT", items="NO-SUCH-MAP*1", total="10.00")
            order(order_no + 1, "FAULT-NOBODY", ref="FAULT-CUSTOMER", total="20.00")
            order(order_no + 2, "L-100001", ref="FAULT-QTY", items="CAD-SGR-PTG*0", total="30.00")
            order(order_no + 3, "L-100001", ref="OLD-0000001", total="40.00")  # a reference used twice
    finally:
        for f in files.values():
            f.close()
    with (directory / FILES["control"]).open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(CONTROL_COLUMNS)
        w.writerow(["customers.csv", rows["customers"], ""])
        w.writerow(["balances.csv", rows["balances"], f"{totals['balances'] / 100:.2f}"])
        w.writerow(["orders.csv", rows["orders"], f"{totals['orders'] / 100:.2f}"])
    return rows
