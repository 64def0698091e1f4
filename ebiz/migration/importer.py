"""Importing the old system's export (the CSV files of README "Legacy migration").

Invariants:
- Every row is validated before anything is written: `validate` streams the files once and
  returns every fault (file, line, column, why); `import_export` refuses to write while the
  export's own counts or control totals do not hold, then streams the files again and writes
  only the rows that passed (the same checks, in the same order, give the same answer).
- The old system's ids are the keys: a row already imported with the same content is
  "unchanged", with other content "changed" (reported, never written over). Re-running the
  same files therefore changes nothing.
- Rows are written in batches with Core bulk INSERTs, each batch its own transaction: memory
  stays flat whatever the export's size, and a run cut short is finished by running it again.
- Balances are opening postings on the ledger (wallet.service.open_legacy_balances), one per
  customer with a balance, in the same transaction as the row that records it; the run ends by
  comparing what is on the ledger with the export's control total.
- No password column is read: the old system's passwords are never imported.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam, func, insert, select, update

from ..accounts import identity
from ..accounts.models import Kind
from ..audit.service import record
from ..catalog.service import known_skus
from ..clock import utcnow
from ..errors import ValidationError
from ..extensions import db
from ..money import MoneyFormatError, format_sen, parse_ringgit
from ..wallet import service as wallet
from .models import LegacyCustomer, LegacyOrder, LegacyStatus

CUSTOMER_COLUMNS = ["legacy_id", "kind", "full_name", "email", "phone", "mykad", "passport_no", "nationality",
                    "company_reg_no", "company_name", "rep_mykad", "address", "counter_verified", "created_on"]
BALANCE_COLUMNS = ["legacy_id", "balance", "as_of"]
ORDER_COLUMNS = ["order_ref", "legacy_id", "ordered_on", "items", "total", "status"]
CONTROL_COLUMNS = ["file", "rows", "total"]
FILES = {"customers": "customers.csv", "balances": "balances.csv", "orders": "orders.csv",
         "control": "control.csv"}
ORDER_STATUSES = ("paid", "cancelled", "refunded")
YES = {"y", "yes", "1", "true", "ya"}
NO = {"n", "no", "0", "false", "tidak", ""}
BATCH = 1000


@dataclass
class Fault:
    file: str
    line: int
    column: str
    why: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line} [{self.column}] {self.why}"


@dataclass
class FileCounts:
    rows: int = 0
    valid: int = 0
    inserted: int = 0
    unchanged: int = 0
    changed: int = 0
    total_sen: int = 0  # balances and orders: the sum of every amount that could be read
    rejected_sen: int = 0
    changed_sen: int = 0
    imported_sen: int = 0  # balances: what is on the ledger for the accepted rows (new or unchanged)
    unreadable_amounts: int = 0


@dataclass
class Report:
    faults: list[Fault] = field(default_factory=list)
    changed: list[Fault] = field(default_factory=list)  # a row that differs from what was imported before
    counts: dict[str, FileCounts] = field(default_factory=lambda: {k: FileCounts() for k in FILES if k != "control"})
    control: list[str] = field(default_factory=list)  # control-total problems (empty: the totals hold)
    dry_run: bool = True

    @property
    def control_ok(self) -> bool:
        return not self.control


class ExportError(Exception):
    """The export as a whole cannot be read (a file or a column missing)."""


# ------------------------------------------------------------------------------------ reading

def _open(directory: Path, name: str):
    path = directory / FILES[name]
    if not path.is_file():
        raise ExportError(f"{path} is missing")
    return path.open(newline="", encoding="utf-8-sig")


def _rows(directory: Path, name: str, columns: list[str]) -> Iterator[tuple[int, dict]]:
    """(line number, row) of a file, streamed; the header must name every column."""
    with _open(directory, name) as f:
        reader = csv.DictReader(f)
        missing = [c for c in columns if c not in (reader.fieldnames or [])]
        if missing:
            raise ExportError(f"{FILES[name]}: missing column(s) {', '.join(missing)}")
        for row in reader:
            yield reader.line_num, {k: (row.get(k) or "").strip() for k in columns}


def count_rows(directory: Path) -> int:
    """Data rows in the three data files (for a progress bar)."""
    total = 0
    for name in ("customers", "balances", "orders"):
        with _open(directory, name) as f:
            total += max(0, sum(1 for _ in f) - 1)
    return total


def _hash(*parts: object) -> str:
    return hashlib.sha256("\x1f".join("" if p is None else str(p) for p in parts).encode()).hexdigest()


def _date(value: str, column: str, *, required: bool) -> date | None:
    if not value:
        if required:
            raise ValidationError(_l("A date is required (YYYY-MM-DD)."), field=column)
        return None
    try:
        d = date.fromisoformat(value)
    except ValueError:
        raise ValidationError(_l("Not a date: write YYYY-MM-DD."), field=column) from None
    if not date(1900, 1, 1) <= d <= utcnow().date():
        raise ValidationError(_l("The date is outside 1900 to today."), field=column)
    return d


def _signed_amount(value: str, column: str, counts: FileCounts) -> int:
    """The amount in sen, counted in the file's total (negative ones too: they are the old system's
    numbers); a negative or unreadable amount is then refused."""
    text = value.strip()
    negative = text.startswith("-")
    try:
        sen = parse_ringgit(text.removeprefix("-").strip())
    except MoneyFormatError:
        counts.unreadable_amounts += 1
        raise ValidationError(_l("Not an amount in ringgit (for example 12.50)."), field=column) from None
    sen = -sen if negative else sen
    counts.total_sen += sen
    if sen < 0:
        counts.rejected_sen += sen
        raise ValidationError(_l("The amount is negative."), field=column)
    return sen


def _text(row: dict, column: str, limit: int, *, required: bool = False) -> str | None:
    value = " ".join(row[column].split())
    if not value:
        if required:
            raise ValidationError(_l("This column may not be empty."), field=column)
        return None
    if len(value) > limit:
        raise ValidationError(_l("Longer than %(n)d characters.", n=limit), field=column)
    return value


# --------------------------------------------------------------------------------- validation

class _State:
    """What the checks of one run remember: ids and emails seen, and what the database holds."""

    def __init__(self) -> None:
        self.customer_ids: set[str] = set()  # valid customers of this export
        self.emails: dict[str, str] = {}  # email -> legacy id, this export's valid rows
        self.balance_ids: set[str] = set()
        self.order_refs: set[str] = set()
        self.db_customers: dict[str, str] = dict(db.session.execute(
            select(LegacyCustomer.legacy_id, LegacyCustomer.email)).all())  # legacy id -> email
        self.db_emails = {email: lid for lid, email in self.db_customers.items()}
        self.skus = known_skus()

    def customer_known(self, legacy_id: str) -> bool:
        return legacy_id in self.customer_ids or legacy_id in self.db_customers


def _customer(row: dict, st: _State) -> dict:
    """The row as stored (normalised), or ValidationError naming its column."""
    legacy_id = _text(row, "legacy_id", 40, required=True)
    if legacy_id in st.customer_ids:
        raise ValidationError(_l("This old customer id appears twice in the export."), field="legacy_id")
    kind = row["kind"].lower()
    if kind not in set(Kind):
        raise ValidationError(_l("The kind must be individual, foreigner or company."), field="kind")
    out = dict(legacy_id=legacy_id, kind=kind, full_name=_text(row, "full_name", 200, required=True),
               phone=_text(row, "phone", 30), address=_text(row, "address", 500),
               mykad=None, passport_no=None, nationality=None, company_reg_no=None, company_name=None,
               rep_mykad=None)
    email = identity.normalise_email(row["email"])
    other = st.emails.get(email) or st.db_emails.get(email)
    if other is not None and other != legacy_id:
        raise ValidationError(_l("Another old customer (%(id)s) has this email.", id=other), field="email")
    out["email"] = email
    if kind == Kind.INDIVIDUAL:
        out["mykad"] = identity.normalise_mykad(row["mykad"])
    elif kind == Kind.FOREIGNER:
        out["passport_no"] = identity.normalise_passport(row["passport_no"])
        out["nationality"] = identity.normalise_nationality(row["nationality"])
    else:
        out["company_reg_no"] = identity.normalise_company_reg_no(row["company_reg_no"])
        out["company_name"] = _text(row, "company_name", 200, required=True)
        out["rep_mykad"] = identity.normalise_mykad(row["rep_mykad"], field="rep_mykad")
    verified = row["counter_verified"].lower()
    if verified not in YES | NO:
        raise ValidationError(_l("Write Y or N."), field="counter_verified")
    out["counter_verified"] = verified in YES
    out["legacy_created_on"] = _date(row["created_on"], "created_on", required=False)
    out["row_hash"] = _hash(*(out[k] for k in sorted(out)))
    st.customer_ids.add(legacy_id)
    st.emails[email] = legacy_id
    return out


def _balance(row: dict, st: _State, counts: FileCounts) -> dict:
    legacy_id = row["legacy_id"]
    amount = _signed_amount(row["balance"], "balance", counts)
    try:
        if not legacy_id or not st.customer_known(legacy_id):
            raise ValidationError(_l("No such old customer (or the customer's row was rejected)."),
                                  field="legacy_id")
        if legacy_id in st.balance_ids:
            raise ValidationError(_l("A second balance for the same customer."), field="legacy_id")
        _date(row["as_of"], "as_of", required=False)
    except ValidationError:
        counts.rejected_sen += amount
        raise
    st.balance_ids.add(legacy_id)
    return dict(legacy_id=legacy_id, balance_sen=amount, balance_hash=_hash(legacy_id, amount))


def _order(row: dict, st: _State, counts: FileCounts) -> dict:
    total = _signed_amount(row["total"], "total", counts)
    try:
        ref = _text(row, "order_ref", 40, required=True)
        if ref in st.order_refs:
            raise ValidationError(_l("This order reference appears twice in the export."), field="order_ref")
        legacy_id = row["legacy_id"]
        if not legacy_id or not st.customer_known(legacy_id):
            raise ValidationError(_l("No such old customer (or the customer's row was rejected)."),
                                  field="legacy_id")
        ordered_on = _date(row["ordered_on"], "ordered_on", required=True)
        items = []
        for part in row["items"].split("|"):
            sku, _sep, qty = part.strip().partition("*")
            sku = sku.strip().upper()
            if not sku:
                raise ValidationError(_l("Write the items as CODE*quantity, separated by |."), field="items")
            if sku not in st.skus:
                raise ValidationError(_l("Unknown product %(sku)s.", sku=sku), field="items")
            qty = qty.strip() or "1"
            if not (qty.isascii() and qty.isdigit()) or not 0 < int(qty) <= 100000:
                raise ValidationError(_l("The quantity of %(sku)s is not a whole number from 1.", sku=sku),
                                      field="items")
            items.append(f"{sku}*{int(qty)}")
        status = row["status"].lower()
        if status not in ORDER_STATUSES:
            raise ValidationError(_l("The status must be paid, cancelled or refunded."), field="status")
    except ValidationError:
        counts.rejected_sen += total
        raise
    st.order_refs.add(ref)
    items_text = "|".join(items)
    return dict(legacy_ref=ref, legacy_id=legacy_id, ordered_on=ordered_on, items=items_text, total_sen=total,
                status=status, row_hash=_hash(ref, legacy_id, ordered_on, items_text, total, status))


def _checked(directory: Path, name: str, columns: list[str], check: Callable, report: Report
             ) -> Iterator[tuple[int, dict]]:
    counts = report.counts[name]
    for line, row in _rows(directory, name, columns):
        counts.rows += 1
        try:
            out = check(row)
        except ValidationError as exc:
            report.faults.append(Fault(FILES[name], line, exc.field or "?", str(exc.message)))
            continue
        counts.valid += 1
        yield line, out


def _passes(directory: Path, report: Report):
    """The three files' accepted rows, streamed, each file after the one it depends on."""
    st = _State()
    return st, (
        ("customers", _checked(directory, "customers", CUSTOMER_COLUMNS, lambda r: _customer(r, st), report)),
        ("balances", _checked(directory, "balances", BALANCE_COLUMNS,
                              lambda r: _balance(r, st, report.counts["balances"]), report)),
        ("orders", _checked(directory, "orders", ORDER_COLUMNS,
                            lambda r: _order(r, st, report.counts["orders"]), report)),
    )


