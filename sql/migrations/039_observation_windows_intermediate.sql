-- The observation windows are put together from their months (staging.stg_observation_months, keyed by month), so
-- they moved to the intermediate layer: intermediate.int_observation_windows (docs/data-model.md). The table under
-- its old name is dropped; the next refresh builds the new one.
drop table if exists staging.stg_observation_windows;
delete from ops.build_state where target = 'staging.stg_observation_windows';
