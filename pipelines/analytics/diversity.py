"""Diversity of each ego's active ties: Shannon entropy and Blau index over teams, departments and domains.

For a composition with shares ``p_k`` over groups ``k``: entropy ``H = -sum p_k ln p_k`` (0 when everyone is
in one group, ``ln K`` when spread evenly over ``K``), Blau ``B = 1 - sum p_k^2`` (the chance that two alters
drawn at random belong to different groups). Shares count alters, not volume: a diverse network is one with
people from many places, however often one meets each. Alters with an unknown group are left out of that
composition.
"""

from __future__ import annotations

import polars as pl

from tiepulse.pipelines.analytics.common import Frame, lazy

DIVERSITY_COLUMNS: list[str] = [
    "n_teams_reached",
    "n_departments_reached",
    "n_external_domains",
    "external_share",
    "team_entropy",
    "team_blau",
    "department_entropy",
    "department_blau",
    "domain_entropy",
    "domain_blau",
    "community_entropy",
    "community_blau",
]


def composition_indices(labelled: Frame, label: str, prefix: str) -> pl.LazyFrame:
    """Entropy, Blau and group count per ego of the non-null ``label`` column (one row per ego and alter)."""
    counts = (
        lazy(labelled)
        .filter(pl.col(label).is_not_null())
        .group_by("ego_id", label)
        .agg(n=pl.len())
        .with_columns(p=pl.col("n") / pl.col("n").sum().over("ego_id"))
    )
    return counts.group_by("ego_id").agg(
        **{
            # sum p ln(1/p): every term >= 0, so one group gives 0.0, never -0.0
            f"{prefix}_entropy": (pl.col("p") * (1.0 / pl.col("p")).log()).sum(),
            f"{prefix}_blau": 1.0 - (pl.col("p") ** 2).sum(),
            f"{prefix}_groups": pl.len().cast(pl.Int32),
        }
    )


def compute_diversity(active_ties: Frame) -> pl.DataFrame:
    """Diversity per ego over the given ties (``alter_team``, ``alter_department``, ``alter_domain``,
    ``alter_is_internal`` as in mart_ties). Pass the ties active in the window you want described.

    The community of an alter is its department (else team) when internal and its domain when external.
    """
    ties = lazy(active_ties).with_columns(internal=pl.col("alter_is_internal").fill_null(False))
    internal = pl.col("internal")
    labelled = ties.select(
        "ego_id",
        team=pl.when(internal).then(pl.col("alter_team")),
        department=pl.when(internal).then(pl.col("alter_department")),
        domain=pl.when(~internal).then(pl.col("alter_domain")),
        community=pl.when(internal)
        .then(pl.lit("org:") + pl.coalesce("alter_department", "alter_team"))
        .otherwise(pl.lit("ext:") + pl.col("alter_domain")),
    )
    egos = ties.group_by("ego_id").agg(external_share=(~internal).mean())
    out = egos
    for label in ("team", "department", "domain", "community"):
        out = out.join(composition_indices(labelled, label, label), on="ego_id", how="left")
    return (
        out.select(
            "ego_id",
            n_teams_reached=pl.col("team_groups").fill_null(0),
            n_departments_reached=pl.col("department_groups").fill_null(0),
            n_external_domains=pl.col("domain_groups").fill_null(0),
            external_share="external_share",
            **{
                f"{label}_{index}": pl.col(f"{label}_{index}").fill_null(0.0)
                for label in ("team", "department", "domain", "community")
                for index in ("entropy", "blau")
            },
        )
        .sort("ego_id")
        .collect()
    )
