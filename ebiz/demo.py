"""Demo data for `flask ebiz seed-demo`: each domain seeds its part, in order.

Returns the lines to print on the console (staff passwords and TOTP secrets
are shown there once and nowhere else).
"""


def seed_all() -> list[str]:
    from .accounts import demo as accounts_demo
    from .counter import demo as counter_demo

    lines: list[str] = []
    counters = counter_demo.seed()
    lines += accounts_demo.seed(counters)
    # Later domains add their seed here (catalogue, files, wallets, orders).
    from .catalog import demo as catalog_demo
    from .delivery import demo as delivery_demo

    lines += catalog_demo.seed()
    lines += delivery_demo.seed()
    from .wallet import demo as wallet_demo

    lines += wallet_demo.seed()
    from .orders import demo as orders_demo  # last: it buys from the catalogue with a wallet

    lines += orders_demo.seed()
    from .migration import demo as migration_demo  # after the catalogue: old orders name its products

    lines += migration_demo.seed()
    return lines
