with sightings as (
    -- a copy under another Message-ID adds its recipients to the message it folds into
    select coalesce(c.folded_into, m.message_key) as message_key, m.from_address, unnest(m.recipients) as r
    from staging.stg_mail_sightings m
    left join intermediate.int_message_copies_matched c on c.message_key = m.message_key
),
resolved as (
    select
        s.message_key,
        sender.person_id as sender_id,
        rcpt.person_id,
        s.r.kind as kind,
        case s.r.kind when 'to' then 1 when 'cc' then 2 else 3 end as kind_rank
    from sightings s
    join intermediate.int_addresses_resolved rcpt on rcpt.address = s.r.address
    left join intermediate.int_addresses_resolved sender on sender.address = s.from_address
)
select
    message_key,
    person_id,
    arg_min(kind, kind_rank) as kind
from resolved
where sender_id is null or person_id <> sender_id
group by message_key, person_id