def _check_export_totals(directory: Path, report: Report) -> dict[str, int | None]:
    """The export's own control file against what the files hold (rows and amounts); returns the
    control totals in sen by file."""
    control: dict[str, tuple[int, int | None]] = {}
    for line, row in _rows(directory, "control", CONTROL_COLUMNS):
        name = row["file"].removesuffix(".csv")
        if name not in report.counts:
            report.control.append(f"control.csv:{line}: unknown file {row['file']!r}")
            continue
        try:
            rows = int(row["rows"])
            total = parse_ringgit(row["total"]) if row["total"] else None
        except (ValueError, MoneyFormatError):
            report.control.append(f"control.csv:{line}: unreadable rows or total")
            continue
        control[name] = (rows, total)
    for name, counts in report.counts.items():
        if name not in control:
            report.control.append(f"control.csv: no line for {FILES[name]}")
            continue
        rows, total = control[name]
        if rows != counts.rows:
            report.control.append(f"{FILES[name]}: {counts.rows} rows, the control file says {rows}")
        if total is None:
            continue
        if counts.unreadable_amounts:
            report.control.append(f"{FILES[name]}: {counts.unreadable_amounts} amount(s) cannot be read, "
                                  f"so its total cannot be confirmed")
        elif counts.total_sen != total:
            report.control.append(f"{FILES[name]}: amounts sum to {format_sen(counts.total_sen)}, "
                                  f"the control file says {format_sen(total)}")
    return {name: total for name, (_rows_n, total) in control.items()}


