-- Data-subject erasure: the list of erased addresses (keyed hashes only) applied at every ingestion, and the
-- audit of each erasure (no address, no name).
create table if not exists ops.erasure_list (
    address_hash         varchar primary key,  -- HMAC-SHA-256 (identity key) of a normalised address of the person
    erasure_id           varchar not null,     -- the erasure (ops.erasures) that listed it
    listed_at            timestamptz not null default now()
);

create table if not exists ops.erasures (
    erasure_id           varchar primary key,
    requested_at         timestamptz not null,
    completed_at         timestamptz,
    status               varchar not null,     -- pending | complete
    addresses            integer not null,     -- how many addresses of the person were listed
    rows_removed         json,                 -- rows deleted or scrubbed per table (counts only)
    artefacts_removed    json                  -- derived files and folders under the home deleted for regeneration
);
