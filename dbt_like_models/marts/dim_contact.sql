with expanded as (
    select
        coalesce(owner.person_id, e.ego_id) as ego_id,
        person.person_id,
        c.bucket,
        c.cadence_days,
        c.owner <> '' as is_own_row
    from staging.stg_contact_list c
    join intermediate.int_addresses_resolved person on person.address = c.email
    left join intermediate.int_addresses_resolved owner on owner.address = c.owner and c.owner <> ''
    left join marts.dim_ego e on c.owner = ''
)
select
    ego_id,
    person_id,
    arg_max(bucket, is_own_row) as bucket,
    arg_max(cadence_days, is_own_row) as cadence_days
from expanded
where ego_id is not null and ego_id <> person_id
group by ego_id, person_id