def validate(directory: Path) -> Report:
    """Every fault of the export, nothing written."""
    report = Report(dry_run=True)
    _st, passes = _passes(Path(directory), report)
    for _name, rows in passes:
        for _ in rows:
            pass
    _check_export_totals(Path(directory), report)
    return report


# ------------------------------------------------------------------------------------ writing

def import_export(directory: Path, *, progress: Callable[[int], None] | None = None) -> Report:
    """Validate everything, then (when the export's own totals hold) write the accepted rows.

    Returns the report: faults (never written), changed rows (not overwritten), counts, and the
    control-total problems (empty when the ledger holds exactly the export's balances)."""
    directory = Path(directory)
    first = validate(directory)
    if first.control:
        return first  # the export contradicts its own control file: write nothing
    report = Report(dry_run=False)
    _st, passes = _passes(directory, report)
    writers = {"customers": _write_customers, "balances": _write_balances, "orders": _write_orders}
    for name, rows in passes:
        batch: list[tuple[int, dict]] = []
        for item in rows:
            batch.append(item)
            if len(batch) >= BATCH:
                writers[name](batch, report)
                if progress:
                    progress(len(batch))
                batch = []
        if batch:
            writers[name](batch, report)
            if progress:
                progress(len(batch))
    controls = _check_export_totals(directory, report)
    _check_import_totals(report, controls.get("balances"))
    record("migration.imported", target_type="LegacyExport", target_id=directory.name[:64],
           rejected=len(report.faults), changed=len(report.changed), control_problems=len(report.control),
           **{f"{name}_imported": c.inserted for name, c in report.counts.items()})
    db.session.commit()
    return report


