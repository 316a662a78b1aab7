-- Incremental builds (pipelines/build_state.py): what each derived table, ONA period or report was last built from.
-- Holds fingerprints and timestamps only, never an address or a name. Emptied by `tiepulse refresh --full`.
create table if not exists ops.build_state (
    target               varchar primary key,   -- schema.table, or schema.table/part (an ONA period)
    fingerprint          varchar not null,      -- digest of the code and of the inputs the build read
    watermark            timestamptz,           -- appended models: the newest raw imported_at the build had read
    built_at             timestamptz not null default now()
);
