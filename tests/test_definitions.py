"""The Dagster code location loads, and its asset keys are a deliberate contract (snapshot)."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from tiepulse.pipelines.definitions import defs

RENAMED_IN_006 = {
    "staging/int_mail_sightings": "staging/stg_mail_sightings",
    "staging/int_event_sightings": "staging/stg_event_sightings",
    "staging/int_addresses_resolved": "intermediate/int_addresses_resolved",
    "marts/int_interactions": "marts/fct_interactions",
    "marts/int_interaction_exclusions": "marts/mart_interaction_exclusions",
    "staging/dim_person": "marts/dim_person",
    "staging/stg_egos": "marts/dim_ego",
    "staging/stg_contacts": "marts/dim_contact",
    "staging/stg_messages": "marts/fct_messages",
    "staging/stg_message_recipients": "marts/fct_message_recipients",
    "staging/stg_events": "marts/fct_events",
    "staging/stg_event_attendees": "marts/fct_event_attendees",
    "staging/stg_manual_interactions": "marts/fct_manual_interactions",
}
"""Keys renamed when models were named by layer (docs/data-model.md, sql/migrations/006_model_layers.sql)."""

EXPECTED_ASSETS = {
    "raw/calendar_events",
    "raw/config_aliases",
    "raw/config_egos",
    "raw/config_identity",
    "raw/contacts",
    "raw/directory",
    "raw/gcal_events",
    "raw/gmail_messages",
    "raw/graph_events",
    "raw/graph_messages",
    "raw/mail_messages",
    "raw/manual_interactions",
    "staging/stg_config_aliases",
    "staging/stg_config_egos",
    "staging/stg_config_identity",
    "staging/stg_contact_list",
    "staging/stg_directory",
    "staging/stg_event_sightings",
    "staging/stg_interaction_log",
    "staging/stg_mail_sightings",
    "staging/stg_observation_months",
    "intermediate/int_observation_windows",
    "intermediate/int_addresses_resolved",
    "intermediate/int_ego_addresses_inferred",
    "intermediate/int_ego_sent_offsets",
    "intermediate/int_ego_timezones_inferred",
    "intermediate/int_message_copies_matched",
    "intermediate/int_x500_address_paths",
    "intermediate/int_x500_addresses_linked",
    "marts/dim_contact",
    "marts/dim_ego",
    "marts/dim_person",
    "marts/fct_event_attendees",
    "marts/fct_interactions",
    "marts/fct_events",
    "marts/fct_manual_interactions",
    "marts/fct_message_recipients",
    "marts/fct_messages",
    "marts/mart_alerts",
    "marts/mart_org_people",
    "marts/mart_org_groups",
    "marts/mart_group_matrix",
    "marts/mart_org_summary",
    "marts/mart_introductions",
    "marts/mart_communities_of_practice",
    "marts/mart_community_vitality",
    "marts/mart_interaction_exclusions",
    "marts/mart_network_health",
    "marts/mart_ties",
    "marts/mart_ties_monthly",
    "bi/snapshot",
    "reports/html",
}


def test_asset_keys_snapshot() -> None:
    keys = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}
    assert keys == EXPECTED_ASSETS


def test_renames_are_recorded() -> None:
    assert not set(RENAMED_IN_006) & EXPECTED_ASSETS
    assert set(RENAMED_IN_006.values()) <= EXPECTED_ASSETS
    documented = (Path(__file__).parents[1] / "docs" / "data-model.md").read_text(encoding="utf-8")
    for old, new in RENAMED_IN_006.items():
        assert f"| `{old.replace('/', '.')}` | `{new.replace('/', '.')}` |" in documented


def test_lineage_follows_the_sql() -> None:
    graph = defs.resolve_asset_graph()
    parents = {k.to_user_string() for k in graph.get(dg.AssetKey(["marts", "fct_messages"])).parent_keys}
    assert parents == {
        "staging/stg_mail_sightings",
        "intermediate/int_addresses_resolved",
        "intermediate/int_message_copies_matched",
        "marts/fct_message_recipients",
    }
    sightings = graph.get(dg.AssetKey(["staging", "stg_mail_sightings"])).parent_keys
    assert {k.to_user_string() for k in sightings} == {"raw/mail_messages", "raw/gmail_messages", "raw/graph_messages"}


def test_publication_waits_for_every_mart() -> None:
    graph = defs.resolve_asset_graph()
    marts = {k for k in graph.get_all_asset_keys() if k.path[0] == "marts"}
    assert set(graph.get(dg.AssetKey(["bi", "snapshot"])).parent_keys) == marts


def test_layers_point_one_way() -> None:
    """Staging reads raw only; intermediate reads staging; marts read any model layer, never raw."""
    allowed = {
        "staging": {"raw"},
        "intermediate": {"staging", "intermediate"},
        "marts": {"staging", "intermediate", "marts"},
    }
    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        layer = key.path[0]
        if layer in allowed:
            assert {p.path[0] for p in graph.get(key).parent_keys} <= allowed[layer], key.to_user_string()


def test_groups_by_layer_and_single_writer_pool() -> None:
    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        assert node.group_name == key.path[0]
        if node.is_materializable:
            assert node.pools == {"duckdb_warehouse"}


def test_schedule_job_and_checks_resolve() -> None:
    assert defs.resolve_schedule_def("daily_refresh").cron_schedule == "0 6 * * *"
    assert defs.resolve_job_def("refresh_warehouse") is not None
    checks = {(k.asset_key.to_user_string(), k.name) for k in defs.resolve_asset_graph().asset_check_keys}
    assert ("marts/fct_messages", "quality") in checks and ("marts/dim_person", "row_count") in checks
    assert ("marts/mart_ties", "quality") in checks and ("marts/mart_alerts", "quality") in checks
    assert {s.name for s in defs.sensors or []} >= {"new_alerts_sensor", "google_accounts_sensor"}