def _write_customers(batch: list[tuple[int, dict]], report: Report) -> None:
    t = LegacyCustomer.__table__
    counts = report.counts["customers"]
    existing = dict(db.session.execute(select(t.c.legacy_id, t.c.row_hash).where(
        t.c.legacy_id.in_([r["legacy_id"] for _, r in batch]))).all())
    now = utcnow()
    new = []
    for line, r in batch:
        known = existing.get(r["legacy_id"])
        if known is None:
            new.append({**r, "status": LegacyStatus.WAITING, "email_status": "unknown", "balance_sen": 0,
                        "balance_imported": False, "links_sent": 0, "imported_at": now})
        elif known == r["row_hash"]:
            counts.unchanged += 1
        else:
            counts.changed += 1
            report.changed.append(Fault(FILES["customers"], line, "legacy_id", str(_l(
                "Customer %(id)s differs from the row imported before: not overwritten.", id=r["legacy_id"]))))
    if new:
        db.session.execute(insert(t), new)
    counts.inserted += len(new)
    db.session.commit()


def _write_balances(batch: list[tuple[int, dict]], report: Report) -> None:
    t = LegacyCustomer.__table__
    counts = report.counts["balances"]
    found = {row.legacy_id: row for row in db.session.execute(
        select(t.c.id, t.c.legacy_id, t.c.status, t.c.balance_imported, t.c.balance_hash, t.c.balance_sen)
        .where(t.c.legacy_id.in_([r["legacy_id"] for _, r in batch])))}
    updates, openings = [], []
    for line, r in batch:
        row = found[r["legacy_id"]]
        if row.balance_imported and row.balance_hash == r["balance_hash"]:
            counts.unchanged += 1
            counts.imported_sen += row.balance_sen
        elif row.balance_imported or row.status != LegacyStatus.WAITING:
            counts.changed += 1
            counts.changed_sen += r["balance_sen"]
            report.changed.append(Fault(FILES["balances"], line, "balance", str(_l(
                "The balance of %(id)s differs from the one imported before (or the customer has migrated): "
                "not overwritten.", id=r["legacy_id"]))))
        else:
            updates.append({"b_id": row.id, "b_sen": r["balance_sen"], "b_hash": r["balance_hash"]})
            if r["balance_sen"]:
                openings.append((r["legacy_id"], r["balance_sen"]))
            counts.inserted += 1
            counts.imported_sen += r["balance_sen"]
    if updates:
        db.session.execute(update(t).where(t.c.id == bindparam("b_id")).values(
            balance_sen=bindparam("b_sen"), balance_hash=bindparam("b_hash"), balance_imported=True), updates)
        wallet.open_legacy_balances(openings)
    db.session.commit()


