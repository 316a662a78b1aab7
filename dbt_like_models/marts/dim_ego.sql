with configured as (
    select
        r.person_id as ego_id,
        any_value(c.name) filter (where c.name is not null) as name,
        any_value(c.timezone) as timezone,
        any_value(c.work_start_hour) as work_start_hour,
        any_value(c.work_end_hour) as work_end_hour,
        any_value(c.work_days) as work_days
    from staging.stg_config_egos c
    join intermediate.int_addresses_resolved r on r.address = c.ego
    group by r.person_id
),
owners as (
    select mailbox_owner as address from staging.stg_mail_sightings
    union select calendar_owner from staging.stg_event_sightings
    union select owner from staging.stg_interaction_log
),
observed as (
    select distinct r.person_id as ego_id
    from owners o
    join intermediate.int_addresses_resolved r on r.address = o.address
)
select
    coalesce(c.ego_id, o.ego_id) as ego_id,
    c.name,
    coalesce(c.timezone, z.timezone, 'UTC') as timezone,
    case when c.timezone is not null then 'config' when z.timezone is not null then z.source else 'default' end
        as timezone_source,
    coalesce(c.work_start_hour, 8) as work_start_hour,
    coalesce(c.work_end_hour, 17) as work_end_hour,
    coalesce(c.work_days, [0, 1, 2, 3, 4]) as work_days
from configured c
full outer join observed o on o.ego_id = c.ego_id
left join intermediate.int_ego_timezones_inferred z on z.ego_id = coalesce(c.ego_id, o.ego_id)
