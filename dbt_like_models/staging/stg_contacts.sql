-- description: One row per ego and contact with the contact's bucket and planned cadence; a row without owner applies to every ego, an ego's own row wins.
-- unique: ego_id, person_id
-- not_null: ego_id, person_id
with expanded as (
    select
        coalesce(owner.person_id, e.ego_id) as ego_id,
        person.person_id,
        c.bucket,
        c.cadence_days,
        c.owner <> '' as is_own_row
    from raw.contacts c
    join staging.int_addresses_resolved person on person.address = c.email
    left join staging.int_addresses_resolved owner on owner.address = c.owner and c.owner <> ''
    left join staging.stg_egos e on c.owner = ''
)
select
    ego_id,
    person_id,
    arg_max(bucket, is_own_row) as bucket,
    arg_max(cadence_days, is_own_row) as cadence_days
from expanded
where ego_id is not null and ego_id <> person_id
group by ego_id, person_id
