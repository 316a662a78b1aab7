-- What was observed of each mailbox folder, calendar and hand-kept log in each calendar month (UTC): first and last
-- item, how many sent and received, and the silences between the month's items. intermediate.int_observation_windows
-- puts a scope's months together. Keyed by month (pipelines/keyed_models.py): a day's new items redo their months only.
-- One scope per (kind, source, owner, folder). A folder is named by the last part of its path ("\jdoe\'Sent Mail"
-- -> "sent mail"); its role says whether it can show inbound mail: a Sent, Drafts or Calendar folder never does,
-- whatever it holds (an assistant's mail in the owner's Sent folder is not mail the owner received).
with sightings as (
    -- the mail sources staging.stg_mail_sightings unites, read from raw as every staging model does
    select mailbox_owner, source, folder, labels, sent_at, from_address from raw.mail_messages
    union all by name
    select mailbox_owner, source, folder, labels, sent_at, from_address from raw.gmail_messages
    union all by name
    select mailbox_owner, source, folder, labels, sent_at, from_address from raw.graph_messages
),
events as (
    select calendar_owner, source, start_at, recurrence_id, status, organizer_address from raw.calendar_events
    union all by name
    select calendar_owner, source, start_at, recurrence_id, status, organizer_address from raw.gcal_events
    union all by name
    select calendar_owner, source, start_at, recurrence_id, status, organizer_address from raw.graph_events
),
mail as (
    select
        source,
        mailbox_owner as owner,
        nullif(lower(trim(regexp_extract(folder, '([^\\/]*)$', 1), ' ''."')), '') as folder,
        list_contains(labels, 'SENT') as sent_label,
        sent_at,
        from_address = mailbox_owner as from_owner
    from sightings
    where sent_at is not null
),
mail_items as (
    select
        'mail' as kind,
        source,
        owner,
        folder,
        case
            when folder is null then 'mailbox'
            when regexp_matches(folder, '^(sent|sent items|sent mail|sent_mail|sentitems|sent messages|outbox|gesendet.*|gesendete.*|envoy.*|elementos enviados|enviados|posta inviata|inviata|verzonden.*|skickat.*|sendt.*|sent-mail)$') then 'sent'
            when regexp_matches(folder, '^(drafts?|entw(ü|u)rfe|brouillons|borradores)$') then 'drafts'
            when regexp_matches(folder, '^(calendar|kalender|calendrier|calendario)$') then 'calendar'
            when regexp_matches(folder, '^(inbox|posteingang|boîte de réception|bandeja de entrada|posta in arrivo|postvak in|inkorgen)$') then 'inbox'
            else 'other'
        end as folder_role,
        sent_at as item_at,
        from_owner or coalesce(sent_label, false) as is_sent
    from mail
),
calendar_items as (
    -- Occurrences expanded from a series are left out: a series runs on without showing that the calendar was
    -- still kept (an export from 2001 would otherwise look current).
    select
        'calendar' as kind,
        source,
        calendar_owner as owner,
        null::varchar as folder,
        'calendar' as folder_role,
        start_at as item_at,
        organizer_address = calendar_owner as is_sent
    from events
    where start_at is not null and recurrence_id is null and coalesce(status, '') <> 'cancelled'
),
log_items as (
    select 'log' as kind, 'log' as source, owner, null::varchar as folder, 'log' as folder_role,
        occurred_at as item_at, true as is_sent
    from raw.manual_interactions
),
items as (
    select * from mail_items
    union all by name select * from calendar_items
    union all by name select * from log_items
),
gaps as (
    -- gaps in seconds from epoch_us: subtracting two timestamptz goes through ICU's calendar, about a hundred
    -- times slower a row, and this runs over every item
    select kind, source, owner, folder, folder_role, is_sent, month,
        (epoch_us(item_at) - epoch_us(lag(item_at) over scope)) / 1e6 as gap_seconds,
        lag(item_at) over scope as gap_start, item_at as gap_end
    from (select *, date_trunc('month', item_at) as month from items)
    window scope as (partition by kind, source, owner, folder, month order by item_at)
)
select
    kind,
    source,
    owner,
    folder,
    month,
    any_value(folder_role) as folder_role,
    min(gap_end) as first_item,
    max(gap_end) as last_item,
    count(*) as n_items,
    count(*) filter (where is_sent) as n_sent,
    count(*) filter (where not is_sent) as n_received,
    max(gap_seconds) as longest_gap_seconds,
    list(struct_pack(gap_start := gap_start, gap_end := gap_end) order by gap_start)
        filter (where gap_seconds > 30 * 86400) as gaps
from gaps
group by all
