with listed as (
    select
        e.event_key,
        e.calendar_owner,
        coalesce(e.sequence, 0) as sequence,
        coalesce(e.updated_at, e.imported_at) as updated_at,
        unnest(e.attendees) as a,
        false as is_organizer
    from staging.stg_event_sightings e
),
organizers as (
    select
        e.event_key,
        e.calendar_owner,
        coalesce(e.sequence, 0) as sequence,
        coalesce(e.updated_at, e.imported_at) as updated_at,
        {'address': e.organizer_address, 'name': e.organizer_name, 'response': 'accepted',
         'role': 'chair', 'is_resource': false} as a,
        true as is_organizer
    from staging.stg_event_sightings e
    where e.organizer_address is not null
),
resolved as (
    select
        p.event_key,
        r.person_id,
        coalesce(p.a.response, 'needs_action') as response,
        p.is_organizer,
        coalesce(p.a.role, '') = 'opt_participant' as is_optional,
        coalesce(p.a.is_resource, false) as is_resource,
        -- the attendee's own calendar knows their answer best; otherwise the newest revision
        coalesce(owner.person_id = r.person_id, false) as from_own_calendar,
        p.sequence,
        p.updated_at
    from (select * from listed union all select * from organizers) p
    join intermediate.int_addresses_resolved r on r.address = p.a.address
    left join intermediate.int_addresses_resolved owner on owner.address = p.calendar_owner
)
select
    event_key,
    person_id,
    arg_max(response, (from_own_calendar, not is_organizer, sequence, updated_at)) as response,
    bool_or(is_organizer) as is_organizer,
    bool_and(is_optional) as is_optional
from resolved
group by event_key, person_id
having not bool_or(is_resource)
