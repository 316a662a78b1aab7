-- Raw tables for the API connectors: the same columns as the file-imported tables, one table per source so each
-- connector is its own Dagster asset (keys enforced by the loader, as for the file tables). Staging reads their union (staging.int_mail_sightings, int_event_sightings).
create table if not exists raw.gmail_messages as select * from raw.mail_messages limit 0;
create table if not exists raw.graph_messages as select * from raw.mail_messages limit 0;
create table if not exists raw.gcal_events as select * from raw.calendar_events limit 0;
create table if not exists raw.graph_events as select * from raw.calendar_events limit 0;
alter table raw.gmail_messages alter column imported_at set default now();
alter table raw.gmail_messages alter column bad_address_count set default 0;
alter table raw.graph_messages alter column imported_at set default now();
alter table raw.graph_messages alter column bad_address_count set default 0;
alter table raw.gcal_events alter column imported_at set default now();
alter table raw.gcal_events alter column is_all_day set default false;
alter table raw.graph_events alter column imported_at set default now();
alter table raw.graph_events alter column is_all_day set default false;
