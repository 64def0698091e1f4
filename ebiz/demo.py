"""Demo data for `flask ebiz seed-demo`: each domain seeds its part, in order.

Returns the lines to print on the console (staff passwords and TOTP secrets
are shown there once and nowhere else).
"""

from .accounts import demo as accounts_demo
from .applications import demo as applications_demo
from .catalog import demo as catalog_demo
from .counter import demo as counter_demo
from .delivery import demo as delivery_demo
from .migration import demo as migration_demo
from .orders import demo as orders_demo
from .support import demo as support_demo
from .wallet import demo as wallet_demo


def seed_all() -> list[str]:
    lines: list[str] = []
    counters = counter_demo.seed()
    lines += accounts_demo.seed(counters)
    # Later domains add their seed here (catalogue, files, wallets, orders).
    lines += catalog_demo.seed()
    lines += delivery_demo.seed()
    lines += applications_demo.seed()
    lines += wallet_demo.seed()
    lines += orders_demo.seed()  # last: it buys from the catalogue with a wallet
    lines += migration_demo.seed()  # after the catalogue: old orders name its products
    lines += counter_demo.seed_runners_and_sales()  # a company's runners, and sales at a counter
    lines += support_demo.seed()  # after the customers and staff it writes tickets for
    return lines
