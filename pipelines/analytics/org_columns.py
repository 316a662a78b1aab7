"""What each column of the ONA marts means: the Dagster column schema, the tables' comments and docs/data-model.md."""

from __future__ import annotations

CURRENT = "current"
"""The period of the window ending at the analysis date (the others are months, 'YYYY-MM')."""
PERIOD = "'current' (the window ending at the analysis date) or 'YYYY-MM' (the window ending at that month's end)"

ORG_PEOPLE = {
    "period": PERIOD,
    "person_id": "Person (canonical address), or '@domain' for outside contacts collapsed per domain",
    "display_name": "Name from the directory, else the most common name seen",
    "team": "Directory team (null when the directory does not say)",
    "department": "Directory department",
    "community_id": "Leiden community; ids kept stable across runs and months by overlap",
    "degree_in": "Distinct people who wrote to or met this person",
    "degree_out": "Distinct people this person wrote to or met",
    "weighted_degree": "Sum of tie weights, both directions (channel richness x intimacy, undecayed)",
    "betweenness": "Share of shortest paths (hops) between other pairs through this person, 0-1",
    "harmonic_centrality": "Mean of 1 / hops to every other person (0 when unreachable), 0-1",
    "pagerank": "PageRank on the directed weighted graph (damping 0.85); sums to 1 per period",
    "clustering": "Share of this person's contact pairs who are tied to each other",
    "bridge_score": "Share of this person's tie weight that goes to other communities",
    "broker_role": "Most frequent Gould-Fernandez role across teams (else communities), or 'none'",
    "brokerage": "Open two-paths this person brokers across groups (all roles but coordinator)",
    "is_broker": "Among the 5% highest betweenness of the period",
    "is_key_person": "Articulation point: removing the person disconnects part of the graph",
    "is_internal": "Inside the organisation (false: a collapsed outside domain)",
    "is_observed": "The person's own mailbox or calendar is imported",
}
ORG_GROUPS = {
    "period": PERIOD,
    "group_type": "team, department, org_unit, location or community",
    "group_name": "The group; 'unknown' for people without the attribute, 'other' for merged small groups",
    "size": "People of the group in the period's graph (null when suppressed)",
    "internal_density": "Ties inside the group over possible pairs",
    "ei_index": "Krackhardt's E-I index over distinct ties: (external - internal) / (external + internal); -1 = silo",
    "outside_share": "Share of the group's tie weight that crosses its boundary",
    "bridging_people": "Members with at least one tie outside the group",
    "key_person_risk": "Share of the group's outside tie weight carried by its single busiest member",
    "is_suppressed": "Fewer people than privacy.min_group_size even after merging: no figures shown",
    "min_group_size": "The privacy threshold in force when the row was written",
}
GROUP_MATRIX = {
    "period": PERIOD,
    "group_type": "team, department, org_unit, location or community",
    "from_group": "Sending group (messages) / one side (meetings)",
    "to_group": "Receiving group / other side",
    "messages": "Messages from members of from_group to members of to_group",
    "meeting_hours": "Meeting hours shared by the pairs (each meeting's minutes / attendees, per pair)",
    "distinct_ties": "Distinct person pairs with contact in this direction",
}
ORG_SUMMARY = {
    "month": "Month start; the graph is the window ending at the month end (the running month: the analysis date)",
    "nodes": "People (and collapsed outside domains) with a tie in the window",
    "edges": "Undirected ties",
    "density": "Ties over possible pairs",
    "clustering": "Global transitivity (closed triplets over triplets)",
    "modularity": "Weighted modularity of the Leiden communities",
    "communities": "Number of Leiden communities",
    "giant_component_share": "Share of nodes in the largest connected component",
    "reciprocity": "Share of directed ties answered in the other direction",
    "avg_path_length": "Mean hops between connected pairs (estimated from pivots on large graphs)",
    "median_health": "Median health score (0-100) of the egos active that month",
    "observed_people": "Nodes whose own mailbox or calendar is imported",
    "community_team_nmi": "Normalised mutual information of communities vs formal teams (null without teams)",
    "community_team_ari": "Adjusted Rand index of communities vs formal teams (null without teams)",
}
