"""The orders domain's rooms import each other one way, in the order `ebiz/orders/service.py` lists them.

Pure source analysis (no app, no database): it runs once, not once per database.
"""

import ast
import re
from pathlib import Path

from ebiz.orders import service

ORDERS = Path(service.__file__).resolve().parent
# Lowest first: a room may import `models` and the rooms before it, never one after it.
ROOMS = ("common", "documents", "queries", "fulfilment", "cancellation", "paying", "payable", "cart", "checkout")


def _siblings(room: str) -> set[str]:
    """The orders modules `room` imports (relative imports of one dot), wherever the import sits."""
    tree = ast.parse((ORDERS / f"{room}.py").read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            found |= {node.module} if node.module else {alias.name for alias in node.names}
    return found


def test_the_entry_point_lists_the_rooms_in_their_order():
    listed = re.findall(r"^- `(\w+)`:", service.__doc__, flags=re.MULTILINE)
    assert tuple(listed) == ROOMS
    assert {p.stem for p in ORDERS.glob("*.py")} >= set(ROOMS)


def test_each_room_imports_only_the_rooms_below_it():
    climbing = {room: sorted(_siblings(room) - {"models", *ROOMS[:i]}) for i, room in enumerate(ROOMS)}
    assert not {room: up for room, up in climbing.items() if up}, climbing


def test_each_room_states_its_invariants():
    for room in ROOMS:
        doc = ast.get_docstring(ast.parse((ORDERS / f"{room}.py").read_text(encoding="utf-8")))
        assert doc and "Invariants:" in doc, room


def test_the_entry_point_exports_what_it_imports():
    """Every public name of every room is reachable as `service.<name>`, and `__all__` names only those."""
    public = set()
    for room in ROOMS:
        tree = ast.parse((ORDERS / f"{room}.py").read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, ast.FunctionDef):
                public.add(node.name)
            elif isinstance(node, ast.Assign | ast.AnnAssign):
                target = node.targets[0] if isinstance(node, ast.Assign) else node.target
                public.add(target.id)
    public = {name for name in public if not name.startswith("_") and name != "S"}
    assert set(service.__all__) == public
    assert all(hasattr(service, name) for name in service.__all__)
