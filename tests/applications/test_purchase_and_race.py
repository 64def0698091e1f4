"""From approval to purchase: scope, copies, expiry; two staff deciding at once; purging documents."""

from datetime import timedelta

import pytest

from ebiz.accounts.models import Role, Tier
from ebiz.applications import service
from ebiz.applications.models import Application, ApplicationEvent, State
from ebiz.audit.models import AuditEvent
from ebiz.catalog.models import RestrictedAccess
from ebiz.clock import utcnow
from ebiz.delivery.storage import StorageError, get_storage
from ebiz.errors import EbizError
from ebiz.extensions import db
from ebiz.licensing.service import get_licence
from ebiz.orders import service as orders
from ebiz.orders.models import CartItem, Order
from tests.factories import make_user
from tests.races import race

from .helpers import approved, restricted_product, submitted


def _buy(user, product, key):
    orders.add_to_cart(user, product.id)
    order = orders.checkout(user, checkout_key=key, accepted={product.id: get_licence(product.licence_key).sha256})
    db.session.commit()
    return order


def _people():
    admin_a, admin_b = make_user(role=Role.ADMIN), make_user(role=Role.ADMIN)
    return make_user(tier=Tier.PRIMARY), admin_a, admin_b


def test_a_restricted_product_cannot_be_bought_without_an_approval_in_scope(app):
    user, admin_a, admin_b = _people()
    wanted, other = restricted_product(), restricted_product()
    with pytest.raises(EbizError):
        orders.add_to_cart(user, wanted.id)
    db.session.rollback()
    submitted(user, wanted)  # applied for, not approved yet
    with pytest.raises(EbizError):
        orders.add_to_cart(user, wanted.id)
    db.session.rollback()
    approved(user, admin_a, admin_b, other)  # an approval for another product
    with pytest.raises(EbizError):
        orders.add_to_cart(user, wanted.id)
    db.session.rollback()
    stranger = make_user(tier=Tier.PRIMARY)  # someone else's approval
    with pytest.raises(EbizError):
        orders.add_to_cart(stranger, other.id)
    db.session.rollback()
    assert db.session.query(CartItem).count() == 0


def test_an_approval_is_used_up_by_its_copies_and_closes(app):
    user, admin_a, admin_b = _people()
    p = restricted_product()
    a = approved(user, admin_a, admin_b, p, copies=1)
    order = _buy(user, p, "k1")
    assert order.total_sen == p.price_sen
    a = db.session.get(Application, a.id)
    assert a.state == State.USED and a.items[0].copies_used == 1
    with pytest.raises(EbizError):  # not twice on one approval
        orders.add_to_cart(user, p.id)
    db.session.rollback()
    assert db.session.query(CartItem).count() == 0 and db.session.query(Order).count() == 1


def test_a_second_checkout_on_a_used_approval_is_refused_even_from_a_cart(app):
    user, admin_a, admin_b = _people()
    p = restricted_product()
    approved(user, admin_a, admin_b, p, copies=1)
    orders.add_to_cart(user, p.id)
    db.session.commit()
    _buy(user, p, "k1")
    # The cart row was filled while the approval still had a copy: checkout says no now.
    db.session.add(CartItem(user_id=user.id, product_id=p.id, quantity=1))
    db.session.commit()
    with pytest.raises(EbizError):
        orders.checkout(user, checkout_key="k2", accepted={p.id: get_licence(p.licence_key).sha256})
    db.session.rollback()
    assert db.session.query(Order).count() == 1


def test_an_expired_approval_lets_nothing_into_a_cart(app):
    user, admin_a, admin_b = _people()
    p = restricted_product()
    a = approved(user, admin_a, admin_b, p, copies=3, days=1)
    assert service.expire_due(now=utcnow()) == []
    assert service.expire_due(now=utcnow() + timedelta(days=2)) == [a.reference]
    db.session.commit()
    assert db.session.get(Application, a.id).state == State.EXPIRED
    with pytest.raises(EbizError):
        orders.add_to_cart(user, p.id)
    db.session.rollback()
    assert db.session.query(CartItem).count() == 0
    assert db.session.query(RestrictedAccess).filter(RestrictedAccess.revoked_at.is_(None)).count() == 0


