-- description: >
--   Per arrived file: how many rows it held, how many were rejected and why, how many of
--   its leads were people already known from another lead, the share with a valid email and
--   phone, and whether (part of) it was quarantined. The worst files are the ones to chase.
-- columns:
--   arrival_day:
--     description: The day the file arrived (UTC).
--     tests: [not_null]
--   file_id:
--     description: The lead source's id of the file.
--     tests:
--       - not_null
--       - relationships: {to: leads.drive_files, field: file_id}
--   sha256: The content hash of the file as it arrived (a new version is a new row).
--   name: The file's name.
--   source: Where the file came from.
--   size_bytes: The file's size.
--   rows: Rows parsed from the file.
--   rejected: Rows that could not become a lead.
--   reject_rate: rejected / rows (null for a file without rows).
--   reject_reasons: Rejected rows per reason code (no_identity, empty_row, malformed_row).
--   leads: Rows that became leads.
--   duplicate_share: Share of the file's leads whose person has another lead (in this file or elsewhere).
--   valid_email_share: Share of the file's leads with a valid email.
--   valid_phone_share: Share of the file's leads with a valid phone number.
--   quarantined: Whether the file, or a member of an archive, could not be read at all.
--   quarantine_errors: Why, per quarantined part.
-- tests:
--   - unique: [arrival_day, file_id, sha256]
with files as (
    select arrival_day, file_id, sha256, name, source, size_bytes
    from leads.drive_files
),

rows_per_file as (
    select arrival_day, source_file_id as file_id, source_sha256 as sha256, count(*) as rows
    from leads.raw_leads
    group by all
),

reasons as (
    select arrival_day, source_file_id as file_id, source_sha256 as sha256, reason, count(*) as n
    from leads.rejected_rows
    group by all
),

rejected_per_file as (
    select
        arrival_day,
        file_id,
        sha256,
        sum(n) as rejected,
        map_from_entries(list((reason, n) order by n desc, reason)) as reject_reasons
    from reasons
    group by all
),

people_size as (
    select entity_id, count(*) as leads_of_person
    from leads.lead_entities
    group by all
),

leads_per_file as (
    select
        n.arrival_day,
        n.source_file_id as file_id,
        n.source_sha256 as sha256,
        count(*) as leads,
        avg(case when p.leads_of_person > 1 then 1.0 else 0.0 end) as duplicate_share,
        avg(case when n.email_valid then 1.0 else 0.0 end) as valid_email_share,
        avg(case when n.phone_valid then 1.0 else 0.0 end) as valid_phone_share
    from leads.normalized_leads n
    left join leads.lead_entities e on e.lead_id = n.lead_id
    left join people_size p on p.entity_id = e.entity_id
    group by all
),

quarantine as (
    select
        arrival_day,
        file_id,
        sha256,
        string_agg(name || ': ' || error, '; ' order by name) as quarantine_errors
    from leads.quarantined_files
    group by all
)

select
    f.arrival_day::date as arrival_day,
    f.file_id,
    f.sha256,
    f.name,
    f.source,
    f.size_bytes,
    coalesce(r.rows, 0) as rows,
    coalesce(j.rejected, 0)::bigint as rejected,
    round(coalesce(j.rejected, 0) / nullif(r.rows, 0), 4) as reject_rate,
    coalesce(j.reject_reasons, map()) as reject_reasons,
    coalesce(l.leads, 0) as leads,
    round(l.duplicate_share, 4) as duplicate_share,
    round(l.valid_email_share, 4) as valid_email_share,
    round(l.valid_phone_share, 4) as valid_phone_share,
    q.file_id is not null as quarantined,
    q.quarantine_errors
from files f
left join rows_per_file r using (arrival_day, file_id, sha256)
left join rejected_per_file j using (arrival_day, file_id, sha256)
left join leads_per_file l using (arrival_day, file_id, sha256)
left join quarantine q using (arrival_day, file_id, sha256)
order by f.arrival_day, reject_rate desc nulls last, f.name
