"""A split domain's rooms import each other one way, in the order its `service.py` lists them.

Pure source analysis (no app, no database): it runs once, not once per database.
"""

import ast
import importlib
import re
from pathlib import Path

import pytest

# Each split domain's rooms, lowest first: a room may import `models` and the rooms before it, never one after it.
DOMAINS = {
    "orders": ("common", "documents", "queries", "fulfilment", "cancellation", "paying", "payable", "cart", "checkout"),
    "wallet": ("ledger", "topups", "adjustments"),
    "delivery": ("files", "entitlements", "links"),
    "catalog": ("access", "inventory", "search", "editing"),
}
# What every room of a domain may stand on besides `models` (modules that are not rooms: no rules of their own).
FOUNDATIONS = {"delivery": ("storage",)}


def _service(domain: str):
    return importlib.import_module(f"ebiz.{domain}.service")


def _folder(domain: str) -> Path:
    return Path(_service(domain).__file__).resolve().parent


def _tree(domain: str, room: str) -> ast.Module:
    return ast.parse((_folder(domain) / f"{room}.py").read_text(encoding="utf-8"))


def _siblings(domain: str, room: str) -> set[str]:
    """The domain's modules `room` imports (relative imports of one dot), wherever the import sits."""
    found = set()
    for node in ast.walk(_tree(domain, room)):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            found |= {node.module} if node.module else {alias.name for alias in node.names}
    return found


@pytest.mark.parametrize("domain", DOMAINS)
def test_the_entry_point_lists_the_rooms_in_their_order(domain):
    rooms = DOMAINS[domain]
    listed = re.findall(r"^- `(\w+)`:", _service(domain).__doc__, flags=re.MULTILINE)
    assert tuple(listed) == rooms
    assert {p.stem for p in _folder(domain).glob("*.py")} >= set(rooms)


@pytest.mark.parametrize("domain", DOMAINS)
def test_each_room_imports_only_the_rooms_below_it(domain):
    rooms = DOMAINS[domain]
    base = {"models", *FOUNDATIONS.get(domain, ())}
    climbing = {room: sorted(_siblings(domain, room) - base - set(rooms[:i])) for i, room in enumerate(rooms)}
    assert not {room: up for room, up in climbing.items() if up}, climbing


@pytest.mark.parametrize("domain", DOMAINS)
def test_each_room_states_its_invariants(domain):
    for room in DOMAINS[domain]:
        doc = ast.get_docstring(_tree(domain, room))
        assert doc and "Invariants:" in doc, room


@pytest.mark.parametrize("domain", DOMAINS)
def test_the_entry_point_exports_what_it_imports(domain):
    """Every public name of every room (and of the entry point's own code, if any) is reachable as
    `service.<name>`, and `__all__` names only those."""
    service = _service(domain)
    public = set()
    for room in (*DOMAINS[domain], "service"):
        for node in _tree(domain, room).body:
            if isinstance(node, ast.FunctionDef | ast.ClassDef):
                public.add(node.name)
            elif isinstance(node, ast.Assign | ast.AnnAssign):
                target = node.targets[0] if isinstance(node, ast.Assign) else node.target
                public.add(target.id)
    public = {name for name in public if not name.startswith("_") and name != "S"}
    assert set(service.__all__) == public
    assert all(hasattr(service, name) for name in service.__all__)
