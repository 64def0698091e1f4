"""Demo counters: HQ and one per state and federal territory, each with an address, a phone and
opening hours. The state offices' addresses name the town only, and their phone numbers (area code,
then 000 0000) are placeholders that no real line has: set the real ones in the admin counter form."""

import secrets
from datetime import time

from sqlalchemy import select

from ..accounts.models import Role, User
from ..catalog.models import Product
from ..companies import service as companies
from ..counters.models import Counter
from ..extensions import db
from ..wallet import service as wallet
from . import service

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


def seed_runners_and_sales() -> list[str]:
    """A company's runner OTPs (one left live for trying at a counter, one used for a wallet purchase
    at the Selangor counter) and counter sales by cash and card. Seeds only what the data allows."""
    company = db.session.scalar(select(User).where(User.email == "ukur@example.my"))
    staff = db.session.scalar(select(User).where(User.email == "sgr.counter@ebiz.example.my",
                                                 User.role == Role.COUNTER))
    buyer = db.session.scalar(select(User).where(User.email == "tan@example.my"))
    printed = db.session.scalar(select(Product).where(Product.type == "printed", Product.status == "published",
                                                      Product.stock > 5).order_by(Product.price_sen, Product.id))
    if company is None or staff is None or printed is None:
        return []
    lines = ["Runners and counter sales:"]
    _live, code = companies.issue_otp(company, runner_name="Ahmad bin Ali", runner_id_type="mykad",
                                      runner_id_no="920202145679", may_collect=True, may_buy=True,
                                      may_use_wallet=company.is_primary, cap_sen=10_000)
    lines.append(f"  runner OTP for {company.company_name} ({company.company_reg_no}): {code} "
                 "(runner MyKad 920202-14-5679, up to RM 100.00)")
    if company.is_primary and wallet.balance(company) >= printed.price_sen:
        _otp, used = companies.issue_otp(company, runner_name="Ahmad bin Ali", runner_id_type="mykad",
                                         runner_id_no="920202145679", may_collect=True, may_buy=True,
                                         may_use_wallet=True, cap_sen=5_000)
        rs = service.open_runner_session(staff, company_reg_no=company.company_reg_no, code=used,
                                         runner_id_no="920202145679", ip="127.0.0.1")
        sale, _ = service.sell(staff, company, items=[(printed.id, None, 1)], method="wallet",
                               sale_key="demo-runner-sale", session=rs, ip="127.0.0.1")
        service.close_runner_session(staff, rs.reference)
        lines.append(f"  runner bought {printed.name} from the company wallet at SGR: order {sale.order_reference}")
    if buyer is not None:
        for method, approval in (("cash", ""), ("terminal", "DEMO01")):
            sale, _ = service.sell(staff, buyer, items=[(printed.id, None, 1)], method=method, approval_code=approval,
                                   sale_key=f"demo-{method}-{secrets.token_hex(4)}", ip="127.0.0.1")
            lines.append(f"  {method} sale at SGR to {buyer.email}: order {sale.order_reference}")
    db.session.flush()
    return lines
