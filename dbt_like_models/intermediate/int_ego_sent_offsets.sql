-- The UTC offsets of the Date headers of mail each ego sent, found in their own mailbox (its Date header was
-- written by the ego's client), per day: what intermediate.int_ego_timezones_inferred fits zones to. Keyed by month
-- (pipelines/keyed_models.py): a day's new mail redoes its months only; a change of identities rebuilds it whole.
select
    owner.person_id as ego_id,
    date_trunc('month', m.sent_at) as month,
    m.sent_at::date as day,
    m.utc_offset_minutes,
    count(distinct m.message_key) as n
from staging.stg_mail_sightings m
join intermediate.int_addresses_resolved owner on owner.address = m.mailbox_owner
join intermediate.int_addresses_resolved sender on sender.address = m.from_address
-- an offset without a parsed date has no day to be checked against a zone's
where sender.person_id = owner.person_id and m.utc_offset_minutes is not null and m.sent_at is not null
group by all
