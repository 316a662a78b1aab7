with latest as (
    select
        e.event_key,
        arg_max(e, (coalesce(e.sequence, 0), coalesce(e.updated_at, e.imported_at), e.imported_at)) as e,
        count(distinct e.calendar_owner) as calendar_count
    from staging.stg_event_sightings e
    group by e.event_key
),
attendee_counts as (
    select event_key, count(*) as n_attendees
    from marts.fct_event_attendees
    group by event_key
)
select
    l.event_key,
    l.e.uid as uid,
    l.e.series_id as series_id,
    l.e.start_at as start_at,
    l.e.end_at as end_at,
    coalesce(date_diff('second', l.e.start_at, l.e.end_at) / 60.0, 0) as duration_minutes,
    l.e.is_all_day as is_all_day,
    coalesce(l.e.status, 'confirmed') as status,
    coalesce(l.e.status, 'confirmed') = 'cancelled' as is_cancelled,
    organizer.person_id as organizer_id,
    coalesce(l.e.is_online, false) as is_online,
    coalesce(trim(l.e.location), '') <> '' as has_location,
    coalesce(a.n_attendees, 0)::integer as n_attendees,
    l.e.title_hash as title_hash,
    l.calendar_count::integer as calendar_count
from latest l
left join intermediate.int_addresses_resolved organizer on organizer.address = l.e.organizer_address
left join attendee_counts a on a.event_key = l.event_key
