"""The floor plan: which part of eBiz may import which (DESIGN.md, "Which domain may call which").

This table is the one place the plan lives. `tests/test_floors.py` reads it, parses every
module's imports (at the top and inside functions) and fails on any import from a lower
floor to a higher one; the README quotes `render()`, and a test keeps the quote current.

Rules, in order:
- a module may import anything in its own room (`ebiz.orders.views` from `ebiz.orders`);
- it may import any room on a lower floor;
- on its own floor, only a room that `PEERS` names for it;
- anything else is a violation, unless `KNOWN_DEBTS` lists the exact pair with the issue that
  will remove it. A debt is a debt: the test also fails when a listed pair no longer occurs,
  so the list only ever shrinks.

A room is the first name under `ebiz` (`ebiz.orders.service` is in `orders`); the package's
own `__init__` (the factory) is the room `ebiz`.
"""

# Highest floor first. Each floor: (what it is, the rooms on it).
FLOORS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("the roof: the factory and what wires every domain together",
     ("ebiz", "models", "cli", "demo")),
    ("front desks: compose the rest",
     ("admin", "api", "counter", "support", "migration", "health")),
    ("cart and checkout",
     ("orders",)),
    ("what must be applied for: restricted data and remit (documents kept in delivery's storage)",
     ("applications",)),
    ("files and links; the ledger, top-ups and spending",
     ("delivery", "wallet")),
    ("licences; payment intents, gateways, callbacks",
     ("licensing", "payments")),
    ("what is sold; who buys for whom",
     ("catalog", "companies")),
    ("the ground floor: people, the counters where they are served, mail, the audit trail",
     ("accounts", "counters", "notifications", "audit")),
    ("the house's foundations: no domain at all",
     ("money", "errors", "extensions", "forms", "tokens", "sequences", "clock", "refs",
      "db", "db_engine", "sessions", "jinja_gettext", "main_views", "floors", "cron", "logs", "pdf")),
)

# Rooms on one floor that may import each other. Every other same-floor import is a violation.
PEERS: dict[str, frozenset[str]] = {
    # Sign-ins and account changes are audited and mailed; the audit log's page names users.
    "accounts": frozenset({"audit", "notifications"}),
    "audit": frozenset({"accounts"}),
    # An administrator's ticket-backed action (a company representative change, issue 16 §3) is
    # checked and recorded on its support ticket: the admin view calls the support desk's service,
    # then the lower domain's (companies never imports support). Support never imports admin.
    "admin": frozenset({"support"}),
    # The migration desk's human steps go through the support desk (issues 15 §2-3, 16 §3): the
    # migration view opens the ticket of a customer whose old email is dead and checks the ticket behind
    # an administrator's email correction, then calls its own service (which never imports support).
    # Support never imports migration (its ticket page links to the migration pages by URL only).
    "migration": frozenset({"support"}),
    # The roof wires everything together: the factory, the model registry, the house CLI and demo.
    **{room: frozenset(FLOORS[0][1]) for room in FLOORS[0][1]},
    # Foundations are small house modules with no domain in them: they may use each other.
    **{room: frozenset(FLOORS[-1][1]) for room in FLOORS[-1][1]},
}

# Imports that break the plan today, each with the issue that removes it. Keys are
# (importing module, imported module); the value says why it is still there. None today: the
# last ones (the Counter model on the front-desk floor) were paid by moving it to `counters`.
KNOWN_DEBTS: dict[tuple[str, str], str] = {}


def room_of(module: str) -> str | None:
    """`ebiz.orders.service` -> `orders`; `ebiz` -> `ebiz`; a module outside eBiz -> None."""
    parts = module.split(".")
    if parts[0] != "ebiz":
        return None
    return parts[1] if len(parts) > 1 else "ebiz"


def floor_of(room: str) -> int:
    """0 for the roof, counting down; a room missing from the plan is a KeyError (add it)."""
    for level, (_, rooms) in enumerate(FLOORS):
        if room in rooms:
            return level
    raise KeyError(f"room {room!r} is not on the floor plan (ebiz/floors.py)")


def allowed(importer: str, imported: str) -> bool:
    """May module `importer` import module `imported` (both dotted names under `ebiz`)?"""
    here, there = room_of(importer), room_of(imported)
    if here is None or there is None or here == there:
        return True
    if floor_of(here) < floor_of(there):  # smaller number = higher floor
        return True
    return floor_of(here) == floor_of(there) and there in PEERS.get(here, frozenset())


def render() -> str:
    """The plan as the README shows it: one line per floor, highest first."""
    return "\n".join(f"{', '.join(rooms):<40} ({what})" for what, rooms in FLOORS)
