"""What each audit action code means, in the reader's language.

The code (`wallet.counter_topup`) stays the key: it is what is stored, filtered on and exported. This
table only says it in words for the audit log page. A code without a row here is shown as itself, so a
new action is never hidden; add its row when adding the action. Only strings live here: the audit
domain is on the ground floor and imports nothing from the domains whose actions it names.
"""

from flask_babel import lazy_gettext as _l

LABELS = {
    # accounts and sign-in
    "account.registered": _l("Account registered"),
    "account.disabled": _l("Account disabled"),
    "account.enabled": _l("Account enabled"),
    "account.role_changed": _l("Role changed"),
    "account.tier_changed": _l("Customer tier changed"),
    "account.password_changed": _l("Password changed"),
    "account.password_reset_requested": _l("Password reset requested"),
    "account.password_reset": _l("Password reset"),
    "account.email_change_requested": _l("Email change requested"),
    "account.email_changed": _l("Email address changed"),
    "account.mfa_enabled": _l("Two-factor sign-in turned on"),
    "account.mfa_disabled": _l("Two-factor sign-in turned off"),
    "account.mfa_reset": _l("Two-factor sign-in reset by staff"),
    "auth.signin": _l("Signed in"),
    "auth.signin_failed": _l("Sign-in failed"),
    "auth.signin_refused": _l("Sign-in refused"),
    "auth.signout": _l("Signed out"),
    "auth.lockout": _l("Account locked after failed sign-ins"),
    # catalogue
    "catalog.product.create": _l("Product created"),
    "catalog.product.update": _l("Product edited"),
    "catalog.product.status": _l("Product status changed"),
    "catalog.version.create": _l("Product version added"),
    "catalog.version.update": _l("Product version edited"),
    "catalog.session.create": _l("Training session added"),
    "catalog.session.edit": _l("Training session edited"),
    "catalog.session.cancel": _l("Training session cancelled"),
    "catalog.restricted_access.grant": _l("Restricted data access granted"),
    "catalog.restricted_access.revoke": _l("Restricted data access revoked"),
    # counters
    "counter.saved": _l("Counter details saved"),
    # delivery
    "delivery.file.store": _l("Product file uploaded"),
    "delivery.file.remove": _l("Product file removed"),
    "delivery.entitlement.grant": _l("Download allowance granted"),
    "delivery.entitlement.adjust": _l("Download allowance adjusted"),
    # licences
    "licence.grant": _l("Licence issued"),
    "licence.revoke": _l("Licence revoked"),
    # orders
    "order.checkout": _l("Order placed"),
    "order.paid": _l("Order paid"),
    "order.fulfilled": _l("Order fulfilled"),
    "order.cancel": _l("Order cancelled"),
    "order.expire": _l("Order expired unpaid"),
    "order.refund": _l("Order refunded"),
    "order.lines_refund": _l("Order lines refunded"),
    "order.payment_returned": _l("Payment for an order returned"),
    "order.line_ready": _l("Order line ready for collection"),
    "order.line_collected": _l("Order line collected"),
    "order.deliverable_attached": _l("Deliverable attached to an order"),
    # payments
    "payment.succeeded": _l("Payment received"),
    "payment.message_rejected": _l("Gateway message rejected"),
    "payment.refund_queued": _l("Refund queued"),
    "payment.refund_resolved": _l("Refund resolved"),
    "payment.reviewed": _l("Payment reviewed"),
    "payments.reconciled": _l("Payments reconciled with the gateway"),
    # wallet
    "wallet.counter_topup": _l("Wallet topped up at the counter"),
    "wallet.counter_topup_refused": _l("Counter wallet top-up refused"),
    "wallet.adjustment_proposed": _l("Wallet adjustment proposed"),
    "wallet.adjustment_approved": _l("Wallet adjustment approved"),
    "wallet.adjustment_rejected": _l("Wallet adjustment rejected"),
}


def action_label(code: str) -> str:
    """The action in words, in the current language; an unknown code as itself."""
    label = LABELS.get(code)
    return str(label) if label is not None else code
