-- Incremental analytics by ego: the fingerprint of the inputs each (ego, month) of a table was last computed from
-- (the running month's fingerprint also stands for the ego's rows as of the analysis date).
create table if not exists ops.ego_history_state (
    table_name           varchar not null,
    ego_id               varchar not null,
    month                date not null,
    fingerprint          varchar not null,   -- context digest | cut-off | interactions up to it (count and hash sums)
    computed_at          timestamptz not null default now(),
    primary key (table_name, ego_id, month)
);
