with names as (
    select from_address as address, from_name as name from staging.stg_mail_sightings where from_name is not null
    union all
    select r.address, r.name from (select unnest(recipients) as r from staging.stg_mail_sightings) where r.name is not null
    union all
    select a.address, a.name from (select unnest(attendees) as a from staging.stg_event_sightings) where a.name is not null
    union all
    select person_address, person_name from staging.stg_interaction_log where person_name is not null
),
observed_name as (
    select r.person_id, mode(n.name) as name
    from names n
    join intermediate.int_addresses_resolved r using (address)
    group by r.person_id
),
directory as (
    select r.person_id, d.*
    from staging.stg_directory d
    join intermediate.int_addresses_resolved r on r.address = d.email
    -- two directory rows merged by an alias: the one under the canonical address wins
    qualify row_number() over (partition by r.person_id order by (d.email = r.person_id) desc, d.email) = 1
),
sent as (
    select
        sender_id as person_id,
        count(*) as messages_sent,
        count(*) filter (where is_automated) as automated_sent,
        mode(automated_reason) as automated_reason,
        min(sent_at) as first_sent,
        max(sent_at) as last_sent
    from marts.fct_messages
    group by sender_id
),
people as (
    select
        person_id,
        list(address order by address) as addresses,
        bool_or(is_x500) and bool_and(is_x500) as is_unresolved,
        bool_or(is_automated_address) as is_automated_address
    from intermediate.int_addresses_resolved
    group by person_id
),
internal_domains as (
    select value as domain from staging.stg_config_identity where kind = 'internal_domain'
),
ego_domains as (
    select distinct split_part(ego_id, '@', 2) as domain
    from marts.dim_ego
    where split_part(ego_id, '@', 2) not in (
        'gmail.com', 'googlemail.com', 'yahoo.com', 'hotmail.com', 'outlook.com', 'live.com', 'aol.com',
        'icloud.com', 'me.com', 'proton.me', 'protonmail.com', 'gmx.de', 'gmx.net', 'web.de'
    )
)
select
    p.person_id,
    coalesce(d.name, o.name) as display_name,
    p.addresses,
    case when p.is_unresolved then null else split_part(p.person_id, '@', 2) end as domain,
    coalesce(
        d.is_internal,
        case when (select count(*) from internal_domains) > 0
            then split_part(p.person_id, '@', 2) in (select domain from internal_domains)
            else split_part(p.person_id, '@', 2) in (select domain from ego_domains)
        end,
        false
    ) or p.is_unresolved as is_internal,
    d.team,
    d.department,
    d.org_unit,
    manager.person_id as manager_id,
    d.location,
    p.is_automated_address or coalesce(s.automated_sent * 2 > s.messages_sent, false) as is_automated,
    case
        when p.is_automated_address then 'automated_address'
        when s.automated_sent * 2 > s.messages_sent then s.automated_reason
    end as automated_reason,
    p.person_id in (select ego_id from marts.dim_ego) as is_ego,
    p.is_unresolved,
    coalesce(s.messages_sent, 0)::integer as messages_sent,
    s.first_sent,
    s.last_sent
from people p
left join directory d on d.person_id = p.person_id
left join observed_name o on o.person_id = p.person_id
left join sent s on s.person_id = p.person_id
left join intermediate.int_addresses_resolved manager on manager.address = d.manager_email
