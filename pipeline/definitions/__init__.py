"""The composition root: the one package of `pipeline/` that imports the Dagster layer.

Each domain builds its own `Definitions` from the settings (a module per domain here); they
are merged into the code location `lead_pipeline`. `defs` is lazy: importing this package
reads nothing and creates nothing; Dagster builds the definitions when it loads the code
location.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from dagster import Definitions, definitions

from pipeline.config import Settings, load_settings
from pipeline.definitions.agent import agent_definitions
from pipeline.definitions.backends import Backends, crm_from, enrichment_from, lead_source_from
from pipeline.definitions.crm import crm_definitions, crm_import_job, crm_job
from pipeline.definitions.dedupe import dedupe_definitions, dedupe_job
from pipeline.definitions.drive import drive_definitions
from pipeline.definitions.enrich import enrich_definitions, enrich_job
from pipeline.definitions.ingest import ingest_definitions, ingest_job
from pipeline.definitions.marts import marts_definitions, marts_job
from pipeline.definitions.monitoring import monitoring_definitions
from pipeline.definitions.operations import operations_definitions
from pipeline.definitions.outreach import outreach_definitions
from pipeline.definitions.webhooks import webhooks_definitions
from pipeline.malloc_arenas import use_one_malloc_arena

log = logging.getLogger("pipeline")

CODE_LOCATION = "lead_pipeline"

Domain = Callable[[Settings, Backends], Definitions]

# In lineage order; a new domain adds its function here.
DOMAINS: tuple[Domain, ...] = (
    ingest_definitions,
    dedupe_definitions,
    enrich_definitions,
    crm_definitions,
    webhooks_definitions,
    outreach_definitions,
    agent_definitions,
    monitoring_definitions,
    marts_definitions,
    drive_definitions,
    operations_definitions,
)


def build_definitions(settings: Settings | None = None) -> Definitions:
    settings = settings or load_settings()
    backends = Backends(settings)
    log.info(backends.describe())
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return Definitions.merge(*(domain(settings, backends) for domain in DOMAINS))


@definitions
def defs() -> Definitions:
    # Dagster calls this in each process that loads the code location (a run's worker
    # too): the dedupe engine's peak memory is 11-17 % lower with one malloc arena. Threads
    # that allocated before keep their arenas: `make dev` sets MALLOC_ARENA_MAX=1 from the
    # start (pipeline/malloc_arenas.py).
    use_one_malloc_arena()
    return build_definitions()


__all__ = [
    "CODE_LOCATION",
    "build_definitions",
    "crm_from",
    "crm_import_job",
    "crm_job",
    "dedupe_job",
    "defs",
    "enrich_job",
    "enrichment_from",
    "ingest_job",
    "lead_source_from",
    "marts_job",
]
