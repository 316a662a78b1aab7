"""The Dagster code location loads, and its asset keys are a deliberate contract (snapshot)."""

from __future__ import annotations

import dagster as dg

from tiepulse.pipelines.definitions import defs

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
    "marts/int_interaction_exclusions",
    "marts/int_interactions",
    "marts/mart_alerts",
    "marts/mart_network_health",
    "marts/mart_ties",
    "marts/mart_ties_monthly",
    "staging/dim_person",
    "staging/int_addresses_resolved",
    "staging/int_event_sightings",
    "staging/int_mail_sightings",
    "staging/stg_contacts",
    "staging/stg_egos",
    "staging/stg_event_attendees",
    "staging/stg_events",
    "staging/stg_manual_interactions",
    "staging/stg_message_recipients",
    "staging/stg_messages",
}


def test_asset_keys_snapshot() -> None:
    keys = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}
    assert keys == EXPECTED_ASSETS


def test_lineage_follows_the_sql() -> None:
    graph = defs.resolve_asset_graph()
    parents = {k.to_user_string() for k in graph.get(dg.AssetKey(["staging", "stg_messages"])).parent_keys}
    assert parents == {"staging/int_mail_sightings", "staging/int_addresses_resolved", "staging/stg_message_recipients"}
    sightings = graph.get(dg.AssetKey(["staging", "int_mail_sightings"])).parent_keys
    assert {k.to_user_string() for k in sightings} == {"raw/mail_messages", "raw/gmail_messages", "raw/graph_messages"}


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
    assert ("staging/stg_messages", "quality") in checks and ("staging/dim_person", "row_count") in checks
    assert ("marts/mart_ties", "quality") in checks and ("marts/mart_alerts", "quality") in checks
    assert {s.name for s in defs.sensors or []} >= {"new_alerts_sensor", "google_accounts_sensor"}
