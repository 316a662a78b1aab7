-- Models are named by layer (docs/data-model.md, "Renamed in version 006"): staging reads raw only, `intermediate`
-- holds identity and joins, marts the entity facts and dimensions. The tables under their old names are dropped;
-- the next refresh builds them under the new ones.
create schema if not exists intermediate;
drop table if exists staging.int_mail_sightings;
drop table if exists staging.int_event_sightings;
drop table if exists staging.int_addresses_resolved;
drop table if exists staging.dim_person;
drop table if exists staging.stg_egos;
drop table if exists staging.stg_contacts;
drop table if exists staging.stg_messages;
drop table if exists staging.stg_message_recipients;
drop table if exists staging.stg_events;
drop table if exists staging.stg_event_attendees;
drop table if exists staging.stg_manual_interactions;
drop table if exists marts.int_interactions;
drop table if exists marts.int_interaction_exclusions;
