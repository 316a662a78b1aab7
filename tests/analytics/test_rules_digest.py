"""The analysis code's digest a mart's history depends on: the modules it runs, followed through their imports, and
no others (``fingerprint.rules_digest``)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tiepulse.pipelines import ego_marts, interaction_records, org_reuse
from tiepulse.pipelines.analytics.fingerprint import PACKAGE_DIR, rules_digest, rules_modules

EGO_MARTS = Path(ego_marts.__file__)
ONA = Path(org_reuse.__file__)
INTERACTIONS = Path(interaction_records.__file__)
ALL = sorted(f.stem for f in PACKAGE_DIR.glob("*.py"))


def test_the_modules_a_mart_runs_are_its_imports_followed_through_the_package() -> None:
    # by hand from the import lines: ego_marts names brokerage, chain, common, coverage, fingerprint, health,
    # monthly and ties; chain adds alerts; health adds diversity; fingerprint, monthly and the rest add nothing new
    assert rules_modules(EGO_MARTS) == [
        "alerts", "brokerage", "chain", "common", "coverage", "diversity", "fingerprint", "health", "monthly", "ties",
    ]  # fmt: skip
    assert rules_modules(INTERACTIONS) == ["common", "fingerprint", "interactions", "monthly", "ties"]
    ona = rules_modules(ONA)
    assert {"org_marts", "ona", "org_graph", "org_groups"} <= set(ona)
    assert not {"introductions", "health", "narrative", "practice"} & set(ona)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import tiepulse.pipelines.analytics.diversity as d\n", ["common", "diversity"]),
        ("from tiepulse.pipelines.analytics.diversity import compute_diversity\n", ["common", "diversity"]),
        ("from tiepulse.pipelines.analytics import compute_ties\n", ALL),  # the package: everything it re-exports
        ("from tiepulse.pipelines import analytics\n", ALL),
        ("import tiepulse.pipelines.marts_io\nimport polars\n", []),
    ],
)
def test_every_way_of_naming_a_module_counts(tmp_path: Path, source: str, expected: list[str]) -> None:
    root = tmp_path / "caller.py"
    root.write_text(source, encoding="utf-8")
    assert rules_modules(root) == expected


def test_comments_docstrings_and_layout_leave_the_digest_as_it_is(tmp_path: Path) -> None:
    copy = tmp_path / "analytics"
    shutil.copytree(PACKAGE_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    ties = copy / "ties.py"
    text = ties.read_text(encoding="utf-8")
    prose = text.replace('"""', '"""Reworded. ', 1).replace("\n\n\n", "\n\n\n# a note\n\n\n", 1)
    ties.write_text(prose, encoding="utf-8")
    assert rules_digest(EGO_MARTS, copy) == rules_digest(EGO_MARTS)
    ties.write_text(text.replace("math.log(2.0)", "math.log(2.0) * 1.0", 1), encoding="utf-8")
    assert "math.log(2.0)" in text
    assert rules_digest(EGO_MARTS, copy) != rules_digest(EGO_MARTS)


@pytest.mark.parametrize(
    ("edited", "changes"),
    [
        ("introductions.py", set()),
        ("narrative.py", set()),
        ("ona.py", {"ona"}),
        ("interactions.py", {"interactions"}),
        ("diversity.py", {"ego marts"}),
        ("ties.py", {"ego marts", "ona", "interactions"}),
    ],
)
def test_a_change_to_a_module_changes_the_digest_of_the_marts_that_run_it(
    tmp_path: Path, edited: str, changes: set[str]
) -> None:
    copy = tmp_path / "analytics"
    shutil.copytree(PACKAGE_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    roots = {"ego marts": EGO_MARTS, "ona": ONA, "interactions": INTERACTIONS}
    assert all(rules_digest(root, copy) == rules_digest(root) for root in roots.values())  # a copy is the same
    module = copy / edited
    module.write_text(module.read_text(encoding="utf-8") + "\nCHANGED_RULE = 1\n", encoding="utf-8")
    changed = {name for name, root in roots.items() if rules_digest(root, copy) != rules_digest(root)}
    assert changed == changes
