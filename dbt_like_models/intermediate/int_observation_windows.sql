-- What was observed of each mailbox folder, calendar and hand-kept log: first and last item, direction, gaps.
-- One scope per (kind, source, owner, folder), put together from its months (staging.stg_observation_months): a
-- silence across months runs from the last item of one month with items to the first item of the next.
with months as (
    select
        *,
        first_item - lag(last_item) over (partition by kind, source, owner, folder order by month) as gap_before,
        lag(last_item) over (partition by kind, source, owner, folder order by month) as gap_start
    from staging.stg_observation_months
),
scopes as (
    select
        kind,
        source,
        owner,
        folder,
        any_value(folder_role) as folder_role,
        min(first_item) as first_item,
        max(last_item) as last_item,
        sum(n_items)::bigint as n_items,
        sum(n_sent)::bigint as n_sent,
        sum(n_received)::bigint as n_received,
        greatest(max(longest_gap_seconds), max(date_part('epoch', gap_before))) / 86400.0 as longest_gap_days
    from months
    group by kind, source, owner, folder
),
gaps as (
    select kind, source, owner, folder,
        list(gap order by gap.gap_start) as gaps
    from (
        select kind, source, owner, folder, unnest(gaps) as gap from months
        union all
        select kind, source, owner, folder, struct_pack(gap_start := gap_start, gap_end := first_item)
        from months
        where gap_before > interval 30 day
    )
    group by all
)
select
    s.kind,
    s.source,
    s.owner,
    s.folder,
    s.folder_role,
    s.first_item,
    s.last_item,
    s.n_items,
    s.n_sent,
    s.n_received,
    case
        when s.kind in ('calendar', 'log') then 'both'
        when s.folder_role in ('sent', 'drafts') then 'sent_only'
        when s.folder_role = 'calendar' then 'calendar_notices'
        when s.n_received = 0 then 'sent_only'
        when s.n_sent = 0 then 'received_only'
        else 'both'
    end as direction,
    s.longest_gap_days,
    coalesce(g.gaps, []) as gaps
from scopes s
left join gaps g on g.kind = s.kind and g.source = s.source and g.owner = s.owner and g.folder is not distinct from s.folder
