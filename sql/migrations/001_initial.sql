-- Schemas, the raw landing tables, and the operational tables (sync state, quarantine, runs).
-- Raw tables keep what a source said, normalised only as far as identity requires (addresses are
-- lower-cased, IDN-decoded, optionally Gmail-folded and pseudonymised at ingestion). Never bodies.
create schema if not exists raw;
create schema if not exists staging;
create schema if not exists marts;
create schema if not exists ops;

-- One row per message per mailbox it was seen in; staging folds sightings into one message.
create table if not exists raw.mail_messages (
    message_key          varchar not null,   -- normalised Message-ID, else 'h:' || sha256(sender, date, recipients)
    mailbox_owner        varchar not null,   -- normalised address of the ego whose mailbox held the message
    source               varchar not null,   -- mbox | takeout | maildir | eml | gmail | graph
    source_file          varchar,            -- file path, or the account for API sources
    source_position      varchar,            -- byte offset, file name or API id of the record
    message_id           varchar,            -- Message-ID header, angle brackets stripped
    sent_at              timestamptz,        -- Date header in UTC
    from_address         varchar,
    from_name            varchar,
    recipients           struct(kind varchar, address varchar, name varchar)[],  -- kind: to | cc | bcc; one entry per address
    bad_address_count    integer not null default 0,
    in_reply_to          varchar,
    "references"         varchar[],
    is_reply             boolean,            -- subject starts with Re:/AW:/SV:/... (the subject itself is not kept)
    is_forward           boolean,
    subject_hash         varchar,            -- HMAC of the normalised subject, only with privacy.keep_subject_hash
    thread_id            varchar,            -- Gmail threadId / X-GM-THRID / Graph conversationId
    labels               varchar[],          -- X-Gmail-Labels / Gmail labelIds
    folder               varchar,            -- maildir / Graph folder / X-Folder
    list_id              varchar,
    has_list_unsubscribe boolean,
    precedence           varchar,
    auto_submitted       varchar,
    imported_at          timestamptz not null default now()
    -- key (message_key, mailbox_owner), enforced by the loader (pipelines/loader.py)
);

-- One row per event occurrence per calendar (recurrences expanded inside the import window).
create table if not exists raw.calendar_events (
    event_key            varchar not null,   -- uid, or uid || '|' || recurrence id (UTC ISO) for an occurrence
    calendar_owner       varchar not null,
    source               varchar not null,   -- ics | gcal | graph
    source_file          varchar,
    source_position      varchar,
    uid                  varchar,
    recurrence_id        varchar,
    start_at             timestamptz,
    end_at               timestamptz,
    is_all_day           boolean not null default false,
    timezone             varchar,
    status               varchar,            -- confirmed | tentative | cancelled
    organizer_address    varchar,
    organizer_name       varchar,
    attendees            struct(address varchar, name varchar, response varchar, role varchar, is_resource boolean)[],
    location             varchar,
    is_online            boolean,
    title_hash           varchar,
    series_id            varchar,
    updated_at           timestamptz,
    sequence             integer,
    imported_at          timestamptz not null default now()
    -- key (event_key, calendar_owner), enforced by the loader (pipelines/loader.py)
);

-- The hand-kept interaction log: calls, coffees, notes.
create table if not exists raw.manual_interactions (
    row_key              varchar primary key, -- sha256 of owner, date, person, channel, minutes and repeat index
    owner                varchar not null,
    source_file          varchar,
    source_position      varchar,
    occurred_at          timestamptz not null,
    person_address       varchar not null,
    person_name          varchar,
    channel              varchar not null,   -- call | in_person | video | chat | note
    minutes              double,
    imported_at          timestamptz not null default now()
);

-- The organisation directory (a snapshot: a re-import replaces the rows of the same file).
create table if not exists raw.directory (
    email                varchar primary key,
    other_emails         varchar[],
    name                 varchar,
    team                 varchar,
    department           varchar,
    org_unit             varchar,
    manager_email        varchar,
    location             varchar,
    is_internal          boolean,
    source_file          varchar,
    imported_at          timestamptz not null default now()
);

-- Contacts with their bucket and planned cadence; owner '' means every ego.
create table if not exists raw.contacts (
    owner                varchar not null,
    email                varchar not null,
    bucket               varchar,
    cadence_days         integer,
    source_file          varchar,
    imported_at          timestamptz not null default now(),
    primary key (owner, email)
);

-- Landed from the config file at every refresh.
create table if not exists raw.config_egos (
    ego                  varchar not null,
    address              varchar not null,
    name                 varchar,
    timezone             varchar,            -- IANA zone of the ego's working hours
    work_start_hour      integer,
    work_end_hour        integer,
    work_days            integer[],          -- 0 = Monday
    primary key (ego, address)
);

create table if not exists raw.config_aliases (
    alias                varchar primary key,
    canonical            varchar not null
);

create table if not exists raw.config_identity (
    kind                 varchar not null,   -- internal_domain | automated_pattern
    value                varchar not null,
    primary key (kind, value)
);

create table if not exists ops.quarantine (
    quarantine_key       varchar primary key, -- sha256 of source, file, position and reason: re-imports add nothing
    kind                 varchar not null,   -- message | event | csv_row
    source               varchar not null,
    source_file          varchar,
    source_position      varchar,
    reason               varchar not null,
    detail               varchar,
    raw_excerpt          varchar,
    quarantined_at       timestamptz not null default now()
);

-- Cursors: committed in the same transaction as the rows they cover.
create table if not exists ops.sync_state (
    source               varchar not null,
    account              varchar not null,
    stream               varchar not null,
    cursor               varchar,
    status               varchar not null,   -- running | complete
    updated_at           timestamptz not null default now(),
    primary key (source, account, stream)
);

create table if not exists ops.runs (
    run_id               varchar primary key,
    kind                 varchar not null,   -- import | refresh | sync | demo
    started_at           timestamptz not null,
    finished_at          timestamptz,
    status               varchar not null,   -- running | success | failure
    summary              json
);
