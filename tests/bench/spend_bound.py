"""The ceiling of any wallet payment of an order, for wallet_spend: the floor's /debit plus the
other writes a paid order needs, as bare SQL in one transaction, with no session, sign-in, CSRF
or ORM. Under the same gunicorn settings as the floor, POST /spend runs:

    the order (INSERT, standing in for loading it), the payment record, the order marked paid,
    a ledger posting and its two entries, the payment event, the audit event,
    the wallet's conditional debit (hot row), the receipt number (hot row, gapless),
    the payment marked succeeded with its number, the receipt mail in the outbox; COMMIT.

eBiz's spend does all of this and more (17 statements), so it cannot be faster than this;
`make bench` measures it beside the floor's /debit to show how much of the floor's rate a
correct order payment can reach on this machine. Run as `gunicorn tests.bench.spend_bound:app`
with FLOOR_DATABASE_URL set (the floor's database, whose `wallet` row 1 it debits).
"""

import os

from flask import Flask, abort
from sqlalchemy import create_engine, text

TABLES = {
    "bound_order": "id {key}, status VARCHAR(12) NOT NULL, total_sen BIGINT NOT NULL",
    "bound_intent": "id {key}, order_id BIGINT NOT NULL, amount_sen BIGINT NOT NULL, status VARCHAR(12) NOT NULL, "
                    "receipt_no BIGINT",
    "bound_posting": "id {key}, memo VARCHAR(40) NOT NULL",
    "bound_entry": "id {key}, posting_id BIGINT NOT NULL, account VARCHAR(20) NOT NULL, amount_sen BIGINT NOT NULL",
    "bound_event": "id {key}, intent_id BIGINT NOT NULL, outcome VARCHAR(12) NOT NULL",
    "bound_audit": "id {key}, action VARCHAR(40) NOT NULL, target_id BIGINT NOT NULL",
    "bound_outbox": "id {key}, body TEXT NOT NULL",
    "bound_seq": "name VARCHAR(8) PRIMARY KEY, value BIGINT NOT NULL",
}


def create_tables(url: str, wallet_sen: int | None = None) -> None:
    """The tables, in the floor's database (run once, before the servers start). With `wallet_sen`,
    also a `bound_wallet` whose row 1 holds that much (for a database without the floor's wallet)."""
    eng = create_engine(url)
    key = "INTEGER PRIMARY KEY" if eng.dialect.name == "sqlite" else "BIGSERIAL PRIMARY KEY"
    with eng.begin() as c:
        for name, columns in TABLES.items():
            c.execute(text(f"CREATE TABLE IF NOT EXISTS {name} ({columns.format(key=key)})"))
        if c.execute(text("SELECT COUNT(*) FROM bound_seq")).scalar() == 0:
            c.execute(text("INSERT INTO bound_seq (name, value) VALUES ('RCP', 0)"))
        if wallet_sen is not None:
            c.execute(text("CREATE TABLE IF NOT EXISTS bound_wallet "
                           "(id INTEGER PRIMARY KEY, balance_sen BIGINT NOT NULL)"))
            c.execute(text("DELETE FROM bound_wallet"))
            c.execute(text("INSERT INTO bound_wallet (id, balance_sen) VALUES (1, :b)"), {"b": wallet_sen})
    eng.dispose()


URL = os.environ.get("FLOOR_DATABASE_URL", "sqlite://")
engine = create_engine(URL) if URL.startswith("sqlite") else create_engine(URL, pool_size=5, max_overflow=5)
app = Flask(__name__)


class Refused(Exception):
    """The wallet cannot pay: the caller's transaction must roll back."""


def pay(c, wallet: str = "wallet") -> int:
    """The statements of one order payment on connection `c`, in its transaction; the receipt number.
    `wallet` is the table whose row 1 is debited (the floor's `wallet`, or `bound_wallet`)."""
    order = c.execute(text("INSERT INTO bound_order (status, total_sen) VALUES ('pending', 1) RETURNING id")
                      ).scalar()
    intent = c.execute(text("INSERT INTO bound_intent (order_id, amount_sen, status) "
                            "VALUES (:o, 1, 'pending') RETURNING id"), {"o": order}).scalar()
    c.execute(text("UPDATE bound_order SET status = 'paid' WHERE id = :o"), {"o": order})
    posting = c.execute(text("INSERT INTO bound_posting (memo) VALUES ('order') RETURNING id")).scalar()
    c.execute(text("INSERT INTO bound_entry (posting_id, account, amount_sen) "
                   "VALUES (:p, 'wallet', -1), (:p, 'revenue', 1)"), {"p": posting})
    c.execute(text("INSERT INTO bound_event (intent_id, outcome) VALUES (:i, 'applied')"), {"i": intent})
    c.execute(text("INSERT INTO bound_audit (action, target_id) VALUES ('payment.succeeded', :i)"), {"i": intent})
    done = c.execute(text(f"UPDATE {wallet} SET balance_sen = balance_sen - 1 "
                          "WHERE id = 1 AND balance_sen >= 1")).rowcount
    if done != 1:
        raise Refused()
    number = c.execute(text("UPDATE bound_seq SET value = value + 1 WHERE name = 'RCP' RETURNING value")
                       ).scalar()
    c.execute(text("UPDATE bound_intent SET status = 'succeeded', receipt_no = :n WHERE id = :i"),
              {"n": number, "i": intent})
    c.execute(text("INSERT INTO bound_outbox (body) VALUES (:b)"), {"b": f"Receipt RCP-{number:06d}"})
    return number


@app.post("/spend")
def spend():
    try:
        with engine.begin() as c:  # Refused inside the transaction: all of it rolls back
            number = pay(c)
    except Refused:
        abort(409)
    return {"ok": True, "receipt": number}
