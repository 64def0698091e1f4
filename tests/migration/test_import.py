"""The import: every fault reported, nothing written twice, the control total, the ledger."""

import csv
import shutil

from sqlalchemy import func, select

from ebiz.extensions import db
from ebiz.migration import importer
from ebiz.migration.models import LegacyCustomer, LegacyOrder
from ebiz.wallet import service as wallet
from ebiz.wallet.models import LedgerPosting


def _counts():
    return (db.session.scalar(select(func.count(LegacyCustomer.id))),
            db.session.scalar(select(func.count(LegacyOrder.id))),
            db.session.scalar(select(func.count(LedgerPosting.id))))


def test_fault_report_names_line_column_and_why(export_dir):
    report = importer.validate(export_dir)
    faults = {(f.file, f.column, f.why) for f in report.faults}
    whys = " | ".join(f"{f.file}:{f.line}:{f.column}:{f.why}" for f in report.faults)
    assert ("customers.csv", "mykad") in {(f, c) for f, c, _ in faults}, whys
    assert any(c == "email" and "L-100001" in w for _f, c, w in faults), whys  # duplicate email
    assert any(c == "kind" for _f, c, _w in faults)
    assert any(c == "full_name" for _f, c, _w in faults)
    assert any(c == "created_on" for _f, c, _w in faults)
    assert any(c == "counter_verified" for _f, c, _w in faults)
    assert any(f == "balances.csv" and "negative" in w for f, _c, w in faults)
    assert any(f == "orders.csv" and "NO-SUCH-MAP" in w for f, _c, w in faults)  # unknown product
    assert any(f == "orders.csv" and c == "order_ref" for f, c, _w in faults)  # a reference used twice
    assert all(f.line >= 2 for f in report.faults)
    assert len(report.faults) == 14
    assert report.control_ok
    assert _counts() == (0, 0, 0)  # validating writes nothing


def test_import_then_rerun_changes_nothing(export_dir):
    first = importer.import_export(export_dir)
    assert first.control_ok, first.control
    assert first.counts["customers"].inserted == 34 and first.counts["orders"].inserted > 40
    before = _counts()
    second = importer.import_export(export_dir)
    assert second.control_ok, second.control
    assert _counts() == before
    assert second.counts["customers"].inserted == 0
    assert second.counts["customers"].unchanged == 34
    assert second.counts["balances"].inserted == 0 and second.counts["orders"].inserted == 0
    assert not second.changed


def test_ledger_holds_the_balances_and_verify_passes(export_dir):
    report = importer.import_export(export_dir)
    opened, unclaimed = wallet.legacy_totals()
    held = db.session.scalar(select(func.sum(LegacyCustomer.balance_sen)))
    assert opened == unclaimed == held == report.counts["balances"].imported_sen > 0
    assert wallet.verify() == []
    aminah = db.session.scalar(select(LegacyCustomer).where(LegacyCustomer.legacy_id == "L-100001"))
    assert aminah.balance_sen == 25000  # the second balance row for her was rejected, not added


def test_control_total_mismatch_writes_nothing(export_dir):
    path = export_dir / "control.csv"
    rows = list(csv.reader(path.read_text().splitlines()))
    rows[2][2] = "1.00"  # balances total
    with path.open("w", newline="") as f:
        csv.writer(f).writerows(rows)
    report = importer.import_export(export_dir)
    assert any("balances.csv" in p and "control file says" in p for p in report.control)
    assert _counts() == (0, 0, 0)


def test_row_count_mismatch_is_a_control_problem(export_dir):
    path = export_dir / "orders.csv"
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:-3]) + "\n")  # a truncated export
    report = importer.import_export(export_dir)
    assert any("orders.csv" in p and "rows" in p for p in report.control)
    assert _counts() == (0, 0, 0)


def test_changed_row_on_rerun_is_reported_not_overwritten(export_dir, tmp_path):
    importer.import_export(export_dir)
    changed = tmp_path / "changed"
    shutil.copytree(export_dir, changed)
    text = (changed / "customers.csv").read_text().replace("Aminah binti Hassan", "Aminah Hassan")
    (changed / "customers.csv").write_text(text)
    btext = (changed / "balances.csv").read_text().replace("L-100003,40.00", "L-100003,41.00")
    (changed / "balances.csv").write_text(btext)
    ctl = (changed / "control.csv").read_text()
    rows = list(csv.reader(ctl.splitlines()))
    rows[2][2] = f"{float(rows[2][2]) + 1:.2f}"
    with (changed / "control.csv").open("w", newline="") as f:
        csv.writer(f).writerows(rows)
    before = _counts()
    report = importer.import_export(changed)
    assert report.control_ok, report.control
    assert {(c.file, c.line) for c in report.changed} >= {("customers.csv", 2), ("balances.csv", 4)}
    assert report.counts["customers"].changed == 1 and report.counts["balances"].changed == 1
    assert _counts() == before
    aminah = db.session.scalar(select(LegacyCustomer).where(LegacyCustomer.legacy_id == "L-100001"))
    rajesh = db.session.scalar(select(LegacyCustomer).where(LegacyCustomer.legacy_id == "L-100003"))
    assert aminah.full_name == "Aminah binti Hassan" and rajesh.balance_sen == 4000
    assert wallet.verify() == []


def test_cli_dry_run_and_import(app, export_dir):
    runner = app.test_cli_runner()
    r = runner.invoke(args=["migration", "import", str(export_dir), "--dry-run"])
    assert r.exit_code == 0, r.output
    assert "REJECTED customers.csv:" in r.output and "[mykad]" in r.output
    assert _counts() == (0, 0, 0)
    r = runner.invoke(args=["migration", "import", str(export_dir)])
    assert r.exit_code == 0, r.output
    assert "Control totals hold" in r.output
    assert _counts()[0] == 34
    r = runner.invoke(args=["wallet", "verify"])
    assert r.exit_code == 0, r.output


def test_no_password_column_is_read(export_dir):
    path = export_dir / "customers.csv"
    rows = list(csv.reader(path.read_text().splitlines()))
    rows[0].append("password")
    for row in rows[1:]:
        row.append("old-secret-hash")
    with path.open("w", newline="") as f:
        csv.writer(f).writerows(rows)
    importer.import_export(export_dir)
    assert "password" not in LegacyCustomer.__table__.columns
    assert db.session.scalar(select(func.count(LegacyCustomer.id))) == 34


def test_an_import_run_is_audited(export_dir):
    from ebiz.audit.models import AuditEvent

    importer.import_export(export_dir)
    ev = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "migration.imported"))
    assert ev.details["customers_imported"] == 34 and ev.details["rejected"] == 14