def test_an_approval_past_its_validity_refuses_even_before_the_expiry_run(app):
    user, admin_a, admin_b = _people()
    p = restricted_product()
    a = approved(user, admin_a, admin_b, p, copies=3)
    a.valid_until = utcnow() - timedelta(minutes=1)
    for row in db.session.query(RestrictedAccess):
        row.expires_at = a.valid_until
    db.session.commit()
    with pytest.raises(EbizError):
        orders.add_to_cart(user, p.id)
    db.session.rollback()
    assert db.session.query(CartItem).count() == 0


def test_two_staff_deciding_at_once_leave_exactly_one_decision(app):
    user, admin_a, admin_b = _people()
    reviewer = make_user(role=Role.ADMIN)
    p = restricted_product()
    a = submitted(user, p)
    service.recommend(a.token, reviewer, recommendation="approve", notes="ok")
    db.session.commit()
    token, pid, a_id, b_id, app_id = a.token, p.id, admin_a.id, admin_b.id, a.id
    db.session.rollback()

    def decide(kind, staff_id):
        from ebiz.accounts.models import User

        staff = db.session.get(User, staff_id)
        if kind == "approve":
            service.approve(token, staff, copies={pid: 1}, valid_until=utcnow() + timedelta(days=9),
                            conditions="c")
        else:
            service.reject(token, staff, reason="r")

    results = race(app, decide, [("approve", a_id), ("reject", b_id)])
    assert sorted(results) == ["Conflict", "ok"], results
    db.session.rollback()
    a = db.session.get(Application, app_id)
    assert a.state in (State.APPROVED, State.REJECTED)
    decisions = db.session.query(ApplicationEvent).filter(ApplicationEvent.application_id == a.id,
                                                          ApplicationEvent.action.in_(["approve", "reject"]))
    assert decisions.count() == 1
    grants = db.session.query(RestrictedAccess).count()
    assert grants == (1 if a.state == State.APPROVED else 0)


def test_purge_removes_documents_after_the_retention_and_keeps_the_record(app):
    app.config["APPLICATIONS_DOCUMENT_RETENTION_DAYS"] = 30
    user, admin_a, admin_b = _people()
    p = restricted_product()
    a = approved(user, admin_a, admin_b, p)
    key = a.documents[0].storage_key
    storage = get_storage()
    assert storage.stat(key) > 0
    assert service.purge_documents(now=utcnow() + timedelta(days=29)) == []
    assert service.purge_documents(now=utcnow() + timedelta(days=31)) == [a.reference]
    db.session.commit()
    a = db.session.get(Application, a.id)
    assert a.documents_purged_at is not None and a.documents[0].storage_key is None
    assert a.documents[0].filename == "letter.pdf"
    with pytest.raises(StorageError):
        storage.stat(key)
    assert db.session.query(AuditEvent).filter_by(action="applications.documents.purge").count() == 1
    assert service.purge_documents(now=utcnow() + timedelta(days=60)) == []


def test_two_checkouts_taking_the_last_approved_copy_at_once_leave_exactly_one(app):
    user, admin_a, admin_b = _people()
    p = restricted_product()
    a = approved(user, admin_a, admin_b, p, copies=1)
    user_id, product_id, app_id = user.id, p.id, a.id
    db.session.rollback()

    def take(order_ref):
        from ebiz.catalog.models import Product

        service.use_copy(user_id, db.session.get(Product, product_id), 1, order_ref=order_ref)

    results = race(app, take, [("EBZ-ORD-A",), ("EBZ-ORD-B",)])
    assert sorted(results) == ["Conflict", "ok"], results
    db.session.rollback()
    a = db.session.get(Application, app_id)
    assert a.items[0].copies_used == 1 and a.state == State.USED
    assert db.session.query(ApplicationEvent).filter_by(application_id=app_id, action="use").count() == 1
