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


def seed_runners_and_sales() -> list[str]:
    """A company's runner OTPs (one left live for trying at a counter, one used for a wallet purchase
    at the Selangor counter) and counter sales by cash and card. Seeds only what the data allows."""
    import secrets

    from sqlalchemy import select

    from ..accounts.models import Role, User
    from ..catalog.models import Product
    from ..companies import service as companies
    from ..wallet import service as wallet
    from . import service

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
