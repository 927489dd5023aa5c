-- description: >
--   Per day, how the dedupe core changed who is who: entities merged into another (records
--   of both now match) and entities split (some records no longer match the rest), with the
--   records that moved. The CRM sync merges the CRM contacts of merged entities.
-- columns:
--   day:
--     description: The day the change was recorded (UTC).
--     tests: [not_null, unique]
--   merges: Entities merged into another.
--   splits: Parts split off an entity (each part a new entity).
--   records_merged: Records that moved with the merges.
--   records_split: Records that moved with the splits.
--   entities_touched: Distinct entities on either side of a merge or split.
with events as (
    select recorded_at::date as day, event, entity_id, other_entity_id, records
    from leads.entity_events
),

touched as (
    select day, count(distinct entity) as entities_touched
    from (
        select day, entity_id as entity from events
        union all
        select day, other_entity_id from events
    )
    where entity is not null
    group by all
)

select
    e.day,
    count(*) filter (where e.event = 'merge') as merges,
    count(*) filter (where e.event = 'split') as splits,
    coalesce(sum(e.records) filter (where e.event = 'merge'), 0)::bigint as records_merged,
    coalesce(sum(e.records) filter (where e.event = 'split'), 0)::bigint as records_split,
    coalesce(any_value(t.entities_touched), 0) as entities_touched
from events e
left join touched t on t.day is not distinct from e.day
group by e.day
order by e.day
