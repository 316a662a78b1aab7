with seen as (
    select from_address as address from staging.stg_mail_sightings where from_address is not null
    union select r.address from (select unnest(recipients) as r from staging.stg_mail_sightings)
    union select organizer_address from staging.stg_event_sightings where organizer_address is not null
    union select a.address from (select unnest(attendees) as a from staging.stg_event_sightings)
    union select person_address from staging.stg_interaction_log
    union select owner from staging.stg_interaction_log
    union select mailbox_owner from staging.stg_mail_sightings
    union select calendar_owner from staging.stg_event_sightings
    union select email from staging.stg_directory
    union select unnest(other_emails) from staging.stg_directory
    union select manager_email from staging.stg_directory where manager_email is not null
    union select email from staging.stg_contact_list
    union select address from staging.stg_config_egos
    union select ego from staging.stg_config_egos
    union select alias from staging.stg_config_aliases
    union select canonical from staging.stg_config_aliases
),
directory_alias as (
    select alias, any_value(email) as canonical
    from (select email, unnest(other_emails) as alias from staging.stg_directory)
    where alias <> email
    group by alias
),
ego_alias as (
    select address as alias, any_value(ego) as canonical from staging.stg_config_egos where address <> ego group by address
),
first_pass as (
    select
        s.address,
        coalesce(c.canonical, d.canonical, e.canonical, i.ego_id, x.person_address, s.address) as candidate
    from seen s
    left join staging.stg_config_aliases c on c.alias = s.address
    left join directory_alias d on d.alias = s.address
    left join ego_alias e on e.alias = s.address
    -- an ego's own other address found in the data (int_ego_addresses_inferred: the evidence)
    left join intermediate.int_ego_addresses_inferred i on i.address = s.address
    -- another form of one person, found through a shared Exchange X.500 path (int_x500_addresses_linked)
    left join intermediate.int_x500_addresses_linked x on x.address = s.address
    where s.address is not null
),
patterns as (
    select value as pattern from staging.stg_config_identity where kind = 'automated_pattern'
)
select
    f.address,
    -- one more hop: an alias may point at an address that is itself a directory alias
    coalesce(d2.canonical, f.candidate) as person_id,
    f.address like 'x500:%' as is_x500,
    -- a pseudonym cannot be matched: the importer marks automated ones before hashing (p~auto~<hex>@domain)
    f.address like 'p~auto~%'
    or exists (select 1 from patterns p where regexp_matches(f.address, p.pattern)) as is_automated_address
from first_pass f
left join directory_alias d2 on d2.alias = f.candidate
