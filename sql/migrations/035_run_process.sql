-- Which machine and process a run ran in: on a DuckLake several writers run at once, so a run still `running` is
-- marked `interrupted` only when it ran on this machine in a process that is gone (tiepulse/core/runlog.py).
alter table ops.runs add column if not exists host varchar;
alter table ops.runs add column if not exists pid integer;
