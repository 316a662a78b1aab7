-- Alert digests delivered by `tiepulse notify` and the alert_digests_sensor (docs/notifications.md).
-- One row per digest sent or tried; its id is also the idempotency key carried by the message.
create table if not exists ops.notify_deliveries (
    delivery_id          varchar primary key,
    channel              varchar not null,   -- the channel's name, or its apprise URL with secrets masked
    recipient            varchar not null,   -- the ego of a personal digest, or 'organisation'
    status               varchar not null,   -- sending | sent | failed | uncertain
    title                varchar not null,
    body                 varchar not null,   -- the text sent (a retry sends the same text with the same id)
    alerts               integer not null,   -- alerts this digest delivers
    attempts             integer not null,
    created_at           timestamptz not null default now(),
    attempted_at         timestamptz,
    sent_at              timestamptz,
    error                varchar             -- the last failure, one line, secrets masked
);

-- Which alert episode (an alert id and the day it opened) went to which channel, in which digest: the primary key
-- is what makes each alert go once per channel. Rows are claimed before the digest is sent.
create table if not exists ops.notify_delivered_alerts (
    channel              varchar not null,
    alert_id             varchar not null,
    opened_at            date not null,
    delivery_id          varchar not null,
    primary key (channel, alert_id, opened_at)
);
