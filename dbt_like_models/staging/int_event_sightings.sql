-- description: Every sighting of an event occurrence in a calendar, from .ics files and from the Google Calendar and Graph connectors (same columns as raw.calendar_events).
-- not_null: event_key, calendar_owner
select * from raw.calendar_events
union all by name
select * from raw.gcal_events
union all by name
select * from raw.graph_events
