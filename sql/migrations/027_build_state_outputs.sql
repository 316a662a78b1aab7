-- Early cut-off and keyed incremental builds (pipelines/build_state.py, pipelines/keyed_models.py): what a model's
-- table holds after its build (count and hash sum of its rows), the fingerprints of the inputs it read, and for an
-- appended or keyed build the watermark it started from and what the table held before it. Fingerprints and times only.
alter table ops.build_state add column if not exists output varchar;          -- rows and hash sum of the table after the build
alter table ops.build_state add column if not exists inputs varchar;          -- JSON: input table -> its fingerprint then
alter table ops.build_state add column if not exists partial_since timestamptz; -- appended or keyed build: the watermark before
alter table ops.build_state add column if not exists output_before varchar;   -- appended or keyed build: output before it
