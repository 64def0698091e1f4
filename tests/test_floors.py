"""The floor plan (ebiz/floors.py) holds for every import in ebiz/, at the top of a module or in a function.

Pure source analysis (no app, no database): it runs once, not once per database.
"""

import ast
from pathlib import Path

import pytest

from ebiz import floors

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "ebiz"

# Unexplained imports inside functions (no "why" comment) that remain in modules other work is
# rewriting this session (issue 12 §1). Each count may only go down; a module not listed has none.
IN_FUNCTION_IMPORT_BUDGET = {
    "ebiz.accounts.service": 3,
    "ebiz.catalog.search": 2,
    "ebiz.catalog.views": 1,
    "ebiz.orders.demo": 1,
    "ebiz.orders.forms": 1,
    "ebiz.payments.service": 1,
    "ebiz.payments.views": 3,
    "ebiz.wallet.cli": 1,
    "ebiz.wallet.service": 1,
}


def _module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_module(dotted: str, root: Path) -> bool:
    base = root.joinpath(*dotted.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


class Import:
    def __init__(self, module: str, target: str, line: int, in_function: bool, explained: bool):
        self.module, self.target, self.line = module, target, line
        self.in_function, self.explained = in_function, explained

    def __repr__(self):
        return f"{self.module}:{self.line} imports {self.target}"


def _imports(path: Path, root: Path = ROOT) -> list[Import]:
    """Every import in the file at `path`, resolved to the module it names."""
    module = _module_name(path, root)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    tree = ast.parse(source, filename=str(path))
    parent = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}

    def in_function(node: ast.AST) -> bool:
        while node in parent:
            node = parent[node]
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                return True
        return False

    def explained(node: ast.stmt) -> bool:
        # A comment on the import's own lines, or on the line just above its run of imports.
        if any("#" in lines[n - 1] for n in range(node.lineno, node.end_lineno + 1)):
            return True
        body = next(value for value in ast.iter_fields(parent[node])
                    if isinstance(value[1], list) and node in value[1])[1]
        index = body.index(node)
        while index > 0 and isinstance(body[index - 1], ast.Import | ast.ImportFrom):
            index -= 1
        first = body[index].lineno
        return first > 1 and lines[first - 2].strip().startswith("#")

    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                source_mod = ".".join(base + ([node.module] if node.module else []))
            else:
                source_mod = node.module or ""
            targets = [f"{source_mod}.{a.name}" if _is_module(f"{source_mod}.{a.name}", root) else source_mod
                       for a in node.names]
        else:
            continue
        inside = in_function(node)
        why = explained(node) if inside else True
        found += [Import(module, target, node.lineno, inside, why) for target in dict.fromkeys(targets)]
    return sorted(found, key=lambda imp: imp.line)


@pytest.fixture(scope="module")
def every_import() -> list[Import]:
    return [imp for path in sorted(PACKAGE.rglob("*.py")) for imp in _imports(path)]


def test_every_room_is_on_the_plan():
    rooms = {p.stem if p.is_file() else p.name for p in PACKAGE.iterdir()
             if (p.suffix == ".py" and p.stem != "__init__") or (p / "__init__.py").is_file()}
    missing = sorted(r for r in rooms if r not in {room for _, rs in floors.FLOORS for room in rs})
    assert not missing, f"add these to ebiz/floors.py FLOORS: {missing}"


def test_no_import_climbs_a_floor(every_import):
    climbing = [imp for imp in every_import if imp.target.startswith("ebiz")
                and not floors.allowed(imp.module, imp.target)
                and (imp.module, imp.target) not in floors.KNOWN_DEBTS]
    assert not climbing, "imports from a lower floor to a higher one (ebiz/floors.py):\n" + \
        "\n".join(map(repr, climbing))


def test_known_debts_still_exist(every_import):
    """A debt that was paid leaves the list: the list shows exactly what is still owed."""
    seen = {(imp.module, imp.target) for imp in every_import}
    paid = [pair for pair in floors.KNOWN_DEBTS if pair not in seen]
    assert not paid, f"remove from ebiz/floors.py KNOWN_DEBTS (no longer imported): {paid}"
    assert all(not floors.allowed(*pair) for pair in floors.KNOWN_DEBTS)


def test_imports_inside_functions_say_why(every_import):
    counts: dict[str, list[Import]] = {}
    for imp in every_import:
        if imp.in_function and not imp.explained:
            counts.setdefault(imp.module, []).append(imp)
    over = {m: found for m, found in counts.items() if len(found) > IN_FUNCTION_IMPORT_BUDGET.get(m, 0)}
    assert not over, "an import inside a function needs a comment saying why it cannot sit at the top:\n" + \
        "\n".join(f"{m}: {len(f)} (budget {IN_FUNCTION_IMPORT_BUDGET.get(m, 0)}): {f}" for m, f in over.items())


def test_the_plan_rejects_what_it_should():
    """The table itself, on examples (so an edit that empties it cannot pass silently)."""
    assert not floors.allowed("ebiz.payments.service", "ebiz.orders.service")  # payments knows no payables
    assert not floors.allowed("ebiz.catalog.views", "ebiz.delivery.service")
    assert not floors.allowed("ebiz.wallet.service", "ebiz.delivery.models")  # same floor, not peers
    assert not floors.allowed("ebiz.money", "ebiz.accounts.models")
    assert floors.allowed("ebiz.orders.service", "ebiz.wallet.service")
    assert floors.allowed("ebiz.accounts.service", "ebiz.audit.service")  # ground-floor peers
    assert floors.allowed("ebiz", "ebiz.admin.views")
    assert floors.allowed("ebiz.orders.service", "sqlalchemy")


def test_the_checker_sees_imports_in_functions(tmp_path):
    """The parser finds a function's import and a relative one, and tells a commented one apart."""
    fake = tmp_path / "ebiz" / "catalog"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    (fake / "x.py").write_text("from ..errors import EbizError\n\ndef f():\n    from ..orders import service\n\n"
                               "def g():\n    # the app must exist first\n    from ebiz.wallet import models\n")
    (tmp_path / "ebiz" / "orders").mkdir()
    (tmp_path / "ebiz" / "orders" / "service.py").write_text("")
    found = _imports(fake / "x.py", root=tmp_path)
    assert [(i.target, i.in_function, i.explained) for i in found] == [
        ("ebiz.errors", False, True), ("ebiz.orders.service", True, False), ("ebiz.wallet", True, True)]


def test_readme_quotes_the_plan():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    quoted = "\n".join("    " + line for line in floors.render().splitlines())  # a Markdown code block
    assert quoted in readme, "README.md's floor plan differs from ebiz/floors.py: paste floors.render()"

