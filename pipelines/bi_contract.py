"""The BI snapshot's contract: one object per question a BI user asks, built from the marts.

The contract is the list ``BI_OBJECTS``: each entry names its source mart, the rows it keeps, and what it adds
(the ego's team and department, a typed month). Columns follow the source, with two rules that keep every column
flat: a list of values becomes one string joined with ``"; "``; a list of records becomes an object of its own (a
bridge, one row per element). Column descriptions come from the source model's ``.yml`` (``columns:``), the one
place they are written; the contract only describes the columns it derives. An object whose source mart does not
exist in the warehouse is left out of the snapshot and listed as absent in ``bi.snapshot_objects``. No Dagster here:
the CLI's export reads the same contract.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb

from tiepulse.core.settings import Settings
from tiepulse.pipelines import network_io as tables
from tiepulse.pipelines.marts_io import table_columns
from tiepulse.pipelines.models import column_descriptions

LIST_SEPARATOR = "; "


@dataclass(frozen=True)
class Column:
    """A column of an object: its name, its SQL over the source row ``s`` (and the ego ``e``), its meaning."""

    name: str
    sql: str
    description: str


EGO_CONTEXT = (
    Column("ego_team", "e.team", "Team of the ego (the person whose network the row describes), from the directory."),
    Column("ego_department", "e.department", "Department of the ego, from the directory."),
)
MONTH_FROM_PERIOD = Column(
    "month", "strptime(s.period || '-01', '%Y-%m-%d')::date", "First day of the month the row describes."
)

EPISODE_START = Column(
    "episode_start",
    "try_cast(s.period as date)",
    "Network alerts (overload, narrowing): the first day of the episode; null for tie alerts.",
)


@dataclass(frozen=True)
class BiObject:
    """One object of the snapshot (``bi.<name>`` to its readers), answering ``question`` from the mart ``source``."""

    name: str
    source: str
    question: str
    grain: str
    where: str = ""
    drop: tuple[str, ...] = ()
    """Source columns left out (the period label an object's name already says, a list a bridge object carries)."""
    derived: tuple[Column, ...] = ()
    """Columns added after the source's (``ego_context`` adds the ego's team and department after ``ego_id``)."""
    ego_context: bool = False
    explode: str | None = None
    """For a bridge object: the list-of-records column whose elements become rows (kept: ``keep``)."""
    keep: tuple[str, ...] = field(default_factory=tuple)
    person_level_ona: bool = False
    """Ranks or scores individuals across the organisation: left out unless ``privacy.person_level_bi``."""


def _split_by_period(
    name: str, source: str, question: str, grain: str, *, person_level_ona: bool = False
) -> tuple[BiObject, BiObject]:
    """An ONA mart with ``period`` 'current' or 'YYYY-MM' as two objects: current, and by month (a typed date)."""
    return (
        BiObject(
            f"{name}_current",
            source,
            f"{question} As of the analysis date.",
            grain,
            where="s.period = 'current'",
            drop=("period",),
            person_level_ona=person_level_ona,
        ),
        BiObject(
            f"{name}_by_month",
            source,
            f"{question} Month by month, for trends.",
            f"{grain}, per month",
            where="s.period <> 'current'",
            drop=("period",),
            derived=(MONTH_FROM_PERIOD,),
            person_level_ona=person_level_ona,
        ),
    )


BI_OBJECTS: tuple[BiObject, ...] = (
    BiObject(
        "people",
        tables.PERSONS,
        "Who is who: every person seen, with the directory's attributes and internal / automated flags.",
        "one row per person",
    ),
    BiObject(
        "ties",
        tables.TIES,
        "How strong, recent and balanced is each relationship: one row per ego and contact as of the analysis date.",
        "one row per ego and alter",
        ego_context=True,
    ),
    BiObject(
        "ties_by_month",
        tables.TIES_MONTHLY,
        "How each relationship evolved: its strength and volume at the end of every month.",
        "one row per ego, alter and month",
        ego_context=True,
    ),
    BiObject(
        "person_health_current",
        tables.NETWORK_HEALTH,
        "How healthy is each person's network now: the 0-100 score, its sub-scores, size, diversity, brokerage.",
        "one row per ego",
        where="s.period = 'current'",
        drop=("period", "month", "bucket_allocation"),
        ego_context=True,
    ),
    BiObject(
        "person_bucket_allocation_current",
        tables.NETWORK_HEALTH,
        "How each person's contact time is split across their contact buckets (client, mentor, ...) against plan.",
        "one row per ego and bucket",
        where="s.period = 'current'",
        explode="bucket_allocation",
        keep=("ego_id", "as_of"),
        ego_context=True,
    ),
    BiObject(
        "person_health_by_month",
        tables.NETWORK_HEALTH,
        "How each person's network health evolved: the same measures at the end of every month.",
        "one row per ego and month",
        where="s.period = 'month'",
        drop=("period", "bucket_allocation"),
        ego_context=True,
    ),
    BiObject(
        "alerts",
        tables.ALERTS,
        "Which relationships or networks need attention now, why, and what to do; filter status = 'open'.",
        "one row per alert",
        drop=("period",),
        derived=(EPISODE_START,),
        ego_context=True,
    ),
    *_split_by_period(
        "org_people",
        tables.ORG_PEOPLE,
        "Who holds the organisation together: each person's centrality, community, bridging and brokerage.",
        "one row per person",
        person_level_ona=True,
    ),
    *_split_by_period(
        "org_groups",
        tables.ORG_GROUPS,
        "Which groups are silos: size, internal density, E-I index, outside share, bridges, key-person risk.",
        "one row per group type and group",
    ),
    *_split_by_period(
        "group_matrix",
        tables.GROUP_MATRIX,
        "How much each group works with each other group: messages, meeting hours, distinct ties.",
        "one row per group type, from group and to group",
    ),
    BiObject(
        "org_summary_by_month",
        tables.ORG_SUMMARY,
        "How the whole organisation's network evolves: size, density, clustering, modularity, reach, health.",
        "one row per month",
    ),
    BiObject(
        "introductions",
        tables.INTRODUCTIONS,
        "Whom each person could be introduced to, in circles they do not reach, and through whom.",
        "one row per ego and suggested person",
        ego_context=True,
        person_level_ona=True,
    ),
    BiObject(
        "communities_of_practice",
        tables.COMMUNITIES_OF_PRACTICE,
        "Which mailing lists and meeting series form communities of practice, and who asks, answers or watches.",
        "one row per community and member",
        person_level_ona=True,
    ),
    BiObject(
        "community_vitality_by_month",
        tables.COMMUNITY_VITALITY,
        "How alive each community of practice is: members, active members, threads, replies, share answered, "
        "meetings and attendance per month (months under privacy.min_group_size suppressed).",
        "one row per community and month",
    ),
)


def person_level_bi(settings: Settings) -> bool:
    """``privacy.person_level_bi``; unset, it is on for one's own network and off for a pseudonymised organisation."""
    chosen = settings.config.privacy.person_level_bi
    return settings.hmac_key is None if chosen is None else chosen


class ContractError(ValueError):
    """A mart's columns do not fit the contract (a nested column with no bridge, a column without a description)."""


@dataclass(frozen=True)
class Plan:
    """How one object is built from the warehouse: its ``select`` and the description of every column."""

    obj: BiObject
    sql: str
    columns: tuple[Column, ...]


def _describe(table: str, column: str, descriptions: dict[str, str]) -> str:
    found = descriptions.get(column)
    if not found:
        raise ContractError(
            f"{table}.{column} has no description: add it under 'columns:' in the model's .yml "
            "(dbt_like_models/marts/<name>.yml)"
        )
    return found


def _flat(obj: BiObject, name: str, kind: str, descriptions: dict[str, str]) -> Column:
    """A source column as the object shows it: a list of values joined into one string; nothing nested."""
    if kind.endswith("[]") and not kind.startswith("STRUCT"):
        text = f"{_describe(obj.source, name, descriptions)} (a list, joined with '{LIST_SEPARATOR}')"
        return Column(name, f"array_to_string(s.{name}, '{LIST_SEPARATOR}')", text)
    if kind.startswith(("STRUCT", "MAP", "UNION")) or "[" in kind:
        raise ContractError(f"{obj.source}.{name} is nested ({kind}): drop it from {obj.name} or bridge it")
    return Column(name, f"s.{name}", _describe(obj.source, name, descriptions))


def plan(con: duckdb.DuckDBPyConnection, obj: BiObject) -> Plan:
    """The object's ``select`` over the warehouse as it is now (its source must exist)."""
    descriptions = column_descriptions(obj.source)
    source = table_columns(con, obj.source)
    if obj.explode is None:
        picked = [_flat(obj, name, kind, descriptions) for name, kind in source if name not in obj.drop]
        rows_from = f"{obj.source} s"
    else:
        kept = [Column(name, f"s.{name}", _describe(obj.source, name, descriptions)) for name in obj.keep]
        fields = [
            Column(name, f"s.tp_element.{name}", _describe(obj.source, f"{obj.explode}.{name}", descriptions))
            for name in _struct_fields(dict(source)[obj.explode])
        ]
        picked = kept + fields
        # Unnested in a subquery: DuckDB 1.4 cannot left-join the ego context onto a lateral unnest.
        rows_from = f"(select *, unnest({obj.explode}) as tp_element from {obj.source}) s"
    columns: list[Column] = []
    for column in picked:
        columns.append(column)
        if column.name == "ego_id" and obj.ego_context:
            columns.extend(EGO_CONTEXT)
    columns.extend(obj.derived)
    joins = f" left join {tables.PERSONS} e on e.person_id = s.ego_id" if obj.ego_context else ""
    where = f" where {obj.where}" if obj.where else ""
    select = ", ".join(f'{c.sql} as "{c.name}"' for c in columns)
    return Plan(obj, f"select {select} from {rows_from}{joins}{where}", tuple(columns))


def _struct_fields(kind: str) -> list[str]:
    """The field names of ``STRUCT(a T, b U)[]`` (DuckDB's spelling of a list of records)."""
    inner = kind.removesuffix("[]").removeprefix("STRUCT(").removesuffix(")")
    return [part.strip().split(" ", 1)[0].strip('"') for part in inner.split(",")]
