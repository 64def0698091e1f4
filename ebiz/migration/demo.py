"""Demo legacy accounts: the committed sample export (ebiz/migration/sample/) imported, waiting to migrate."""

from pathlib import Path

from . import importer

SAMPLE = Path(__file__).resolve().parent / "sample"


def seed() -> list[str]:
    report = importer.import_export(SAMPLE)
    c = report.counts["customers"]
    return [f"Legacy accounts waiting to migrate: {c.inserted} imported, {len(report.faults)} sample rows rejected "
            f"on purpose. Sign in with MyKad 850312-14-5566 (Aminah, RM 250.00, Primary) or "
            f"admin@tanukur.example.my (a company, RM 1,200.50); README \"Legacy migration\" lists more."]
