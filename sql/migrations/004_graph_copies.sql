-- Which Graph item carries which stored row. A message can sit in several folders of one mailbox (Ann mails
-- herself: one copy in Sent Items, one in Inbox) but is one row; removing one copy must keep the row while another
-- copy is left. A full re-read of a folder or calendar marks its copies stale and, once the re-read is complete,
-- removes the copies it did not see again and the rows left without any copy (pipelines/loader.py).
create table if not exists ops.item_copies (
    raw_table            varchar not null,   -- raw.graph_messages | raw.graph_events
    owner                varchar not null,   -- mailbox_owner / calendar_owner of the row
    scope                varchar not null,   -- the folder (inbox, sentitems, a folder id) or 'calendar'
    item_id              varchar not null,   -- the Graph id of the copy
    record_key           varchar not null,   -- message_key / event_key of the row it carries
    stale                boolean not null default false   -- not seen yet by the re-read in progress
    -- key (raw_table, owner, item_id), enforced by the loader
);

-- The rows stored before copies were tracked: each row is its own (first) copy.
insert into ops.item_copies (raw_table, owner, scope, item_id, record_key)
select 'raw.graph_messages', mailbox_owner, coalesce(folder, ''), source_position, message_key
from raw.graph_messages where source_position is not null;
insert into ops.item_copies (raw_table, owner, scope, item_id, record_key)
select 'raw.graph_events', calendar_owner, 'calendar', source_position, event_key
from raw.graph_events where source_position is not null;

-- Outlook mail keeps one cursor per mailbox (stream 'mail') holding every folder's delta link, so that folders are
-- read concurrently; the per-folder cursors of older versions are folded into it.
insert into ops.sync_state (source, account, stream, cursor, status, updated_at)
select
    'outlook',
    account,
    'mail',
    json_object('folders', json_group_object(stream, cursor))::varchar,
    case when bool_and(status = 'complete') then 'complete' else 'running' end,
    max(updated_at)
from ops.sync_state
where source = 'outlook' and stream <> 'mail'
group by account;
delete from ops.sync_state where source = 'outlook' and stream <> 'mail';

-- Graph's free/busy (showAs: free, tentative, busy, oof, workingelsewhere, unknown), lower-cased.
alter table raw.graph_events add column if not exists show_as varchar;
