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
classified_at_import as (
    -- what the importer told while the addresses were in clear (it survives pseudonymisation)
    select distinct r.person_id, c.reason
    from (
        select unnest(non_person_addresses, recursive := true) from staging.stg_mail_sightings
        union all
        select unnest(non_person_addresses, recursive := true) from staging.stg_event_sightings
    ) c
    join intermediate.int_addresses_resolved r using (address)
),
list_addresses as (
    -- a List-Id names its list as local-part.domain (<team.corp.example> for team@corp.example)
    select distinct r.person_id
    from intermediate.int_addresses_resolved r
    join (select distinct list_id from staging.stg_mail_sightings where list_id is not null) l
        on l.list_id = replace(r.address, '@', '.')
    union
    select person_id from classified_at_import where reason = 'list_id'
),
group_patterns as (
    select value as pattern from staging.stg_config_identity where kind = 'group_pattern'
),
group_named as (
    -- the patterns read clear addresses only; a pseudonymised address counts when its importer matched it
    select distinct r.person_id
    from intermediate.int_addresses_resolved r, group_patterns g
    where regexp_matches(r.address, g.pattern)
    union
    select person_id from classified_at_import where reason = 'group_name'
),
observed_inboxes as (
    -- egos whose mailboxes hold mail addressed to them by others (at least a fifth of it): there, silence is a
    -- fact, not a gap (an assistant's Sent folder holds mail from the boss, addressed to others: not an inbox)
    select owner.person_id as ego_id
    from staging.stg_mail_sightings m
    join intermediate.int_addresses_resolved owner on owner.address = m.mailbox_owner
    join intermediate.int_addresses_resolved sender on sender.address = m.from_address
    group by owner.person_id
    having count(*) filter (
        where owner.person_id <> sender.person_id and list_contains([r.address for r in m.recipients], m.mailbox_owner)
    ) >= 0.2 * count(*)
),
received as (
    select
        r.person_id,
        count(*) as n_received,
        min(m.n_recipients) as fewest_recipients,
        bool_and(m.sender_id in (select ego_id from observed_inboxes)) as senders_inboxes_observed
    from marts.fct_message_recipients r
    join marts.fct_messages m using (message_key)
    group by r.person_id
),
declared_people as (
    select r.person_id
    from staging.stg_config_identity c
    join intermediate.int_addresses_resolved r on r.address = c.value
    where c.kind = 'person_address'
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
),
classified as (
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
        s.last_sent,
        p.person_id in (select person_id from declared_people) as is_declared_person,
        p.person_id in (select person_id from list_addresses) as is_list,
        p.person_id in (select person_id from group_named) as is_group_named,
        coalesce(s.messages_sent = 0, true) and rc.n_received >= 10 and rc.fewest_recipients >= 5
            and rc.senders_inboxes_observed as is_broadcast_only
    from people p
    left join directory d on d.person_id = p.person_id
    left join observed_name o on o.person_id = p.person_id
    left join sent s on s.person_id = p.person_id
    left join received rc on rc.person_id = p.person_id
    left join intermediate.int_addresses_resolved manager on manager.address = d.manager_email
)
select
    * exclude (is_declared_person, is_list, is_group_named, is_broadcast_only),
    case
        when is_ego or is_declared_person then null
        when is_automated then 'automated'
        when is_list then 'list_id'
        when is_group_named then 'group_name'
        when is_broadcast_only then 'broadcast_only'
    end as non_person_reason,
    non_person_reason is null as is_person
from classified
