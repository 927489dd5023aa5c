"""Which ICP (scoring rules) the `scored_leads` asset uses, as a resource.

A resource rather than asset config: the ICP is a deployment choice (LEADS_ICP, like the other
LEADS_* settings), the UI's resource page shows the file in use, and later stages that need
the same rules (CRM sync of grades, digests) can share it.
"""

import os
from pathlib import Path

from dagster import ConfigurableResource
from pydantic import Field

from pipeline.scoring import DEFAULT_ICP_PATH, Icp, load_icp


class IcpSource(ConfigurableResource):
    path: str | None = Field(
        default=None,
        description="ICP YAML; empty means $LEADS_ICP, else pipeline/scoring/icp.yaml.",
    )

    def resolved_path(self) -> Path:
        return Path(self.path or os.environ.get("LEADS_ICP") or DEFAULT_ICP_PATH)

    def load(self) -> Icp:
        """The validated ICP; a bad file fails the run with the key at fault named."""
        return load_icp(self.resolved_path())
