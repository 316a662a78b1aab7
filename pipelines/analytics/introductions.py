"""Introductions: people two steps away, in circles the ego does not reach, through the ego's tie who knows them.

On one period's organisation graph (undirected ties), for every observed ego ``e``:

- the ego *reaches* a community (or a team) when the ego or one of the ego's contacts belongs to it;
- a *candidate* ``c`` is an internal person at exactly two steps (a contact of a contact, not a contact, not ``e``)
  whose community is not reached (``new_circle`` 'community') or, failing that, whose team is not reached ('team');
- the *via* is the contact ``b`` tied to both with the strongest weakest link ``min(w(e, b), w(b, c))``
  (an introduction is as warm as its colder tie); ``mutual_contacts`` counts every such ``b``;
- ``path_strength`` is that weakest link over the period's median tie weight (1 = a typical tie), and
  ``score = novelty * s / (1 + s)`` with ``s = path_strength`` and novelty 1 for a new community, 0.5 for a new
  team only; candidates rank by score, then mutual contacts, then id; the first ``limit`` per ego are kept.

Everything is set work on Polars frames (joins over the tie list); egos are expanded in chunks so that the
contact-of-contact rows stay bounded on a large organisation.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

import polars as pl

from tiepulse.pipelines.analytics.common import Frame
from tiepulse.pipelines.analytics.ona import communities, stable_labels
from tiepulse.pipelines.analytics.org_graph import OrgGraph, build_org_graph, period_window
from tiepulse.pipelines.analytics.org_marts import OrgOptions
from tiepulse.pipelines.org_ties import WindowTies

PER_EGO = 20
"""Suggestions kept per ego in the mart (the CLI shows fewer by default)."""
MAX_EXPANSION_ROWS = 4_000_000
"""Contact-of-contact rows built at once; egos are processed in chunks under this bound."""
NOVELTY = {"community": 1.0, "team": 0.5}
Plan = Literal["paths", "candidates"]
"""How ``two_step_candidates`` walks the graph."""

INTRODUCTION_SCHEMA: dict[str, pl.DataType] = {
    "ego_id": pl.String(),
    "rank": pl.Int64(),
    "person_id": pl.String(),
    "display_name": pl.String(),
    "team": pl.String(),
    "department": pl.String(),
    "community_id": pl.Int64(),
    "new_circle": pl.String(),
    "via_id": pl.String(),
    "via_name": pl.String(),
    "mutual_contacts": pl.Int64(),
    "path_strength": pl.Float64(),
    "score": pl.Float64(),
    "reason": pl.String(),
    "as_of": pl.Date(),
}


def _adjacency(graph: OrgGraph) -> pl.DataFrame:
    """Each undirected tie in both orientations: ``a``, ``b``, ``w``."""
    ties = graph.undirected.select("u", "v", w="weight")
    return pl.concat([ties.select(a="u", b="v", w="w"), ties.select(a="v", b="u", w="w")])


def two_step_candidates(graph: OrgGraph, community: pl.Series, plan: Plan | None = None) -> pl.DataFrame:
    """Every (ego, candidate, via) path ``e - b - c`` to a person in a circle the ego does not reach.

    ``community`` is each vertex's community id (by ``v``). Returns ``e``, ``c``, ``b``, ``w_eb``, ``w_bc``,
    ``new_circle``. Egos are the observed internal people; candidates and vias internal people. ``plan``:
    ``paths`` (every two-step path, then the candidates among them) or ``candidates`` (the people in circles the
    ego does not reach, then the paths to them); by default the cheaper: about mean degree squared rows per ego
    against the number of people. In a dense graph (a company's all-hands meetings tie nearly everyone) almost
    every circle is reached and the paths are most of the work."""
    nodes = graph.nodes.select("v", "is_internal", "is_observed", "team").with_columns(community=community)
    internal = nodes.filter(pl.col("is_internal")).select("v")
    everyone = _adjacency(graph)
    # vias and candidates are people of the organisation (an outside domain introduces nobody)
    adj = everyone.join(internal, left_on="b", right_on="v", how="semi")
    egos = nodes.filter(pl.col("is_internal") & pl.col("is_observed")).get_column("v")
    degree = adj.group_by("a").len()
    mean_degree = float(degree.get_column("len").mean() or 1.0)  # type: ignore[arg-type]
    squared = max(mean_degree * mean_degree, 1.0)
    chunk = max(1, int(MAX_EXPANSION_ROWS // squared))
    labels = nodes.select("v", "team", "community")
    if plan is None:
        plan = "candidates" if internal.height <= squared else "paths"
    targets = labels.join(internal, on="v", how="semi") if plan == "candidates" else None
    parts = [_candidates_of(egos.slice(i, chunk), everyone, adj, labels, targets) for i in range(0, egos.len(), chunk)]
    schema = {"e": pl.Int64, "c": pl.Int64, "b": pl.Int64, "w_eb": pl.Float64, "w_bc": pl.Float64}
    return pl.concat(parts) if parts else pl.DataFrame(schema={**schema, "new_circle": pl.String})


def _candidates_of(
    egos: pl.Series, everyone: pl.DataFrame, adj: pl.DataFrame, labels: pl.DataFrame, targets: pl.DataFrame | None
) -> pl.DataFrame:
    """The paths of ``egos``; ``everyone``: every tie both ways, ``adj``: the ties to people of the organisation;
    ``targets``: the people of the organisation's labels, to start from the candidates (None: from the paths)."""
    contacts = everyone.filter(pl.col("a").is_in(egos.implode())).select(e="a", v="b")
    first = adj.filter(pl.col("a").is_in(egos.implode())).select(e="a", b="b", w_eb="w")
    # what the ego reaches: its own and every contact's communities and teams (an outside domain's too)
    circle = pl.concat([contacts.select("e", v="e"), contacts]).join(labels, on="v")
    communities = circle.select("e", "community").unique()
    teams = circle.select("e", "team").drop_nulls().unique()
    onward = adj.select(b="a", c="b", w_bc="w")
    if targets is None:
        pairs = first.join(onward, on="b").filter(pl.col("c") != pl.col("e")).join(labels.rename({"v": "c"}), on="c")
    else:
        pairs = egos.to_frame("e").join(targets.rename({"v": "c"}), how="cross").filter(pl.col("c") != pl.col("e"))
    found = (
        pairs.join(communities.with_columns(known_community=pl.lit(True)), on=["e", "community"], how="left")
        .join(teams.with_columns(known_team=pl.lit(True)), on=["e", "team"], how="left")
        .with_columns(
            new_circle=pl.when(pl.col("known_community").is_null())
            .then(pl.lit("community"))
            .when(pl.col("known_team").is_null() & pl.col("team").is_not_null())
            .then(pl.lit("team"))
        )
        .filter(pl.col("new_circle").is_not_null())
    )
    if targets is not None:  # the candidates' paths: a via the ego knows, who knows the candidate
        found = found.select("e", "c", "new_circle").join(onward, on="c").join(first, on=["e", "b"])
    return found.join(first.select("e", c="b"), on=["e", "c"], how="anti").select(
        "e", "c", "b", "w_eb", "w_bc", "new_circle"
    )


def introductions(graph: OrgGraph, community: pl.Series, as_of: dt.date, limit: int = PER_EGO) -> pl.DataFrame:
    """The ranked introductions of every observed ego (``INTRODUCTION_SCHEMA``), ``limit`` per ego."""
    paths = two_step_candidates(graph, community)
    if paths.is_empty():
        return pl.DataFrame(schema=INTRODUCTION_SCHEMA)
    median = float(graph.undirected.get_column("weight").median() or 1.0)  # type: ignore[arg-type]
    ranked = (
        paths.with_columns(link=pl.min_horizontal("w_eb", "w_bc"))
        .sort(["e", "c", "link", "b"], descending=[False, False, True, False])
        .group_by("e", "c", maintain_order=True)
        .agg(
            b=pl.col("b").first(),
            link=pl.col("link").first(),
            mutual_contacts=pl.len().cast(pl.Int64),
            new_circle=pl.col("new_circle").first(),
        )
        .with_columns(path_strength=pl.col("link") / median)
        .with_columns(
            score=pl.col("new_circle").replace_strict(NOVELTY, return_dtype=pl.Float64)
            * pl.col("path_strength")
            / (1 + pl.col("path_strength"))
        )
        .sort(["e", "score", "mutual_contacts", "c"], descending=[False, True, True, False])
        .with_columns(rank=pl.int_range(1, pl.len() + 1, dtype=pl.Int64).over("e"))
        .filter(pl.col("rank") <= limit)
    )
    nodes = graph.nodes.select("v", "node_id", "display_name", "team", "department").with_columns(
        community_id=community
    )
    named = (
        ranked.join(nodes.rename({"v": "c"}), on="c")
        .join(nodes.select(e="v", ego_id="node_id"), on="e")
        .join(nodes.select(b="v", via_id="node_id", via_name=pl.coalesce("display_name", "node_id")), on="b")
        .with_columns(as_of=pl.lit(as_of, dtype=pl.Date))
    )
    return (
        named.with_columns(person_id="node_id", reason=_reason())
        .select(list(INTRODUCTION_SCHEMA))
        .cast(INTRODUCTION_SCHEMA)  # type: ignore[arg-type]
        .sort("ego_id", "rank")
    )


def _reason() -> pl.Expr:
    """One plain sentence: who, which circle the ego does not reach, through whom, how many mutual contacts."""
    who = pl.coalesce("display_name", "node_id")
    circle = (
        pl.when(pl.col("new_circle") == "community")
        .then(pl.lit("community ") + pl.col("community_id").cast(pl.String))
        .otherwise(pl.lit("team ") + pl.col("team"))
    )
    team = pl.when(pl.col("team").is_not_null()).then(pl.lit(" (") + pl.col("team") + pl.lit(")")).otherwise(pl.lit(""))
    others = (
        pl.when(pl.col("mutual_contacts") > 1)
        .then(pl.lit(" You share ") + pl.col("mutual_contacts").cast(pl.String) + pl.lit(" contacts with them."))
        .otherwise(pl.lit(""))
    )
    return pl.concat_str(
        who,
        team,
        pl.lit(" is in "),
        circle,
        pl.lit(", where neither you nor any of your contacts are. "),
        pl.col("via_name"),
        pl.lit(" works with both of you: ask "),
        pl.col("via_name"),
        pl.lit(" for an introduction."),
        others,
    )


def introductions_as_of(
    ties: WindowTies,
    persons: Frame,
    egos: list[str],
    as_of: dt.date,
    options: OrgOptions,
    labels: pl.DataFrame | None = None,
    limit: int = PER_EGO,
) -> pl.DataFrame:
    """The introductions on the 'current' graph at ``as_of`` (the window the ONA marts' 'current' period uses).

    ``labels`` (``node_id``, ``community_id``: the published people mart's current period) gives the communities,
    so the suggestions name the communities ``tiepulse org`` and the BI snapshot show; without them (another date)
    the communities are detected here, their ids matched to nothing."""
    start, stop = period_window(as_of, options.window_days)
    graph = build_org_graph(ties.ties(start, stop), persons, egos, options.outside_contacts)
    nodes = graph.nodes.select("v", "node_id")
    if labels is None or labels.is_empty():
        membership, _ = communities(graph.graph, options.paths.seed)
        labels = stable_labels(nodes.select("node_id", raw=pl.Series(membership, dtype=pl.Int64)), None)
    community = nodes.join(labels.select("node_id", "community_id"), on="node_id", how="left").sort("v")
    # a person absent from the labels (none when they come from the same refresh) is a community of their own
    missing = pl.col("community_id").is_null()
    filled = community.with_columns(
        pl.when(missing).then(-1 - pl.col("v")).otherwise(pl.col("community_id")).alias("community_id")
    )
    return introductions(graph, filled.get_column("community_id"), as_of, limit)