def _write_orders(batch: list[tuple[int, dict]], report: Report) -> None:
    c, o = LegacyCustomer.__table__, LegacyOrder.__table__
    counts = report.counts["orders"]
    customer_pk = dict(db.session.execute(select(c.c.legacy_id, c.c.id).where(
        c.c.legacy_id.in_({r["legacy_id"] for _, r in batch}))).all())
    existing = dict(db.session.execute(select(o.c.legacy_ref, o.c.row_hash).where(
        o.c.legacy_ref.in_([r["legacy_ref"] for _, r in batch]))).all())
    new = []
    for line, r in batch:
        known = existing.get(r["legacy_ref"])
        if known is None:
            new.append(dict(legacy_ref=r["legacy_ref"], customer_id=customer_pk[r["legacy_id"]],
                            ordered_on=r["ordered_on"], items=r["items"], total_sen=r["total_sen"],
                            status=r["status"], row_hash=r["row_hash"]))
        elif known == r["row_hash"]:
            counts.unchanged += 1
        else:
            counts.changed += 1
            report.changed.append(Fault(FILES["orders"], line, "order_ref", str(_l(
                "Order %(ref)s differs from the row imported before: not overwritten.", ref=r["legacy_ref"]))))
    if new:
        db.session.execute(insert(o), new)
    counts.inserted += len(new)
    db.session.commit()


def _check_import_totals(report: Report, control_total: int | None) -> None:
    """After writing: the ledger holds the export's balances, no more and no less."""
    counts = report.counts["balances"]
    if control_total is not None:
        expected = control_total - counts.rejected_sen - counts.changed_sen
        if counts.imported_sen != expected:
            report.control.append(
                f"balances.csv: {format_sen(counts.imported_sen)} on the ledger for the accepted rows, but the "
                f"control total less rejected and changed rows is {format_sen(expected)}")
    opened, unclaimed = wallet.legacy_totals()
    recorded = db.session.scalar(select(func.coalesce(func.sum(LegacyCustomer.balance_sen), 0))
                                 .where(LegacyCustomer.balance_imported.is_(True)))
    if opened != recorded:
        report.control.append(f"ledger: {format_sen(opened)} opened from the old system, but the legacy "
                              f"customers hold {format_sen(recorded)}")
    waiting = db.session.scalar(select(func.coalesce(func.sum(LegacyCustomer.balance_sen), 0)).where(
        LegacyCustomer.balance_imported.is_(True), LegacyCustomer.status == LegacyStatus.WAITING))
    if unclaimed != waiting:
        report.control.append(f"ledger: {format_sen(unclaimed)} unclaimed on the ledger, but the customers "
                              f"still waiting hold {format_sen(waiting)}")
