-- An ego's own other addresses, found in the data (docs/data-model.md, "One person, one identity"), each with the
-- evidence that ties it to the ego:
-- - self_addressed: the ego wrote from their mailbox to that address alone, under the ego's own display name
--   (or it wrote to the ego alone under the ego's name): a personal address they write to themselves;
-- - self_form: the ego wrote from their mailbox to an address whose local part is a form of the ego's own name
--   (first and last name from the ego's address or display name: ana.ruiz, ana_ruiz, anaruiz, ana.m.ruiz, and the
--   initial forms aruiz, a.ruiz, amruiz, each with trailing digits or not), with no other person's display name on
--   it. A full form counts wherever the ego put it; an initial form on the ego's own domain too (a copy to
--   oneself: mhain@ on mary.hain's mail), elsewhere only when the ego wrote to it alone (pallen70@hotmail.com);
-- - owner_form: two mailboxes of the import are owned by two forms of one corporate address (same domain, same
--   last name, one first name cut to its initial: phillip.allen, p.allen, pallen) that never wrote to each other.
-- An address tied to two egos is left alone; identity.keep_separate in the config undoes any merge.
with egos as (
    select mailbox_owner as ego from staging.stg_mail_sightings
    union select calendar_owner from staging.stg_event_sightings
    union select ego from staging.stg_config_egos
),
ego_names as (
    select from_address as ego, mode(lower(trim(from_name))) as name
    from staging.stg_mail_sightings
    where from_address = mailbox_owner and from_name like '% %'
    group by from_address
),
single_recipient as (
    select m.mailbox_owner, m.from_address, lower(trim(m.from_name)) as from_name, m.recipients[1] as r
    from staging.stg_mail_sightings m
    where len(m.recipients) = 1
),
self_addressed as (
    select r.address as address, s.mailbox_owner as ego_id, 'self_addressed' as evidence, count(*) as n_messages
    from single_recipient s
    where s.from_address = s.mailbox_owner and r.address <> s.mailbox_owner and lower(trim(r.name)) = s.from_name
        and s.from_name like '% %'
    group by all
    union all
    select s.from_address, s.mailbox_owner, 'self_addressed', count(*)
    from single_recipient s
    join ego_names n on n.ego = s.mailbox_owner
    where r.address = s.mailbox_owner and s.from_address <> s.mailbox_owner and s.from_name = n.name
    group by all
),
forms as (
    select
        ego,
        split_part(ego, '@', 2) as domain,
        string_split_regex(split_part(ego, '@', 1), '[._-]') as parts
    from egos
),
ego_name_parts as (
    -- first and last name of each ego: from a first.last address, and from the ego's display name
    select ego, parts[1] as first, parts[2] as last from forms where len(parts) = 2
    union
    select ego, regexp_extract(name, '^([a-z]+)', 1), regexp_extract(name, '([a-z]+)$', 1) from ego_names
),
own_recipients as (
    -- what the ego wrote to from their own mailbox: alone or among others, and under which display names
    select
        m.mailbox_owner as ego,
        r.address,
        regexp_replace(split_part(r.address, '@', 1), '[0-9]+$', '') as local,
        split_part(r.address, '@', 2) as domain,
        count(*) as n_messages,
        count(*) filter (where len(m.recipients) = 1) as n_alone,
        list(distinct lower(trim(r.name))) filter (where r.name is not null) as names,
        any_value(lower(trim(m.from_name))) filter (where m.from_name is not null) as ego_name
    from (select mailbox_owner, from_address, from_name, recipients, unnest(recipients) as r from staging.stg_mail_sightings) m
    where m.from_address = m.mailbox_owner and r.address <> m.mailbox_owner
    group by all
),
self_form as (
    select o.address, o.ego as ego_id, 'self_form' as evidence, max(o.n_messages) as n_messages
    from own_recipients o
    join ego_name_parts p on p.ego = o.ego and len(p.first) > 1 and len(p.last) > 1
    join forms f on f.ego = o.ego
    -- between the first name (or its initial) and the last name: separators and a middle initial, nothing else
    where (coalesce(len(o.names), 0) = 0 or list_contains(o.names, o.ego_name))
        and ends_with(o.local, p.last)
        and (
            (
                starts_with(o.local, p.first) and len(o.local) >= len(p.first) + len(p.last)
                and regexp_full_match(o.local[len(p.first) + 1:len(o.local) - len(p.last)], '[._-]?([a-z][._-]?)?')
            )
            or (
                starts_with(o.local, p.first[1]) and len(o.local) >= 1 + len(p.last)
                and regexp_full_match(o.local[2:len(o.local) - len(p.last)], '[._-]?([a-z][._-]?)?')
                and (o.domain = f.domain or o.n_alone > 0)
            )
        )
    group by all
),
owner_form as (
    -- b is the initial-only form of a: a's first name cut to its initial, with or without the separator
    select b.ego as address, a.ego as ego_id, 'owner_form' as evidence, 0 as n_messages
    from forms a
    join forms b on a.domain = b.domain and a.ego <> b.ego
    where len(a.parts) = 2 and len(a.parts[1]) > 1
        and (
            (len(b.parts) = 2 and b.parts[1] = a.parts[1][1] and b.parts[2] = a.parts[2])
            or (len(b.parts) = 1 and b.parts[1] = a.parts[1][1] || a.parts[2])
        )
        and not exists (
            select 1 from staging.stg_mail_sightings m
            where (m.from_address = a.ego and list_contains([r.address for r in m.recipients], b.ego))
                or (m.from_address = b.ego and list_contains([r.address for r in m.recipients], a.ego))
        )
),
evidence as (
    select * from self_addressed
    union all
    select * from self_form
    union all
    select * from owner_form
)
select address, any_value(ego_id) as ego_id, list(distinct evidence order by evidence) as evidence, sum(n_messages)::integer as n_messages
from evidence
where address not in (select value from staging.stg_config_identity where kind = 'keep_separate')
    and address not in (select ego_id from evidence)
group by address
having count(distinct ego_id) = 1
