"""Import direction core <- accounts <- posts: core's own code imports no app of ours."""

import ast
from collections.abc import Iterator
from pathlib import Path

CORE = Path(__file__).resolve().parents[1]


def imported_modules(path: Path) -> Iterator[str]:
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module


def test_core_imports_no_app_of_ours() -> None:
    modules = [p for p in CORE.rglob("*.py") if "tests" not in p.relative_to(CORE).parts]

    offending = {
        f"{path.relative_to(CORE)}: {name}"
        for path in modules
        for name in imported_modules(path)
        if name.startswith(("blogapi.accounts", "blogapi.posts"))
    }

    assert len(modules) > 10
    assert offending == set()
