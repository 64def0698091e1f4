"""The orders domain's public entry point: views, other domains, the CLI and the tests call orders
through this module; the work is done in the rooms below, each with its own invariants.

- `common`: the order's states and transitions, its row lock, the customer's mail.
- `documents`: invoices and credit notes.
- `queries`: what the order pages read (every customer lookup goes through `order_for_owner`).
- `fulfilment`: staff make lines ready, hand them over, attach files; orders become fulfilled.
- `cancellation`: cancellation, refunds and expiry (what an order held goes back exactly once).
- `paying`: paying an order (online, wallet, counter, free) and what becomes of a paid order.
- `payable`: orders as a payable of the payments domain (settlement; money is never dropped).
- `cart`: the cart and the purchase rules.
- `checkout`: the cart becomes an order, all or nothing.

Each module imports only the ones above it in this list; nothing in orders imports this one.
"""

from .cancellation import (
    cancel,
    cancel_training_session,
    cancellable_by_customer,
    change_training_session,
    expire_candidates,
    expire_due,
    expire_one,
)
from .cart import (
    MAX_QUANTITY,
    add_approved_to_cart,
    add_to_cart,
    cart_count,
    cart_items,
    cart_remits,
    counter_items,
    purchase_problem,
    remove_from_cart,
    update_cart_item,
)
from .checkout import MAX_ORDER_SEN, checkout, latest_release
from .common import NO_TRANSITION, TRANSITIONS, transition
from .documents import credit_notes_for
from .fulfilment import (
    STAFF_LINE_MOVES,
    attach_deliverable,
    fulfil_candidates,
    fulfil_one,
    hand_over,
    mark_line,
    ready_for_collection,
    staff_queue,
)
from .payable import (
    describe_order,
    describe_orders,
    order_kept,
    order_return_url,
    order_unpayable,
    register_with_payments,
    returned_payments,
    returned_why,
    settle_order,
)
from .paying import COUNTER_PAYMENT_METHODS, IN_FLIGHT_TEXT, PAYMENT_METHODS, pay, pay_at_counter, unbuyable
from .queries import (
    PAYMENT_FILTERS,
    grants_by_line,
    history_elsewhere,
    order_for_owner,
    orders_of,
    pending_reason,
    register_history_source,
    training_registrations,
)

__all__ = [
    "TRANSITIONS",
    "NO_TRANSITION",
    "transition",
    "credit_notes_for",
    "PAYMENT_FILTERS",
    "register_history_source",
    "history_elsewhere",
    "order_for_owner",
    "orders_of",
    "training_registrations",
    "grants_by_line",
    "pending_reason",
    "STAFF_LINE_MOVES",
    "mark_line",
    "attach_deliverable",
    "fulfil_candidates",
    "fulfil_one",
    "staff_queue",
    "ready_for_collection",
    "hand_over",
    "cancellable_by_customer",
    "cancel",
    "cancel_training_session",
    "change_training_session",
    "expire_candidates",
    "expire_one",
    "expire_due",
    "PAYMENT_METHODS",
    "COUNTER_PAYMENT_METHODS",
    "pay_at_counter",
    "pay",
    "IN_FLIGHT_TEXT",
    "unbuyable",
    "settle_order",
    "returned_why",
    "returned_payments",
    "describe_order",
    "describe_orders",
    "order_kept",
    "order_return_url",
    "order_unpayable",
    "register_with_payments",
    "MAX_QUANTITY",
    "purchase_problem",
    "cart_items",
    "cart_count",
    "add_to_cart",
    "add_approved_to_cart",
    "cart_remits",
    "update_cart_item",
    "remove_from_cart",
    "counter_items",
    "MAX_ORDER_SEN",
    "latest_release",
    "checkout",
]
