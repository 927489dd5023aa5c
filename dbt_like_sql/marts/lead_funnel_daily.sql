-- description: >
--   Per arrival day and lead source, how far the leads got: files -> rows -> rejected ->
--   leads -> people -> enriched -> synced. People are counted on every day they appear in;
--   enriched and synced describe each person's golden record as it is now.
-- columns:
--   arrival_day:
--     description: The day the files arrived (UTC), the ingest partition.
--     tests: [not_null]
--   source:
--     description: Where the files came from (the lead source, e.g. the watched folder).
--     tests: [not_null]
--   files: Files that arrived (archives count once).
--   quarantined_files: Of those, files with a part that could not be read at all.
--   rows: Rows parsed from the files.
--   rejected: Rows that could not become a lead (leads.rejected_rows).
--   leads: Rows that became leads (leads.normalized_leads).
--   people: Distinct people (dedupe entities) among the day's leads.
--   enriched: People whose golden record the providers enriched (enrichment_status enriched).
--   synced: People whose contact is in the CRM sync ledger as synced.
-- tests:
--   - unique: [arrival_day, source]
--   - row_count: {min: 1}
with files as (
    select arrival_day, file_id, sha256, source
    from leads.drive_files
),

leads_of_day as (
    select
        n.arrival_day,
        f.source,
        n.lead_id,
        e.entity_id
    from leads.normalized_leads n
    join files f
        on f.arrival_day = n.arrival_day
        and f.file_id = n.source_file_id
        and f.sha256 = n.source_sha256
    left join leads.lead_entities e on e.lead_id = n.lead_id
),

people as (
    select
        l.arrival_day,
        l.source,
        count(distinct l.lead_id) as leads,
        count(distinct l.entity_id) as people,
        count(distinct l.entity_id) filter (where x.enrichment_status = 'enriched') as enriched,
        count(distinct l.entity_id) filter (where c.status = 'synced') as synced
    from leads_of_day l
    left join leads.enriched_leads x on x.entity_id = l.entity_id
    left join leads.crm_contacts c on c.entity_id = l.entity_id
    group by all
),

file_counts as (
    select
        f.arrival_day,
        f.source,
        count(*) as files,
        count(*) filter (
            where exists (
                select 1
                from leads.quarantined_files q
                where q.arrival_day = f.arrival_day
                    and q.file_id = f.file_id
                    and q.sha256 = f.sha256
            )
        ) as quarantined_files
    from files f
    group by all
),

row_counts as (
    select
        r.arrival_day,
        f.source,
        count(*) filter (where r.kind = 'parsed') as rows,
        count(*) filter (where r.kind = 'rejected') as rejected
    from (
        select arrival_day, source_file_id, source_sha256, 'parsed' as kind
        from leads.raw_leads
        union all
        select arrival_day, source_file_id, source_sha256, 'rejected'
        from leads.rejected_rows
    ) r
    join files f
        on f.arrival_day = r.arrival_day
        and f.file_id = r.source_file_id
        and f.sha256 = r.source_sha256
    group by all
)

select
    fc.arrival_day::date as arrival_day,
    fc.source,
    fc.files,
    fc.quarantined_files,
    coalesce(rc.rows, 0) as rows,
    coalesce(rc.rejected, 0) as rejected,
    coalesce(p.leads, 0) as leads,
    coalesce(p.people, 0) as people,
    coalesce(p.enriched, 0) as enriched,
    coalesce(p.synced, 0) as synced
from file_counts fc
left join row_counts rc using (arrival_day, source)
left join people p using (arrival_day, source)
order by arrival_day, source
