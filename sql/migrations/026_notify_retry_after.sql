-- A digest refused with a Retry-After (HTTP 429 or 503) waits until then: its channel gets nothing before
-- (docs/notifications.md).
alter table ops.notify_deliveries add column if not exists retry_at timestamptz;
