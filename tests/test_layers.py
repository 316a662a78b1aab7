"""Layers point one way: connectors <- core <- pipelines <- cli; the sample generator stands alone.

Every import in the package is read from the source (including imports inside functions), so an upward import
fails here whatever path reaches it at run time.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "tiepulse"

# What each layer may import from tiepulse, besides itself.
ALLOWED: dict[str, set[str]] = {
    "connectors": set(),
    "sample": set(),
    "core": {"connectors"},
    "pipelines": {"connectors", "core"},
    "cli": {"connectors", "core", "pipelines", "sample"},
}


def _layer(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "tiepulse":
        return None
    return parts[1] if len(parts) > 1 else ""


def _module_name(path: Path) -> str:
    relative = path.relative_to(ROOT).with_suffix("")
    parts = list(relative.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path, module: str | None = None) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in the file, relative ones resolved against ``module``."""
    module = module or _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                name = ".".join([*base, node.module] if node.module else base)
            else:
                name = node.module or ""
            found.append((node.lineno, name))
    return sorted(found)


def _package_files() -> list[Path]:
    # rglob does not follow the links to connectors/ and pipelines/, so walk each layer's folder explicitly.
    return sorted(p for layer in ALLOWED for p in (PACKAGE / layer).rglob("*.py"))


def test_every_layer_is_a_folder_of_the_package() -> None:
    assert {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()} == set(ALLOWED)


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_no_layer_imports_upward(layer: str) -> None:
    upward = []
    for path in (PACKAGE / layer).rglob("*.py"):
        for line, name in _imports(path):
            target = _layer(name)
            if target is not None and target not in {layer, *ALLOWED[layer]}:
                upward.append(f"{path.relative_to(PACKAGE)}:{line} imports {name}")
    assert upward == []


def test_nothing_imports_the_source_folders_by_their_bare_names() -> None:
    bare = []
    for path in [*_package_files(), *(ROOT / "tests").rglob("*.py"), *(ROOT / "benchmarks").rglob("*.py")]:
        for line, name in _imports(path):
            if name.split(".")[0] in {"connectors", "pipelines"}:
                bare.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
    assert bare == []


def test_the_check_sees_function_level_and_relative_imports(tmp_path: Path) -> None:
    """A check that finds nothing proves nothing: the walk must see imports inside functions and relative ones."""
    probe = tmp_path / "probe.py"
    probe.write_text(
        "def f():\n    from tiepulse.pipelines.loader import commit_pages\n\nfrom ..core import settings\n"
    )
    found = _imports(probe, module="tiepulse.connectors.probe")
    assert [(_layer(name), name) for _, name in found] == [
        ("pipelines", "tiepulse.pipelines.loader"),
        ("core", "tiepulse.core"),
    ]
