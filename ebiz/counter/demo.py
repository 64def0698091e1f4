"""Demo counters: HQ and one per state and federal territory."""

from ..extensions import db
from .models import Counter

STATES = [
    ("JHR", "Johor"), ("KDH", "Kedah"), ("KTN", "Kelantan"), ("MLK", "Melaka"),
    ("NSN", "Negeri Sembilan"), ("PHG", "Pahang"), ("PNG", "Pulau Pinang"), ("PRK", "Perak"),
    ("PLS", "Perlis"), ("SGR", "Selangor"), ("TRG", "Terengganu"), ("SBH", "Sabah"),
    ("SWK", "Sarawak"), ("KUL", "Wilayah Persekutuan Kuala Lumpur"),
    ("LBN", "Wilayah Persekutuan Labuan"), ("PJY", "Wilayah Persekutuan Putrajaya"),
]


def seed() -> dict[str, Counter]:
    counters = {"HQ": Counter(code="HQ", name="Kaunter Ibu Pejabat", state="Wilayah Persekutuan Kuala Lumpur",
                              address="Wisma JUPEM, Jalan Sultan Yahya Petra, 50578 Kuala Lumpur", is_hq=True)}
    for code, state in STATES:
        counters[code] = Counter(code=code, name=f"Kaunter {state}", state=state)
    db.session.add_all(counters.values())
    db.session.flush()
    return counters
