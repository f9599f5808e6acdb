"""The layout rules, read from the source: SQL only inside ``store/``, no ``project: Any`` parameters, and test
files that import no other test file (shared pieces live in ``tests/conftest.py`` and ``tests/helpers/``)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import labelf_trainer

PACKAGE = Path(labelf_trainer.__file__).resolve().parent
STORE = PACKAGE / "store"
#: the start of an SQL statement (upper case, as every statement of the store is written)
SQL = re.compile(r"\b(SELECT\s+(?:DISTINCT\s+)?[\w*(]|INSERT\s+(?:OR\s+\w+\s+)?INTO\s|UPDATE\s+\w+\s+SET\s|"
                 r"DELETE\s+FROM\s|CREATE\s+(?:TEMP\s+|TEMPORARY\s+)?TABLE\s|CREATE\s+(?:UNIQUE\s+)?INDEX\s|"
                 r"DROP\s+TABLE\s|ALTER\s+TABLE\s|PRAGMA\s+\w+)")


def modules() -> list[Path]:
    found = sorted(PACKAGE.rglob("*.py"))
    assert len(found) > 50, found  # the package itself, not an empty folder
    return found


def strings(tree: ast.AST) -> list[tuple[int, str]]:
    """Every string literal with its line, f-strings as their constant parts joined (``{}`` for a value)."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            out.append((node.lineno, "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            out.append((node.lineno, node.value))
    return out


def docstrings(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                ids.add(id(first.value))
    return ids


def test_the_pattern_finds_sql() -> None:
    for stmt in ("SELECT item_id FROM annotations", "SELECT COUNT(*) AS n FROM items", "INSERT OR IGNORE INTO kv",
                 "UPDATE models SET routing = ?", "DELETE FROM models WHERE id = ?", "CREATE TABLE IF NOT EXISTS x",
                 "PRAGMA journal_mode"):
        assert SQL.search(stmt), stmt
    for prose in ("Select the texts to label", "delete from the tool", "UPDATED_AT", "ANNOTATIONS_DELETED"):
        assert not SQL.search(prose), prose


def test_no_sql_outside_the_store() -> None:
    found = []
    for path in modules():
        if STORE in path.parents:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        skip = docstrings(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
                if SQL.search(node.value):
                    found.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}: {node.value[:60]!r}")
            elif isinstance(node, ast.JoinedStr):
                text = "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
                if SQL.search(text):
                    found.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}: {text[:60]!r}")
    assert not found, "SQL outside labelf_trainer/store/:\n" + "\n".join(found)
    # and the store does hold the statements
    assert sum(1 for p in STORE.rglob("*.py") for _, s in strings(ast.parse(p.read_text(encoding="utf-8")))
               if SQL.search(s)) > 20


def test_no_parameter_is_typed_project_any() -> None:
    found = []
    for path in modules():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            a = node.args
            for arg in [*a.posonlyargs, *a.args, *a.kwonlyargs]:
                ann = ast.unparse(arg.annotation) if arg.annotation is not None else ""
                if arg.arg == "project" and ann.strip("'\"") in ("Any", "typing.Any", "t.Any", "object"):
                    found.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}: {node.name}(project: {ann})")
    assert not found, "\n".join(found)


def test_no_test_file_imports_another_test_file() -> None:
    tests = Path(__file__).resolve().parent
    local = {p.stem for p in tests.glob("*.py")}
    found = []
    for path in sorted(tests.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0 else []
            for name in names:
                if name.split(".")[0] in local:  # test_x, conftest: only pytest imports those
                    found.append(f"{path.relative_to(tests)}:{node.lineno}: {name}")
    assert not found, "\n".join(found)
