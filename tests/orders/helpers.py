"""Catalogue rows for order tests (written directly: these tests are about orders, not the catalogue)."""

import io
import itertools
import secrets
from datetime import date, timedelta

from pypdf import PdfReader
from sqlalchemy import func, select

from ebiz.catalog.models import Product, ProductVersion, TrainingSession
from ebiz.clock import utcnow
from ebiz.extensions import db
from ebiz.orders import service
from tests.factories import make_counter

_n = itertools.count(1)


def digital_product(*, price_sen=5000, licence_key="standard-digital-data", restricted=False, commit=True):
    n = next(_n)
    p = Product(sku=f"DIG-{n}", slug=f"digital-{n}", type="digital", name=f"Cadastral parcels {n}",
                description="Parcels", price_sen=price_sen, status="published", restricted=restricted,
                licence_key=licence_key, permitted_use="Internal planning use", download_limit=5,
                download_window_days=30)
    db.session.add(p)
    db.session.flush()
    db.session.add(ProductVersion(product_id=p.id, label="2026.1", release_date=date(2026, 1, 15),
                                  change_notes="First release", published=True))
    if commit:
        db.session.commit()
    return p


def printed_product(*, price_sen=1500, stock=5, commit=True):
    n = next(_n)
    p = Product(sku=f"PRT-{n}", slug=f"printed-{n}", type="printed", name=f"Topographic map sheet {n}",
                price_sen=price_sen, status="published", stock=stock)
    db.session.add(p)
    if commit:
        db.session.commit()
    return p


def extraction_service(*, price_sen=20000, commit=True):
    n = next(_n)
    p = Product(sku=f"EXT-{n}", slug=f"extraction-{n}", type="service", service_kind="extraction",
                name=f"Custom extraction {n}", price_sen=price_sen, status="published",
                licence_key="on-demand-service", permitted_use="Project use", allowed_extensions=".zip,.csv")
    db.session.add(p)
    if commit:
        db.session.commit()
    return p


def training(*, price_sen=30000, seats=10, taken=0, starts_in_days=10, commit=True):
    n = next(_n)
    p = Product(sku=f"TRN-{n}", slug=f"training-{n}", type="service", service_kind="training",
                name=f"GIS basics {n}", price_sen=price_sen, status="published", licence_key="training-terms")
    db.session.add(p)
    db.session.flush()
    start = utcnow() + timedelta(days=starts_in_days)
    s = TrainingSession(product_id=p.id, starts_at=start, ends_at=start + timedelta(hours=7), venue="Kuala Lumpur HQ",
                        seats_total=seats, seats_taken=taken)
    db.session.add(s)
    if commit:
        db.session.commit()
    return p, s


def accepted_for(*products) -> dict:
    from ebiz.licensing.service import get_licence

    return {p.id: get_licence(p.licence_key).sha256 for p in products if p.licence_key}


def client_for(app, user):
    """A new test client signed in as `user` (each of its requests has its own app context: conftest)."""
    from tests.factories import sign_in

    client = app.test_client()
    sign_in(client, user)
    return client


def csrf(client, path: str) -> str:
    from tests.factories import csrf_from

    return csrf_from(client.get(path).data)


def fund(user, amount_sen: int) -> None:
    """Put money in `user`'s wallet through the HQ counter (the real top-up path)."""
    import secrets

    from ebiz.accounts.models import Role
    from ebiz.counters.models import Counter
    from ebiz.wallet import service as wallet
    from tests.factories import make_counter, make_user

    hq = db.session.query(Counter).filter_by(code="HQ").one_or_none() or make_counter("HQ")
    staff = make_user(role=Role.COUNTER, counter=hq)
    wallet.topup_at_counter(staff=staff, customer=user, amount_sen=amount_sen, receipt_no=secrets.token_hex(6))
    db.session.commit()


def pay_online(order, method="card"):
    """Start an online payment and let the gateway report it paid (as its callback would)."""
    import secrets

    from ebiz.orders import service

    intent, url = service.pay(order.user, order, method=method, idempotency_key=secrets.token_hex(8),
                              bank_code="MB2U0227" if method == "fpx" else None)
    db.session.commit()
    assert url
    return intent


def gateway_paid(intent):
    from ebiz.payments import service as payments
    from ebiz.payments.gateway import GatewayResult

    outcome = payments.apply_result(intent, GatewayResult(merchant_ref=intent.reference, status="paid",
                                                          raw_status="00", txn_id="T" + intent.reference,
                                                          amount_sen=intent.amount_sen, currency="MYR"),
                                    source="callback")
    db.session.commit()
    return outcome


# -- placing and paying orders through the service (shared by the order tests) ----------------
def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def place(user, *items, counter=None):
    """items: products, or (product, session) for training."""
    products = []
    for it in items:
        if isinstance(it, tuple):
            service.add_to_cart(user, it[0].id, session_id=it[1].id)
            products.append(it[0])
        else:
            service.add_to_cart(user, it.id, request_note="Lot boundaries of Mukim Damansara, GeoJSON, for the "
                                                        "drainage study" if it.service_kind == "extraction" else None)
            products.append(it)
    if counter is None and any(p.type == "printed" for p in products):
        counter = make_counter(f"C{secrets.token_hex(2)}", is_hq=False, commit=False).id
    order = service.checkout(user, checkout_key=secrets.token_hex(8), accepted=accepted_for(*products),
                             ip="127.0.0.1", user_agent="pytest", collect_counter_id=counter)
    db.session.commit()
    return order


def pay_wallet(order):
    intent, url = service.pay(order.user, order, method="wallet", idempotency_key=secrets.token_hex(8))
    db.session.commit()
    return intent


def pdf_text(data: bytes) -> str:
    """The text a reader extracts from a PDF (embedded fonts draw glyph ids, so read it as a viewer would)."""
    assert data.startswith(b"%PDF")
    # pypdf reads the CJK font's two-byte codes with a NUL before each character: drop those.
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages).replace("\x00", "")
