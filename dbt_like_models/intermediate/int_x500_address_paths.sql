-- Every pairing of an address with an Exchange X.500 path that the importer was sure of (docs/data-model.md, "One
-- person, one identity"): X-From's path with the From address, an aligned X-To / X-cc entry's path with the To /
-- Cc address (connectors/mail/exchange.py). A path stands for one directory entry, so an address paired with two
-- or more paths is ambiguous (a shared or role mailbox, a mis-aligned export): int_x500_addresses_linked ignores
-- it, so it cannot make two people one.
with pairs as (
    select from_address as address, x500_sender as x500, 'x_from' as evidence
    from staging.stg_mail_sightings
    where x500_sender is not null
    union all
    select r.address, r.x500, 'x_' || r.kind
    from (select unnest(x500_recipients) as r from staging.stg_mail_sightings)
    where r.address is not null
),
edges as (
    select address, x500, count(*)::integer as n_messages, list(distinct evidence order by evidence) as evidence
    from pairs
    where address <> x500
    group by address, x500
)
select address, x500, n_messages, evidence, count(*) over (partition by address) > 1 as is_ambiguous
from edges
