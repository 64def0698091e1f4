"""wallet_spend: one hot wallet, concurrent clients, each request a real customer spend.

The eBiz side is the customer's own path for paying an order from the wallet: a signed-in
Primary customer POSTs the order page's pay form (`POST /orders/<ref>/pay`, method=wallet,
CSRF token, idempotency key) for one of many pending orders, all paid from ONE wallet. Each
request creates the payment intent, debits the wallet under its row lock (conditional
UPDATE), credits revenue, marks the order paid, takes a gapless receipt number, writes audit
events and queues the receipt mail. The floor side is `POST /debit` (conditional UPDATE +
one ledger insert), under the same gunicorn settings and wrk load, rounds alternating.

Each round uses orders not paid before (wrk's Lua script walks a fresh list), so a request
never hits the cheap "already paid" path. eBiz's rate is counted from the database (orders
actually paid in the round / duration), not from wrk's request count. lost_updates is
|(opening balance - closing balance) - sum of the spends recorded|, plus the wallet's
cached balance against the sum of its ledger entries, plus `wallet.service.verify()`.

BENCH_WALLET_ORDERS_PER_ROUND (default 1000) pending orders are made per round; a round that
uses them all says so (raise it when eBiz pays more than that in BENCH_SECONDS).

Before the first round both servers get a 2-second warm-up that is not counted
(BENCH_WALLET_WARMUP_ORDERS, default 200 orders; 0 turns it off): a fresh gunicorn worker
pays for lazy imports, template compilation and statement caches on its first requests.

eBiz runs as in production: ProductionConfig's MAIL_DELIVERY=worker, so a request only writes
its outbox rows (the receipt and the "order paid" mail) and `flask notifications worker` would
send them; no worker runs during the rounds (the bench measures request throughput), and the
rows left pending are counted at the end. Before the rounds one spend goes through the same
view in-process with SQL statements and commits counted (the "probe" line), so a change in
the work per request shows up even when the machine's noise hides it in the rates.

After the rounds, two ceilings are measured beside the floor's /debit in the same run:
`spend_bound.py` (the payment's writes as bare SQL, no session or checks) and `stack_bound.py`
(the same bare SQL behind eBiz's own sign-in, session, CSRF, flash and redirect). The second is
the most any signed-in eBiz endpoint recording an order payment can reach on this machine.
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import time
import urllib.parse

from .common import CONNS, PERF, ROUNDS, SECONDS, bench_line

PRICE_SEN = 100
LUA = r"""
-- Pay a different pending order on every request; thread t takes orders t, t+N, t+2N, ...
local paths = {}
local n = 0
local threads = 0
function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end
function init(args)
  for line in io.lines("%(paths)s") do paths[#paths + 1] = line end
  nthreads = %(nthreads)d
end
function request()
  local i = n * nthreads + tid + 1
  n = n + 1
  if i > #paths then i = ((i - 1) %% #paths) + 1 end
  local body = "csrf_token=%(csrf)s&method=wallet&idempotency_key=bench-" .. paths[i]:sub(9, 25)
  return wrk.format("POST", paths[i], {["Content-Type"] = "application/x-www-form-urlencoded",
                                       ["Cookie"] = "%(cookie)s"}, body)
end
"""

STACK_LUA = r"""
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Cookie"] = "%(cookie)s"
wrk.body = "csrf_token=%(csrf)s"
"""


def _seed(ctx, n_orders: int):
    """A Primary customer with a funded wallet and `n_orders` pending orders of a printed product."""
    from sqlalchemy import select

    from ebiz.accounts.models import Role, Tier, User
    from ebiz.catalog.models import Product
    from ebiz.counters.models import Counter
    from ebiz.extensions import db
    from ebiz.orders import service as orders
    from ebiz.wallet import service as wallet

    app = ctx.ebiz_app()
    with app.app_context():
        n = os.urandom(3).hex()
        hq = db.session.scalar(select(Counter).where(Counter.is_hq.is_(True)))
        if hq is None:
            hq = Counter(code="HQ", name="Kaunter HQ", state="WP Kuala Lumpur", is_hq=True)
            db.session.add(hq)
            db.session.flush()
        staff = User(email=f"bench-hq-{n}@ebiz.example.my", full_name="Bench HQ", password_hash="!",
                     role=Role.COUNTER, counter_id=hq.id, mfa_enabled=True, totp_secret="A" * 32)
        customer = User(email=f"bench-wallet-{n}@example.my", full_name="Bench Wallet", tier=Tier.PRIMARY,
                        role=Role.CUSTOMER, password_hash="!")
        product = Product(sku=f"BENCH-MAP-{n}", slug=f"bench-map-{n}", type="printed", name=f"Bench map {n}",
                          price_sen=PRICE_SEN, status="published", stock=10 * n_orders)
        db.session.add_all([staff, customer, product])
        db.session.flush()
        wallet.topup_at_counter(staff=staff, customer=customer, amount_sen=PRICE_SEN * n_orders + 10_000,
                                receipt_no=f"BENCH-{n}")
        db.session.commit()
        refs = []
        for i in range(n_orders):
            orders.add_to_cart(customer, product.id)
            order = orders.checkout(customer, checkout_key=f"bench-{i}", accepted={}, collect_counter_id=hq.id)
            refs.append(order.reference)
            if i % 200 == 199:
                db.session.commit()
        db.session.commit()
        opening = wallet.balance(customer)
        return app, customer.id, refs, opening


def _session(app, user_id: int) -> tuple[str, str]:
    """(Cookie header, CSRF token) of a signed-in session for the customer, as the sign-in page
    would leave it (built directly: the production config marks the cookie Secure, which a
    plain-HTTP client would not send back; wrk sends the header as is)."""
    from flask import session
    from flask_wtf.csrf import generate_csrf

    from ebiz.accounts.models import User
    from ebiz.extensions import db
    from ebiz.sessions import STAMP

    with app.test_request_context():
        user = db.session.get(User, user_id)
        session["_user_id"] = user.get_id()
        session["_fresh"] = True
        token = generate_csrf()
        session[STAMP] = int(time.time())  # as SteppedRefreshSessionInterface stamps the cookie it sends
        value = app.session_interface.get_signing_serializer(app).dumps(dict(session))
        db.session.remove()
    return f"{app.config['SESSION_COOKIE_NAME']}={value}", token


def _probe(app, cookie: str, csrf: str, reference: str) -> str:
    """Pay one order through the view in-process; count its SQL statements and commits."""
    from sqlalchemy import event

    from ebiz.extensions import db

    counts = {"statements": 0, "commits": 0}

    def on_execute(*_a):
        counts["statements"] += 1

    def on_commit(*_a):
        counts["commits"] += 1

    with app.app_context():
        engine = db.engine
    client = app.test_client()
    name, value = cookie.split("=", 1)
    client.set_cookie(name, value)
    event.listen(engine, "before_cursor_execute", on_execute)
    event.listen(engine, "commit", on_commit)
    try:
        r = client.post(f"/orders/{reference}/pay", content_type="application/x-www-form-urlencoded",
                        data=f"csrf_token={urllib.parse.quote(csrf)}&method=wallet&idempotency_key=probe-{reference}")
    finally:
        event.remove(engine, "before_cursor_execute", on_execute)
        event.remove(engine, "commit", on_commit)
    ok = r.status_code == 302 and "/payments/" in r.headers.get("Location", "")
    return (f"{counts['statements']} SQL statements, {counts['commits']} commit(s) per spend "
            f"(MAIL_DELIVERY={app.config.get('MAIL_DELIVERY', 'inline')}{'' if ok else f', FAILED: {r.status_code}'})")


def _pending_mail(app) -> int:
    from sqlalchemy import func, select

    from ebiz.extensions import db
    from ebiz.notifications.models import OutboxMessage

    with app.app_context():
        n = db.session.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == "pending"))
        db.session.remove()
        return int(n)


def _wrk(url: str, script: str, conns: int, seconds: int) -> float:
    out = subprocess.run(["wrk", "-t2", f"-c{conns}", f"-d{seconds}s", "-s", script, url],
                         capture_output=True, text=True, check=True).stdout
    print(out, end="", flush=True)
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not m:
        raise RuntimeError(f"wrk printed no rate:\n{out}")
    return float(m.group(1))


def _paid_count(app, user_id: int) -> int:
    from sqlalchemy import func, select

    from ebiz.extensions import db
    from ebiz.payments.models import PaymentIntent

    with app.app_context():
        n = db.session.scalar(select(func.count()).select_from(PaymentIntent).where(
            PaymentIntent.user_id == user_id, PaymentIntent.status == "succeeded"))
        db.session.remove()
        return int(n)


def run(ctx) -> list[str]:
    if not ctx.is_postgres:
        print("wallet_spend: NOTE running on SQLite (the target is defined on PostgreSQL)", flush=True)
    per_round = int(os.environ.get("BENCH_WALLET_ORDERS_PER_ROUND", "1000"))
    print(f"wallet_spend: seeding {per_round * ROUNDS} pending orders for one wallet ...", flush=True)
    warmup = int(os.environ.get("BENCH_WALLET_WARMUP_ORDERS", "200"))
    app, user_id, refs, opening = _seed(ctx, per_round * ROUNDS + warmup + 2)
    cookie, csrf = _session(app, user_id)
    _probe(app, cookie, csrf, refs.pop())  # the first spend ever also creates the revenue account, the sequence row
    print(f"wallet_spend: probe: {_probe(app, cookie, csrf, refs.pop())}", flush=True)
    if warmup:  # both servers' workers warm (imports, templates, statement caches), not counted
        warm = refs[-warmup:]
        del refs[-warmup:]
        paths = ctx.tmp / "wallet_paths_warmup.txt"
        paths.write_text("".join(f"/orders/{ref}/pay\n" for ref in warm))
        script = ctx.tmp / "wallet_spend_warmup.lua"
        script.write_text(LUA % {"paths": paths, "nthreads": 2, "csrf": urllib.parse.quote(csrf), "cookie": cookie})
        print("wallet_spend: warm-up (2 s each, not counted)", flush=True)
        _wrk(f"{ctx.ebiz_url}/orders/{warm[0]}/pay", str(script), CONNS, 2)
        _wrk(ctx.floor_url + "/debit", str(PERF / "post.lua"), CONNS, 2)
    floor_script = str(PERF / "post.lua")
    ebiz_rates, floor_rates, paid_before = [], [], _paid_count(app, user_id)
    for r in range(ROUNDS):
        chunk = refs[r * per_round:(r + 1) * per_round]
        paths = ctx.tmp / f"wallet_paths_{r}.txt"
        paths.write_text("".join(f"/orders/{ref}/pay\n" for ref in chunk))
        script = ctx.tmp / f"wallet_spend_{r}.lua"
        script.write_text(LUA % {"paths": paths, "nthreads": 2, "csrf": urllib.parse.quote(csrf),
                                 "cookie": cookie})
        _wrk(f"{ctx.ebiz_url}/orders/{chunk[0]}/pay", str(script), CONNS, SECONDS)
        paid_now = _paid_count(app, user_id)
        spends = paid_now - paid_before
        paid_before = paid_now
        if spends >= len(chunk):
            print(f"wallet_spend: round {r + 1} used every order of its list; raise "
                  "BENCH_WALLET_ORDERS_PER_ROUND", flush=True)
        ebiz_rates.append(spends / SECONDS)
        floor_rates.append(_wrk(ctx.floor_url + "/debit", floor_script, CONNS, SECONDS))
        print(f"round {r + 1}: ebiz {ebiz_rates[-1]:.1f} spends/s, floor {floor_rates[-1]:.1f} debits/s",
              flush=True)
    print(f"wallet_spend: {_pending_mail(app)} outbox rows pending for the mail worker", flush=True)
    lost, problems = _lost_updates(app, user_id, opening)
    for p in problems:
        print(f"wallet_spend: LEDGER PROBLEM {p}", flush=True)
    e, f = statistics.median(ebiz_rates), statistics.median(floor_rates)
    bare, stack = _ceilings(ctx, cookie, csrf)
    return [bench_line("wallet_spend", e / f, ">=0.5",
                       f"lost_updates={lost}  ebiz={e:.1f}/s floor={f:.1f}/s "
                       f"({'PostgreSQL' if ctx.is_postgres else 'SQLite'}, {CONNS} conns) "
                       f"ceilings: bare_sql={bare:.2f} ebiz_stack+bare_sql={stack:.2f}")]


def _ceilings(ctx, cookie: str, csrf: str) -> tuple[float, float]:
    """What a correct wallet payment of an order can reach, each beside the floor's /debit:
    spend_bound.py (its writes as bare SQL, nothing else) and stack_bound.py (the same bare SQL
    behind eBiz's own sign-in, session, CSRF, flash and redirect)."""
    from . import spend_bound
    from .common import ROOT, start_gunicorn

    script = str(PERF / "post.lua")
    spend_bound.create_tables(ctx.floor_db_url)
    server = ctx.start_ceiling("spend_bound", "/spend")
    print("wallet_spend: ceiling: the floor's debit plus an order payment's other writes vs floor /debit", flush=True)
    bare = ctx.compare(server.url + "/spend", ctx.floor_url + "/debit", script=script).ratio

    spend_bound.create_tables(ctx.ebiz_db_url, wallet_sen=10**12)
    stack = start_gunicorn("stack_bound", "tests.bench.stack_bound:create()", ctx.ebiz_env(), ROOT, ctx.tmp,
                           "/healthz")
    ctx.servers.append(stack)
    lua = ctx.tmp / "stack_bound.lua"
    lua.write_text(STACK_LUA % {"csrf": urllib.parse.quote(csrf), "cookie": cookie})
    print("wallet_spend: eBiz-stack ceiling: the same bare SQL behind eBiz's sign-in, session and CSRF "
          "vs floor /debit", flush=True)
    return bare, ctx.compare(stack.url + "/bound/spend", ctx.floor_url + "/debit", script=str(lua)).ratio


def _lost_updates(app, user_id: int, opening: int) -> tuple[int, list[str]]:
    from sqlalchemy import func, select

    from ebiz.accounts.models import User
    from ebiz.extensions import db
    from ebiz.payments.models import PaymentIntent
    from ebiz.wallet import service as wallet
    from ebiz.wallet.models import LedgerAccount, LedgerEntry

    with app.app_context():
        user = db.session.get(User, user_id)
        spent = int(db.session.scalar(select(func.coalesce(func.sum(PaymentIntent.amount_sen), 0)).where(
            PaymentIntent.user_id == user_id, PaymentIntent.status == "succeeded")))
        acct = db.session.scalar(select(LedgerAccount).where(LedgerAccount.user_id == user_id))
        entries = int(db.session.scalar(select(func.coalesce(func.sum(LedgerEntry.amount_sen), 0))
                                        .where(LedgerEntry.account_id == acct.id)))
        closing = wallet.balance(user)
        lost = abs((opening - closing) - spent) + abs(closing - entries)
        problems = wallet.verify()
        print(f"wallet_spend: opening {opening}, closing {closing}, spends recorded {spent}, "
              f"entries sum {entries}, ledger problems {len(problems)}", flush=True)
        db.session.remove()
        return lost + len(problems), problems
