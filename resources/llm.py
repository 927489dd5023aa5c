"""The LLM as a Dagster resource: LLM_BACKEND, OPENAI_API_KEY (an EnvVar, so the UI shows its
name), OPENAI_BASE_URL, LLM_MODEL, LLM_DAILY_TOKEN_BUDGET.

One resource for every AI use of the project (the agent's writer, title classification,
monitoring relevance); each run builds its `LlmClient` on the operational store. With
`LLM_BACKEND=template` there is no model: `client()` refuses, and callers that have a
template use it because the configuration says so, never as a fallback.
"""

from dagster import ConfigurableResource
from pydantic import Field
from sqlalchemy import Engine

from pipeline.llm import LlmClient, LlmError


class LlmResource(ConfigurableResource):
    backend: str = Field(default="template", description="LLM_BACKEND: template | openai.")
    api_key: str | None = Field(default=None, description="OPENAI_API_KEY (an EnvVar).")
    base_url: str | None = Field(
        default=None, description="OPENAI_BASE_URL: any OpenAI-compatible server."
    )
    model: str = Field(default="gpt-4o-mini", description="LLM_MODEL.")
    daily_token_budget: int | None = Field(
        default=200_000, description="LLM_DAILY_TOKEN_BUDGET: tokens per UTC day, all calls."
    )
    structured_output: str = Field(
        default="json_schema", description="LLM_STRUCTURED_OUTPUT: json_schema|tools|json_object."
    )
    timeout_seconds: float = 60.0
    max_retries: int = 3
    price_input_per_mtok: float | None = None
    price_output_per_mtok: float | None = None

    @property
    def enabled(self) -> bool:
        return self.backend == "openai"

    def client(self, engine: Engine) -> LlmClient:
        if not self.enabled:
            raise LlmError(
                f"LLM_BACKEND={self.backend}: no model is configured (set LLM_BACKEND=openai "
                "with OPENAI_API_KEY / OPENAI_BASE_URL)"
            )
        return LlmClient(
            api_key=self.api_key,
            base_url=self.base_url,
            model=self.model,
            engine=engine,
            daily_token_budget=self.daily_token_budget,
            structured_output=self.structured_output,  # type: ignore[arg-type]
            timeout_seconds=self.timeout_seconds,
            max_retries=self.max_retries,
            price_per_mtok=(self.price_input_per_mtok, self.price_output_per_mtok),
        )

    def describe(self) -> str:
        if not self.enabled:
            return "LLM: none (LLM_BACKEND=template: templates write)"
        from pipeline.llm.client import OPENAI_BASE_URL, _host

        budget = (
            f"{self.daily_token_budget:,} tokens/day" if self.daily_token_budget else "no budget"
        )
        return (
            f"LLM: {self.model} at {_host(self.base_url or OPENAI_BASE_URL)} "
            f"({self.structured_output}; {budget})"
        )
