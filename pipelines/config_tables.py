"""Land the config file's identity facts (egos, aliases, internal domains, automation patterns) as raw tables."""

from __future__ import annotations

import duckdb
import pyarrow as pa

from tiepulse.connectors.addresses import AddressNormaliser
from tiepulse.core.keyed_writes import insert_missing
from tiepulse.core.settings import Config
from tiepulse.core.warehouse import transaction
from tiepulse.pipelines.erasure_list import ErasureFilter

_KEYS = {
    "raw.config_egos": ("ego", "address"),
    "raw.config_aliases": ("alias",),
    "raw.config_identity": ("kind", "value"),
}
"""Each config table's key (its primary key on a DuckDB file; kept by ``insert_missing`` on both backends)."""


def land_config(con: duckdb.DuckDBPyConnection, config: Config, normaliser: AddressNormaliser) -> None:
    """Replace ``raw.config_*`` with what the config says now, in one transaction."""

    def norm(address: str, where: str) -> str:
        value = normaliser.normalise(address)
        if value is None:
            raise ValueError(f"config {where}: {address!r} is not a valid email address")
        return value

    egos = []
    for i, ego in enumerate(config.egos):
        ego_id = norm(ego.email, f"egos[{i}].email")
        for address in dict.fromkeys([ego.email, *ego.addresses]):
            egos.append(
                {
                    "ego": ego_id,
                    "address": norm(address, f"egos[{i}].addresses"),
                    "name": None if normaliser.pseudonymised else ego.name,
                    "timezone": ego.timezone,
                    "work_start_hour": ego.working_hours[0],
                    "work_end_hour": ego.working_hours[1],
                    "work_days": list(ego.working_days),
                }
            )
    aliases = {}
    for canonical, others in config.aliases.items():
        target = norm(canonical, f"aliases.{canonical}")
        for other in others:
            aliases[norm(other, f"aliases.{canonical}")] = target
    identity = [{"kind": "internal_domain", "value": d.lower()} for d in config.identity.internal_domains]
    identity += [{"kind": "automated_pattern", "value": p} for p in config.identity.automated_patterns]
    identity += [{"kind": "group_pattern", "value": p} for p in config.identity.group_patterns]
    identity += [{"kind": "person_address", "value": norm(a, "identity.people")} for a in config.identity.people]
    identity += [
        {"kind": "keep_separate", "value": norm(a, "identity.keep_separate")} for a in config.identity.keep_separate
    ]

    tables = {
        "raw.config_egos": pa.Table.from_pylist(
            egos,
            schema=pa.schema(
                [
                    ("ego", pa.string()),
                    ("address", pa.string()),
                    ("name", pa.string()),
                    ("timezone", pa.string()),
                    ("work_start_hour", pa.int32()),
                    ("work_end_hour", pa.int32()),
                    ("work_days", pa.list_(pa.int32())),
                ]
            ),
        ),
        "raw.config_aliases": pa.Table.from_pylist(
            [{"alias": a, "canonical": c} for a, c in aliases.items() if a != c],
            schema=pa.schema([("alias", pa.string()), ("canonical", pa.string())]),
        ),
        "raw.config_identity": pa.Table.from_pylist(
            list({(r["kind"], r["value"]): r for r in identity}.values()),
            schema=pa.schema([("kind", pa.string()), ("value", pa.string())]),
        ),
    }
    with transaction(con):
        for table, rows in tables.items():
            con.register("_config_rows", rows)
            con.execute(f"delete from {table}").fetchall()
            insert_missing(con, table, "select * from _config_rows", _KEYS[table])
            con.unregister("_config_rows")
        erased = ErasureFilter.install(con)  # an erased person named in the config stays out of the warehouse
        if erased is not None:
            for table in tables:
                erased.scrub(con, table)
