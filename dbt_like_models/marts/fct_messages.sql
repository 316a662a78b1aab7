with sightings as (
    select
        m.* exclude (message_key),
        -- a copy under another Message-ID is a sighting of the message it folds into
        coalesce(c.folded_into, m.message_key) as message_key,
        m.message_key as own_key,
        sender.person_id as sender_id,
        coalesce(sender.is_automated_address, false) as sender_is_automated
    from staging.stg_mail_sightings m
    join intermediate.int_addresses_resolved sender on sender.address = m.from_address
    left join intermediate.int_message_copies_matched c on c.message_key = m.message_key
),
messages as (
    -- no ordered or distinct aggregates: DuckDB buffers and sorts every group's rows for those (a fifth of
    -- this model's CPU on a tenth of an organisation-year's messages); lists are made distinct and sorted after
    select
        message_key,
        arg_min(message_id, own_key <> message_key) as message_id,
        list_sort(list_distinct(list(own_key) filter (where own_key <> message_key))) as folded_keys,
        min(sent_at) as sent_at,
        any_value(sender_id) as sender_id,
        any_value(in_reply_to) filter (where in_reply_to is not null) as in_reply_to,
        any_value("references") filter (where len("references") > 0) as "references",
        bool_or(is_reply) as is_reply,
        bool_or(is_forward) as is_forward,
        any_value(subject_hash) filter (where subject_hash is not null) as subject_hash,
        any_value(thread_id) filter (where thread_id is not null) as thread_id,
        any_value(list_id) filter (where list_id is not null) as list_id,
        bool_or(coalesce(has_list_unsubscribe, false)) as has_list_unsubscribe,
        any_value(precedence) filter (where precedence is not null) as precedence,
        any_value(auto_submitted) filter (where auto_submitted is not null) as auto_submitted,
        bool_or(sender_is_automated) as sender_is_automated,
        max(bad_address_count) as bad_address_count,
        len(list_distinct(list(mailbox_owner))) as mailbox_count,
        list_sort(list_distinct(list(source))) as sources
    from sightings
    group by message_key
),
recipient_counts as (
    select message_key, count(*) as n_recipients from marts.fct_message_recipients group by message_key
)
select
    m.message_key,
    m.message_id,
    m.sent_at,
    m.sender_id,
    coalesce(r.n_recipients, 0)::integer as n_recipients,
    m.in_reply_to,
    coalesce(m."references", []::varchar[]) as "references",
    coalesce(m.is_reply, false) as is_reply,
    coalesce(m.is_forward, false) as is_forward,
    m.subject_hash,
    m.thread_id,
    m.list_id,
    case
        when m.sender_is_automated then 'automated_address'
        when m.auto_submitted is not null and m.auto_submitted <> 'no' then 'auto_submitted'
        when m.precedence in ('bulk', 'list', 'junk') then 'precedence_' || m.precedence
        when m.list_id is not null then 'list_id'
        when m.has_list_unsubscribe then 'list_unsubscribe'
    end as automated_reason,
    automated_reason is not null as is_automated,
    m.bad_address_count::integer as bad_address_count,
    m.mailbox_count::integer as mailbox_count,
    m.sources,
    coalesce(m.folded_keys, []::varchar[]) as folded_keys
from messages m
left join recipient_counts r using (message_key)
