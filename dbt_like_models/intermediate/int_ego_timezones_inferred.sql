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
calendar_owners as (
    select distinct e.calendar_owner as address, r.person_id as ego_id
    from staging.stg_event_sightings e
    join intermediate.int_addresses_resolved r on r.address = e.calendar_owner
),
own_sent as (
    -- mail the ego sent, found in their own mailbox: its Date header was written by the ego's client
    select ego_id, day, utc_offset_minutes, n from intermediate.int_ego_sent_offsets
),
calendar_zone as (
    select o.ego_id, mode(e.timezone) as timezone, count(distinct e.event_key) as n
    from staging.stg_event_sightings e
    join calendar_owners o on o.address = e.calendar_owner
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
zone_offsets as (
    -- each candidate zone's offset at noon UTC of each day mail was sent: once a zone and day, not once an ego
    select z.timezone, d.day, epoch(timezone(z.timezone, d.noon)) - epoch(d.noon) as offset_seconds
    from (select distinct timezone from ego_candidates) z,
        (select distinct day, timezone('UTC', day + interval 12 hours) as noon from own_sent) d
),
fit as (
    select
        c.ego_id,
        c.timezone,
        min(c.preference) as preference,
        sum(s.n) filter (where s.utc_offset_minutes * 60 = o.offset_seconds) as matching,
        sum(s.n) as total
    from ego_candidates c
    join own_sent s using (ego_id)
    join zone_offsets o on o.timezone = c.timezone and o.day = s.day
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
