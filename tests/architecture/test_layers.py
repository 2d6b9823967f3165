"""The layout holds: imports between top-level packages only point down, and SendGrid's
wire format is spelled only in providers/sendgrid/."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Bottom to top; a package may import only those before it (the README draws this map).
LAYERS = [
    "config",
    "store",
    "course",
    "emails",
    "providers",
    "runtime",
    "delivery",
    "subscribers",
    "tracking",
    "tasks",
    "web",
    "cli",
]
RANK = {name: rank for rank, name in enumerate(LAYERS)}

# SendGrid's JSON fields and headers: built and parsed only in providers/sendgrid/.
SENDGRID_WIRE = (
    "personalizations",
    "sg_event_id",
    "sg_message_id",
    "sg_machine_open",
    "custom_args",
    "X-Twilio-Email-Event-Webhook",
    "EventWebhook",
)


def _imports(path: Path) -> list[tuple[int, str]]:
    """Return (line, top-level module) of every absolute import in PATH, at any depth."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name.split(".")[0]) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module.split(".")[0]))
    return found


def _modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def test_every_top_level_package_has_a_layer():
    packages = {
        path.name
        for path in ROOT.iterdir()
        if (path / "__init__.py").exists() and path.name not in {"tests", "bench", "migrations"}
    }
    assert packages == set(LAYERS)


@pytest.mark.parametrize("package", LAYERS)
def test_imports_only_point_down(package):
    upward = [
        f"{path.relative_to(ROOT)}:{line} imports {target}"
        for path in _modules(package)
        for line, target in _imports(path)
        if target in RANK and RANK[target] > RANK[package]
    ]
    assert upward == []


def test_no_cycle_between_packages():
    edges = {package: set() for package in LAYERS}
    for package in LAYERS:
        for path in _modules(package):
            edges[package] |= {t for _, t in _imports(path) if t in RANK and t != package}
    # Ordering the packages by the layers proves the graph acyclic; check it independently.
    visiting: set[str] = set()
    done: set[str] = set()

    def visit(node: str, trail: tuple[str, ...]) -> None:
        assert node not in visiting, f"import cycle: {' -> '.join((*trail, node))}"
        if node in done:
            return
        visiting.add(node)
        for target in sorted(edges[node]):
            visit(target, (*trail, node))
        visiting.discard(node)
        done.add(node)

    for package in LAYERS:
        visit(package, ())


def test_the_check_catches_an_upward_import(tmp_path):
    module = tmp_path / "bad.py"
    module.write_text("def f():\n    from web.app import create_app\n")
    assert _imports(module) == [(2, "web")]


def test_sendgrid_wire_format_lives_in_providers_sendgrid_only():
    spelled = [
        f"{path.relative_to(ROOT)}: {word}"
        for package in LAYERS
        for path in _modules(package)
        if not path.is_relative_to(ROOT / "providers" / "sendgrid")
        for word in SENDGRID_WIRE
        if word in path.read_text(encoding="utf-8")
    ]
    assert spelled == []
