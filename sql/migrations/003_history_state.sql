-- Incremental monthly history: the fingerprint of the inputs each month was last computed from.
create table if not exists ops.history_state (
    table_name           varchar not null,
    month                date not null,
    fingerprint          varchar not null,   -- cut-off date and number of interactions before it
    computed_at          timestamptz not null default now(),
    primary key (table_name, month)
);

-- Alert life-cycle, one row per alert id ever raised (written by marts/mart_alerts and `tiepulse alerts`).
create table if not exists ops.alert_state (
    alert_id             varchar primary key,
    kind                 varchar not null,
    ego_id               varchar not null,
    alter_id             varchar,
    period               varchar,
    status               varchar not null,   -- open | snoozed | dismissed | resolved
    snoozed_until        date,
    first_seen           date,
    last_seen            date,
    opened_at            date,
    resolved_at          date,
    times_opened         integer,
    updated_at           date
);

-- New alerts recorded by the alert sensor's job, for digests and notifications.
create table if not exists ops.alert_log (
    alert_id             varchar not null,
    as_of                date not null,
    kind                 varchar not null,
    ego_id               varchar not null,
    alter_id             varchar,
    severity             double,
    reason               varchar,
    recorded_at          timestamptz not null default now(),
    primary key (alert_id, as_of)
);
