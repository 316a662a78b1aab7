-- Addresses that share an Exchange X.500 path are forms of one person (docs/data-model.md, "One person, one
-- identity"): X-From pairs the sender's path with the From address, and aligned X-To / X-cc entries pair a
-- recipient's path with the To / Cc address (connectors/mail/exchange.py). Forms linked through shared paths make
-- one group; each form (and each path) is merged into one canonical address: an ego's (a mailbox owner or a
-- configured ego), else the address seen sending under the path most, else the most seen. Two mailboxes owned by
-- forms of one person so agree on one owner. identity.keep_separate in the config takes an address out.
with recursive
kept_apart as (
    select value as address from staging.stg_config_identity where kind = 'keep_separate'
),
pairs as (
    select from_address as address, x500_sender as x500, 'x_from' as evidence
    from staging.stg_mail_sightings
    where x500_sender is not null
    union all
    select r.address, r.x500, 'x_' || r.kind
    from (select unnest(x500_recipients) as r from staging.stg_mail_sightings)
    where r.address is not null
),
edges as (
    select address, x500, count(*) as n_messages, list(distinct evidence order by evidence) as evidence
    from pairs
    where address <> x500
        and address not in (select address from kept_apart)
        and x500 not in (select address from kept_apart)
    group by address, x500
),
links(a, b) as (
    select address, x500 from edges
    union
    select x500, address from edges
),
reach(node, root) as (
    select a, a from links
    union
    select l.b, r.root from reach r join links l on l.a = r.node
),
groups as (
    select node as address, min(root) as group_key from reach group by node
),
egos as (
    select mailbox_owner as address from staging.stg_mail_sightings
    union select calendar_owner from staging.stg_event_sightings
    union select address from staging.stg_config_egos
),
members as (
    select
        g.address,
        g.group_key,
        g.address in (select address from egos) as is_ego,
        g.address like 'x500:%' or g.address like '%@x500.invalid' as is_path,
        coalesce(sum(e.n_messages) filter (where list_contains(e.evidence, 'x_from')), 0) as n_sent,
        coalesce(sum(e.n_messages), 0) + coalesce(sum(p.n_messages), 0) as n_messages,
        coalesce(list(distinct ev order by ev) filter (where ev is not null), []) as evidence,
        list(distinct coalesce(e.x500, g.address) order by coalesce(e.x500, g.address)) as x500_paths
    from groups g
    left join (select *, unnest(evidence) as ev from edges) e on e.address = g.address
    left join (select x500, sum(n_messages) as n_messages from edges group by x500) p on p.x500 = g.address
    group by g.address, g.group_key
),
canonical as (
    select group_key, arg_min(address, (not is_ego, is_path, -n_sent, -n_messages, address)) as person_address
    from members
    group by group_key
)
select
    m.address,
    c.person_address,
    m.x500_paths,
    case when m.is_path then ['x500_path'] else m.evidence end as evidence,
    m.n_messages::integer as n_messages
from members m
join canonical c using (group_key)
where m.address <> c.person_address
