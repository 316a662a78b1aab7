-- description: One row per hand-logged interaction (call, in person, video, chat, note), ego and person resolved to people.
-- unique: row_key
-- not_null: row_key, ego_id, person_id, occurred_at, channel
select
    m.row_key,
    ego.person_id as ego_id,
    person.person_id as person_id,
    m.occurred_at,
    m.channel,
    m.minutes
from raw.manual_interactions m
join staging.int_addresses_resolved ego on ego.address = m.owner
join staging.int_addresses_resolved person on person.address = m.person_address
where ego.person_id <> person.person_id
