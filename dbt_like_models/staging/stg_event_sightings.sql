select * from raw.calendar_events
union all by name
select * from raw.gcal_events
union all by name
select * from raw.graph_events
