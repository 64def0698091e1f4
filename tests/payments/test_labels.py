"""Payment statuses, methods, pending reasons and refund statuses read as words; short msgids with
two meanings are told apart by a pgettext context, and extraction (babel.cfg) keeps those contexts."""

import re
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from flask import render_template_string
from flask_babel import force_locale

from ebiz.extensions import db
from ebiz.payments.models import (
    INTENT_STATUS_LABELS,
    METHOD_LABELS,
    PENDING_REASON_LABELS,
    IntentStatus,
    Method,
    PendingReason,
)
from tests.factories import make_user

from .helpers import sign_in, topup_intent

ROOT = Path(__file__).resolve().parents[2]


def test_every_code_has_a_label():
    assert set(INTENT_STATUS_LABELS) == set(IntentStatus.ALL) | {IntentStatus.SHOWN_ABANDONED}
    assert set(METHOD_LABELS) >= set(Method.ALL)
    assert set(PENDING_REASON_LABELS) == {v for k, v in vars(PendingReason).items() if k.isupper()}


def test_label_filter_reads_a_code_in_the_current_language(app):
    with app.test_request_context():
        with force_locale("en"):
            out = render_template_string(
                '{{ "succeeded"|label("payment_status") }}|{{ "fpx"|label("payment_method") }}'
                '|{{ "admin"|label("role") }}|{{ none|label("role") }}|{{ "x"|label("role") }}')
        assert out == "Paid|FPX online banking|Administrator||x"
        with force_locale("ms"):
            assert render_template_string('{{ "wallet"|label("payment_method") }}') == "Dompet eBiz"


def test_extraction_keeps_the_contexts_of_ambiguous_msgids():
    with open(ROOT / "babel.cfg") as f:
        method_map, options_map = parse_mapping_cfg(f)
    found = {(context, msgid) for _file, _line, msgid, _comments, context in
             extract_from_dir(str(ROOT), method_map, options_map,
                              keywords={"_": None, "gettext": None, "_l": None, "lazy_gettext": None,
                                        "pgettext": ((1, "c"), 2)})}
    for pair in [("action", "Open"), ("refund status", "Open"), ("refund status", "Done"),
                 ("payment status", "Paid"), ("date heading", "Paid")]:
        assert pair in found, pair


def test_staff_review_names_why_a_payment_is_pending(app, client):
    intent = topup_intent(make_user(tier="primary"), 2000)
    intent.pending_reason = PendingReason.AWAITING_BANK
    db.session.commit()
    sign_in(client, make_user(role="admin"))
    page = client.get("/payments/staff/review").get_data(as_text=True)
    assert "Bank has not confirmed yet" in page and "awaiting_bank" not in page
    history = client.get("/payments/staff/refunds").get_data(as_text=True)
    assert re.search(r">Open</a> · <a [^>]*>Done</a>", history)
