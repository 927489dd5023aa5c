-- description: >
--   Per CRM sync run: what was sent, what the CRM rejected and in which categories, what
--   was unchanged (and so not sent), merges, and rate-limit waits. Newest run first.
-- columns:
--   run_id:
--     description: The Dagster run of the sync.
--     tests:
--       - not_null
--       - unique
--       - relationships: {to: leads.crm_sync_runs, field: run_id}
--   backend:
--     description: outbox or hubspot.
--     tests:
--       - accepted_values: [outbox, hubspot]
--   status:
--     description: succeeded, or incomplete when the run stopped halfway (its report figures are null).
--     tests:
--       - accepted_values: [succeeded, incomplete]
--   started_at: First write the run recorded (UTC).
--   finished_at: When the run reported (UTC).
--   sent: Contacts sent to the CRM (new or changed).
--   created: Of those, created in the CRM.
--   unchanged: Contacts whose properties were as last synced, so not sent.
--   rejected: Records the CRM rejected (and duplicate emails held back).
--   rejected_rate: rejected / sent.
--   rejected_by_category: Rejected records per CRM error category.
--   merges: CRM contacts merged because the dedupe core merged their entities.
--   rate_limit_waits: >
--     Waits for the CRM's rate limit. Null: the sync does not record them yet (the HubSpot
--     client counts them in memory); they will come from the run's report in crm_sync_runs.
--   rate_limit_wait_seconds: Seconds spent in those waits (null until recorded, as above).
with rejected as (
    select
        run_id,
        map_from_entries(list((category, n) order by n desc, category)) as rejected_by_category
    from (
        select run_id, category, count(*) as n
        from leads.crm_sync_rejections
        group by all
    )
    group by all
)

select
    r.run_id,
    r.backend,
    r.status,
    r.started_at,
    r.finished_at,
    r.sent,
    r.created,
    r.unchanged,
    r.rejected,
    round(r.rejected / nullif(r.sent, 0), 4) as rejected_rate,
    coalesce(j.rejected_by_category, map()) as rejected_by_category,
    r.merges,
    r.rate_limit_waits,
    r.rate_limit_wait_seconds
from leads.crm_sync_runs r
left join rejected j using (run_id)
order by r.started_at desc nulls last, r.run_id
