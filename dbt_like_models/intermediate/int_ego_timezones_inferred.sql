-- Each ego's time zone as their own data shows it (docs/metrics.md, "Time zones"): the candidate zone whose UTC
-- offset, on each day, matches the Date header offsets of the most mail the ego sent from their own mailbox (at
-- least 10 such messages and 60 % of them), the zone the ego's own calendar events are written in winning ties;
-- with no usable sent mail, that calendar zone alone (at least 3 events). The config's zone, when set, wins
-- over both in marts.dim_ego.
with candidates(timezone, preference) as (
    -- the zones an office is most likely in, one per offset pattern; among zones that fit the mail equally (a
    -- summer-only mailbox at -0700: Los Angeles or Phoenix) the one listed first, the zone that observes DST
    values
        ('America/New_York', 1), ('America/Chicago', 2), ('America/Denver', 3), ('America/Los_Angeles', 4),
        ('America/Phoenix', 5), ('America/Anchorage', 6), ('Pacific/Honolulu', 7), ('America/Halifax', 8),
        ('America/St_Johns', 9), ('America/Mexico_City', 10), ('America/Bogota', 11), ('America/Sao_Paulo', 12),
        ('America/Argentina/Buenos_Aires', 13), ('Europe/London', 14), ('Europe/Paris', 15), ('Europe/Helsinki', 16),
        ('Europe/Istanbul', 17), ('Europe/Moscow', 18), ('Africa/Lagos', 19), ('Africa/Johannesburg', 20),
        ('Asia/Dubai', 21), ('Asia/Karachi', 22), ('Asia/Kolkata', 23), ('Asia/Kathmandu', 24), ('Asia/Dhaka', 25),
        ('Asia/Bangkok', 26), ('Asia/Singapore', 27), ('Asia/Tokyo', 28), ('Australia/Perth', 29),
        ('Australia/Adelaide', 30), ('Australia/Brisbane', 31), ('Australia/Sydney', 32), ('Pacific/Auckland', 33),
        ('UTC', 34)
),
owners as (
    select distinct o.address, r.person_id as ego_id
    from (select mailbox_owner as address from staging.stg_mail_sightings
          union select calendar_owner from staging.stg_event_sightings) o
    join intermediate.int_addresses_resolved r on r.address = o.address
),
own_sent as (
    -- mail the ego sent, found in their own mailbox: its Date header was written by the ego's client
    select o.ego_id, m.sent_at::date as day, m.utc_offset_minutes, count(distinct m.message_key) as n
    from staging.stg_mail_sightings m
    join owners o on o.address = m.mailbox_owner
    join intermediate.int_addresses_resolved sender on sender.address = m.from_address
    where sender.person_id = o.ego_id and m.utc_offset_minutes is not null
    group by all
),
calendar_zone as (
    select o.ego_id, mode(e.timezone) as timezone, count(distinct e.event_key) as n
    from staging.stg_event_sightings e
    join owners o on o.address = e.calendar_owner
    join intermediate.int_addresses_resolved organizer on organizer.address = e.organizer_address
    where organizer.person_id = o.ego_id and e.timezone in (select name from pg_timezone_names())
    group by o.ego_id
),
ego_candidates as (
    -- the ego's calendar zone is a candidate too, preferred among equals
    select ego_id, timezone, min(preference) as preference
    from (
        select ego_id, timezone, preference from (select distinct ego_id from own_sent), candidates
        union all
        select ego_id, timezone, 0 from calendar_zone
    )
    group by ego_id, timezone
),
fit as (
    select
        c.ego_id,
        c.timezone,
        min(c.preference) as preference,
        sum(s.n) filter (
            -- the zone's offset at noon UTC of the day the mail was sent
            where s.utc_offset_minutes * 60 = epoch(timezone(c.timezone, s.noon)) - epoch(s.noon)
        ) as matching,
        sum(s.n) as total
    from ego_candidates c
    join (select *, timezone('UTC', day + interval 12 hours) as noon from own_sent) s using (ego_id)
    group by c.ego_id, c.timezone
),
from_mail as (
    select ego_id, arg_max(timezone, (matching, -preference)) as timezone, max(matching) as matching, any_value(total) as total
    from fit
    where matching is not null
    group by ego_id
)
select ego_id, timezone, 'sent_mail' as source, matching::integer as n_evidence, matching / total as share
from from_mail
where total >= 10 and matching >= 0.6 * total
union all
select c.ego_id, c.timezone, 'calendar', c.n::integer, 1.0
from calendar_zone c
where c.n >= 3 and c.ego_id not in (select ego_id from fit)
