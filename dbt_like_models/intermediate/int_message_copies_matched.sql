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
        bool_or(is_forward) as is_forward,
        list(distinct place) as places
    from sightings
    group by message_key
),
fingerprints as (
    select
        m.message_key,
        m.sent_at,
        m.places,
        hash(m.sender_id, m.subject_digest, m.is_reply, m.is_forward, list_sort(list(distinct r.person_id))) as fingerprint
    from messages m
    join recipients r using (message_key)
    where m.subject_digest is not null
    group by m.message_key, m.sent_at, m.places, m.sender_id, m.subject_digest, m.is_reply, m.is_forward
),
pairs as (
    select
        later.message_key,
        earlier.message_key as copy_of,
        later.fingerprint,
        epoch(later.sent_at) - epoch(earlier.sent_at) as seconds_apart
    from fingerprints later
    join fingerprints earlier
        on earlier.fingerprint = later.fingerprint
        and (earlier.sent_at, earlier.message_key) < (later.sent_at, later.message_key)
        and later.sent_at - earlier.sent_at <= interval 12 hours
    where (epoch(later.sent_at) - epoch(earlier.sent_at)) % 3600 = 0
        and (later.sent_at = earlier.sent_at or not list_has_any(later.places, earlier.places))
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
