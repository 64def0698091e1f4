"""The audit log says what happened in the reader's language, and keeps the code for filters."""

import re

from ebiz.accounts.models import Role
from ebiz.audit.labels import LABELS
from ebiz.audit.service import record
from ebiz.extensions import db
from tests.factories import make_user, sign_in


def _actions(html: str) -> list[str]:
    return [re.sub(r"\s+", " ", a).strip() for a in re.findall(r'data-testid="audit-action">(.*?)</td>', html, re.S)]


def test_the_audit_log_names_actions_in_the_readers_language_and_keeps_the_code(client):
    admin = make_user(role=Role.ADMIN)
    sign_in(client, admin)
    record("wallet.counter_topup", actor=admin, target_type="User", target_id="7", amount_sen=5000)
    record("someone.new_action", actor=admin)
    db.session.commit()
    client.set_cookie("lang", "ms")
    ms = client.get("/admin/audit/").get_data(as_text=True)
    assert any(a.startswith("Dompet ditambah nilai di kaunter") and "wallet.counter_topup" in a for a in _actions(ms))
    client.set_cookie("lang", "en")
    en = client.get("/admin/audit/").get_data(as_text=True)
    assert any(a.startswith("Wallet topped up at the counter") and "wallet.counter_topup" in a for a in _actions(en))
    assert any(a.startswith("someone.new_action") for a in _actions(en))  # an unknown code shows as itself
    # The code still filters, and each row links to its own filter.
    assert 'href="/admin/audit/?action=wallet.counter_topup"' in en
    only = client.get("/admin/audit/", query_string={"action": "wallet."}).get_data(as_text=True)
    assert len(_actions(only)) == 1 and "someone.new_action" not in only


def test_every_label_is_translated_into_malay(app):
    from flask_babel import force_locale

    with app.test_request_context(), force_locale("ms"):
        untranslated = [code for code, label in LABELS.items() if str(label) == label._args[0]]
    assert not untranslated
