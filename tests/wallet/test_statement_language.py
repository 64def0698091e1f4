"""The wallet statement in the reader's language: postings store only a language-neutral detail
(memo) and the page builds the description from the posting's kind, in Malay or English."""

import csv
import io
import re

from flask_babel import force_locale
from sqlalchemy import select

from ebiz.extensions import db
from ebiz.wallet import service as wallet
from ebiz.wallet.models import POSTING_DESCRIPTIONS, LedgerPosting, PostingKind
from tests.factories import make_user
from tests.orders.helpers import gateway_paid
from tests.payments.helpers import csrf, sign_in, topup_intent

from .helpers import fund, spend

CODES = ("topup_online", "topup_counter", "spend")  # the kinds that are not also English words


def visible_text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def get(client, path: str, lang: str) -> str:
    client.set_cookie("lang", lang)
    r = client.get(path)
    assert r.status_code == 200
    return r.get_data(as_text=True)


def a_wallet_with_every_kind_of_posting(app):
    """A customer whose wallet has a counter top-up, an online top-up, a payment, a refund and an adjustment."""
    user = make_user(tier="primary")
    fund(user, 5000, receipt_no="HQ-77")
    gateway_paid(topup_intent(user, 2000))
    spend(user, 1250)
    wallet.refund_to_wallet(user, 250, idempotency_key="order-cancel:EBZ-ORD-X", memo="EBZ-ORD-X")
    maker, checker = make_user(role="support_agent"), make_user(role="admin")
    adj = wallet.propose_adjustment(maker, user, 100, "Goodwill")
    wallet.decide_adjustment(checker, adj.reference, approve=True)
    db.session.commit()
    return user, adj


def test_memos_hold_only_the_language_neutral_detail(app):
    user, adj = a_wallet_with_every_kind_of_posting(app)
    memos = {p.kind: p.memo for p in db.session.scalars(select(LedgerPosting))}
    intent_ref = db.session.scalar(select(LedgerPosting.memo).where(LedgerPosting.kind == PostingKind.TOPUP_ONLINE))
    assert memos[PostingKind.TOPUP_COUNTER] == "HQ-77"
    assert memos[PostingKind.SPEND] == "T-1"
    assert memos[PostingKind.REFUND] == "EBZ-ORD-X"
    assert memos[PostingKind.ADJUSTMENT] == f"{adj.reference}: Goodwill"
    assert intent_ref.startswith("EBZ-PAY-")
    assert set(POSTING_DESCRIPTIONS) == {v for k, v in vars(PostingKind).items() if k.isupper()}


def test_statement_and_wallet_home_in_english(app, client):
    user, adj = a_wallet_with_every_kind_of_posting(app)
    online = db.session.scalar(select(LedgerPosting.memo).where(LedgerPosting.kind == PostingKind.TOPUP_ONLINE))
    sign_in(client, user)
    expected = ["Top-up at the HQ counter, receipt HQ-77", f"Online top-up {online}",
                "Payment from the wallet for T-1", "Refund for EBZ-ORD-X", f"Adjustment {adj.reference}: Goodwill"]
    for path in ("/wallet/statement", "/wallet/"):
        html = get(client, path, "en")
        text = visible_text(html)
        assert '<html lang="en">' in html
        for words in expected:
            assert words in text, (path, words)
        for code in CODES:
            assert not re.search(rf"\b{code}\b", text), (path, code)
    rows = list(csv.reader(io.StringIO(get(client, "/wallet/statement?format=csv", "en"))))
    assert rows[2][1:3] == ["topup_counter", "Top-up at the HQ counter, receipt HQ-77"]
    assert sorted(row[2] for row in rows[2:]) == sorted(expected)
    malay = list(csv.reader(io.StringIO(get(client, "/wallet/statement?format=csv", "ms"))))
    with force_locale("ms"):
        assert malay[2][2] == wallet.describe_posting(PostingKind.TOPUP_COUNTER, "HQ-77")


def test_statement_in_malay_shows_no_english_descriptions(app, client):
    user, adj = a_wallet_with_every_kind_of_posting(app)
    postings = db.session.scalars(select(LedgerPosting).order_by(LedgerPosting.id)).all()
    sign_in(client, user)
    html = get(client, "/wallet/statement", "ms")
    text = visible_text(html)
    assert '<html lang="ms">' in html
    with force_locale("ms"):
        for p in postings:
            assert wallet.describe_posting(p.kind, p.memo) in text
        malay = [str(m) for m in POSTING_DESCRIPTIONS.values()]
    with force_locale("en"):
        untranslated = [str(m) for m, ms in zip(POSTING_DESCRIPTIONS.values(), malay, strict=True) if str(m) == ms]
    for code in CODES:
        assert not re.search(rf"\b{code}\b", text), code
    for old_memo in ("HQ counter receipt", "Refund of order", "Top-up EBZ-PAY"):  # as memos were stored before
        assert old_memo not in text
    assert not untranslated
    for english in ("Top-up at the HQ counter", "Online top-up", "Payment from the wallet", "Refund for",
                    "Adjustment "):
        assert english not in text, english


def test_adjustment_status_and_decision_read_as_words(app):
    maker, checker = make_user(role="support_agent"), make_user(role="admin")
    customer = make_user(tier="primary")
    adj = wallet.propose_adjustment(maker, customer, 500, "Goodwill")
    db.session.commit()
    client = app.test_client()
    sign_in(client, checker)
    token = csrf(client, "/wallet/staff/adjustments")
    r = client.post(f"/wallet/staff/adjustments/{adj.reference}", data={"csrf_token": token, "decision": "reject"},
                    follow_redirects=True)
    text = visible_text(r.get_data(as_text=True))
    assert f"Adjustment {adj.reference} rejected: no money moved." in text
    assert "Rejected" in text and not re.search(r"\brejected\.", text.replace("rejected: no", ""))
