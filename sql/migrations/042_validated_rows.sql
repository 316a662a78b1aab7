-- The rows Great Expectations last passed, per checked table (pipelines/checks.py): a hash of each row of the
-- table's check query, so the next refresh sends only new or changed rows (and the rows sharing their keys) to
-- the worker. Emptied with ops.build_state (`tiepulse refresh --full`, an erasure). No primary key: set operations.
create table if not exists ops.validated_rows (
    target               varchar not null,      -- checks/<schema.table>, as its record in ops.build_state
    row_hash             ubigint not null       -- DuckDB's hash() of one row of the check query
);
