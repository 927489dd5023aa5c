"""The project's one LLM client, on the official `openai` client against any
OpenAI-compatible server (OpenAI, Azure's compatible endpoint, vLLM, Ollama, llama.cpp).

Every AI use of the project (the prospecting agent's writer, title classification for
scoring, relevance in monitoring) goes through `LlmClient.complete_json`: instructions in
the system message only, data in user messages, a JSON answer validated against a schema,
retries on 429/5xx/timeouts (the client's own), a daily token budget shared by every
process (`LLM_DAILY_TOKEN_BUDGET`, in the operational store), answers cached per content
hash, the kill switch read before each paid call, and every call in the audit log with
secrets redacted. Failures raise; nothing here ever falls back to a template.
"""

from pipeline.llm.client import (
    LlmBudgetSpent,
    LlmClient,
    LlmError,
    LlmResult,
    LlmSchemaError,
    StructuredOutput,
)

__all__ = [
    "LlmBudgetSpent",
    "LlmClient",
    "LlmError",
    "LlmResult",
    "LlmSchemaError",
    "StructuredOutput",
]
