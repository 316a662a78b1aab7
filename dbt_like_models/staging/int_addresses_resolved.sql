-- description: Every address seen anywhere, mapped to the person it belongs to (config aliases, then directory aliases, then ego addresses), with address-level automation flags.
-- unique: address
-- not_null: address, person_id
with seen as (
    select from_address as address from staging.int_mail_sightings where from_address is not null
    union select r.address from (select unnest(recipients) as r from staging.int_mail_sightings)
    union select organizer_address from staging.int_event_sightings where organizer_address is not null
    union select a.address from (select unnest(attendees) as a from staging.int_event_sightings)
    union select person_address from raw.manual_interactions
    union select owner from raw.manual_interactions
    union select mailbox_owner from staging.int_mail_sightings
    union select calendar_owner from staging.int_event_sightings
    union select email from raw.directory
    union select unnest(other_emails) from raw.directory
    union select manager_email from raw.directory where manager_email is not null
    union select email from raw.contacts
    union select address from raw.config_egos
    union select ego from raw.config_egos
    union select alias from raw.config_aliases
    union select canonical from raw.config_aliases
),
directory_alias as (
    select alias, any_value(email) as canonical
    from (select email, unnest(other_emails) as alias from raw.directory)
    where alias <> email
    group by alias
),
ego_alias as (
    select address as alias, any_value(ego) as canonical from raw.config_egos where address <> ego group by address
),
first_pass as (
    select
        s.address,
        coalesce(c.canonical, d.canonical, e.canonical, s.address) as candidate
    from seen s
    left join raw.config_aliases c on c.alias = s.address
    left join directory_alias d on d.alias = s.address
    left join ego_alias e on e.alias = s.address
    where s.address is not null
),
patterns as (
    select value as pattern from raw.config_identity where kind = 'automated_pattern'
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
