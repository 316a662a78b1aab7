select
    m.row_key,
    ego.person_id as ego_id,
    person.person_id as person_id,
    m.occurred_at,
    m.channel,
    m.minutes
from staging.stg_interaction_log m
join intermediate.int_addresses_resolved ego on ego.address = m.owner
join intermediate.int_addresses_resolved person on person.address = m.person_address
where ego.person_id <> person.person_id
