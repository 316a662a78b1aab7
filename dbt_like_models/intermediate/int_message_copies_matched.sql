-- Copies of one message kept under different Message-IDs (another client, folder or mailbox) and the message each
-- folds into. Fingerprint (docs/metrics.md, "Duplicate copies"): the same sender person, the same To/Cc persons,
-- the same subject digest and reply/forward flags, sent within 12 hours and a whole number of hours apart to the
-- second (a copy differs by a misread time zone, not by minutes); hours apart only when never seen in the same folder
-- (one Sent folder holding both means it was sent twice; a copy lives in another client's folder or mailbox).
with sightings as (
    select
        m.message_key,
        m.sent_at,
        m.subject_digest,
        m.mailbox_owner || '|' || coalesce(m.folder, m.source_file, '') as place,
        m.is_reply,
        m.is_forward,
        sender.person_id as sender_id,
        unnest(m.recipients) as r
    from staging.stg_mail_sightings m
    join intermediate.int_addresses_resolved sender on sender.address = m.from_address
),
recipients as (
    select s.message_key, rcpt.person_id
    from sightings s
    join intermediate.int_addresses_resolved rcpt on rcpt.address = s.r.address
    where s.r.kind in ('to', 'cc') and rcpt.person_id <> s.sender_id
),
messages as (
    select
        message_key,
        min(sent_at) as sent_at,
        any_value(sender_id) as sender_id,
        any_value(subject_digest) filter (where subject_digest is not null) as subject_digest,
        bool_or(is_reply) as is_reply,
        bool_or(is_forward) as is_forward
    from sightings
    group by message_key
),
recipient_sets as (
    -- the To/Cc persons as a set, in fixed-size states (a list per message held 2.5 M lists in memory at 300
    -- people and could not spill): the xor and the count of the distinct persons' hashes
    select message_key, bit_xor(hash(person_id)) as persons_xor, count(*) as persons
    from (select distinct message_key, person_id from recipients)
    group by message_key
),
fingerprints as (
    select
        m.message_key,
        m.sent_at,
        -- join keys that keep the self-join to candidates: a copy sits at the same second of the hour, and within
        -- 12 hours, so in the same or the next half day (a common fingerprint, such as a weekly mail with one
        -- subject to one person, would otherwise pair every one of its messages with every other)
        ((epoch_us(m.sent_at) % 3600000000) + 3600000000) % 3600000000 as second_of_hour,
        epoch_us(m.sent_at) // 43200000000 as half_day,
        hash(m.sender_id, m.subject_digest, m.is_reply, m.is_forward, r.persons_xor, r.persons) as fingerprint
    from messages m
    join recipient_sets r using (message_key)
    where m.subject_digest is not null
),
earlier_slots as (
    select *, unnest([half_day, half_day + 1]) as slot from fingerprints
),
candidates as (
    select
        later.message_key,
        earlier.message_key as copy_of,
        later.fingerprint,
        epoch(later.sent_at) - epoch(earlier.sent_at) as seconds_apart
    from fingerprints later
    join earlier_slots earlier
        on earlier.fingerprint = later.fingerprint
        and earlier.second_of_hour = later.second_of_hour
        and earlier.slot = later.half_day
        and (earlier.sent_at, earlier.message_key) < (later.sent_at, later.message_key)
        -- 12 hours in microseconds (subtracting two timestamptz goes through ICU's calendar: a hundred times slower)
        and epoch_us(later.sent_at) - epoch_us(earlier.sent_at) <= 43200000000
    where (epoch(later.sent_at) - epoch(earlier.sent_at)) % 3600 = 0
),
places as (
    select distinct message_key, place from sightings
),
pairs as (
    select c.*
    from candidates c
    where c.seconds_apart = 0 or not exists (
        select 1
        from places mine
        join places theirs on theirs.place = mine.place
        where mine.message_key = c.message_key and theirs.message_key = c.copy_of
    )
),
first_copy as (
    -- each copy matches the earliest message it can; a chain (c matches b, b matches a) folds into a
    select
        message_key,
        arg_max(copy_of, (seconds_apart, copy_of)) as copy_of,
        max(seconds_apart) as seconds_apart,
        any_value(fingerprint) as fingerprint
    from pairs
    group by message_key
)
select
    f.message_key,
    coalesce(g.copy_of, f.copy_of) as folded_into,
    f.copy_of as matched_key,
    (f.seconds_apart // 60)::integer as minutes_apart,
    f.fingerprint::varchar as fingerprint
from first_copy f
left join first_copy g on g.message_key = f.copy_of
