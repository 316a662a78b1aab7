-- Keyed incremental builds (pipelines/build_state.py): per source record of a table built record by record, the
-- digest of the inputs it was built from, so a refresh rebuilds only the records whose inputs changed. Emptied
-- with ops.build_state (`tiepulse refresh --full`, an erasure). No primary key: written with set operations.
create table if not exists ops.build_keys (
    target               varchar not null,      -- schema.table/part of it, e.g. marts.fct_interactions/email
    key                  varchar not null,      -- the source record (message_key, event_key, row_key)
    part                 varchar not null,      -- records that depend on each other (a mail thread): redone together
    since                timestamptz,           -- a change to the record matters to the records of its part from here on
    digest               varchar not null       -- digest of everything the record's rows are built from
);

-- The records interactions leave out, one row per record and reason (marts.mart_interaction_exclusions counts
-- them), kept so a refresh that rebuilds a few records can count the rest without rebuilding them.
create table if not exists ops.interaction_exclusion_records (
    source               varchar not null,      -- email, calendar, manual
    source_key           varchar not null,
    reason               varchar not null,
    n_pairs              bigint not null        -- ego-alter pairs left out for this reason (0 for self_addressed)
);
