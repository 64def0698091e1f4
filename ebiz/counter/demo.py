"""Demo counters: HQ and one per state and federal territory, each with an address, a phone and
opening hours. The state offices' addresses name the town only, and their phone numbers (area code,
then 000 0000) are placeholders that no real line has: set the real ones in the admin counter form."""

from datetime import time

from ..extensions import db
from .models import Counter

STATES = [
    ("JHR", "Johor"), ("KDH", "Kedah"), ("KTN", "Kelantan"), ("MLK", "Melaka"),
    ("NSN", "Negeri Sembilan"), ("PHG", "Pahang"), ("PNG", "Pulau Pinang"), ("PRK", "Perak"),
    ("PLS", "Perlis"), ("SGR", "Selangor"), ("TRG", "Terengganu"), ("SBH", "Sabah"),
    ("SWK", "Sarawak"), ("KUL", "Wilayah Persekutuan Kuala Lumpur"),
    ("LBN", "Wilayah Persekutuan Labuan"), ("PJY", "Wilayah Persekutuan Putrajaya"),
]
# code -> (town of the state office, telephone area code)
TOWNS = {
    "JHR": ("Johor Bahru", "07"), "KDH": ("Alor Setar", "04"), "KTN": ("Kota Bharu", "09"),
    "MLK": ("Melaka", "06"), "NSN": ("Seremban", "06"), "PHG": ("Kuantan", "09"), "PNG": ("George Town", "04"),
    "PRK": ("Ipoh", "05"), "PLS": ("Kangar", "04"), "SGR": ("Shah Alam", "03"), "TRG": ("Kuala Terengganu", "09"),
    "SBH": ("Kota Kinabalu", "088"), "SWK": ("Kuching", "082"), "KUL": ("Kuala Lumpur", "03"),
    "LBN": ("Labuan", "087"), "PJY": ("Putrajaya", "03"),
}
# Kedah, Kelantan and Terengganu work Sunday to Thursday.
SUNDAY_TO_THURSDAY = {"KDH", "KTN", "TRG"}


def seed() -> dict[str, Counter]:
    counters = {"HQ": Counter(code="HQ", name="Kaunter Ibu Pejabat", state="Wilayah Persekutuan Kuala Lumpur",
                              address="Wisma JUPEM\nJalan Sultan Yahya Petra\n50578 Kuala Lumpur", is_hq=True,
                              phone="03-000 0000", open_days="mon-fri", opens_at=time(8, 0), closes_at=time(17, 0))}
    for code, state in STATES:
        town, area = TOWNS[code]
        counters[code] = Counter(code=code, name=f"Kaunter {state}", state=state,
                                 address=f"Jabatan Ukur dan Pemetaan Negeri\n{town}, {state}",
                                 phone=f"{area}-000 0000",
                                 open_days="sun-thu" if code in SUNDAY_TO_THURSDAY else "mon-fri",
                                 opens_at=time(8, 0), closes_at=time(16, 30) if code != "KUL" else time(17, 0))
    db.session.add_all(counters.values())
    db.session.flush()
    return counters
