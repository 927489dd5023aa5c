"""`LlmClient.complete_json`: one structured answer from an OpenAI-compatible server.

The order of a call: the request is checked (instructions only in `system`, data only in
user/assistant messages, a valid JSON Schema); a cached answer for the same content is
returned at no cost; otherwise the kill switch is read, the day's token budget reserves the
call's estimate, the `openai` client sends it (retrying 429, 5xx, timeouts and dropped
connections itself, honouring `Retry-After`), the answer is parsed and validated against
the schema, usage is settled against the budget, and the whole exchange goes to the audit
log with secrets redacted. Any failure raises `LlmError` (or `LlmBudgetSpent`): a caller
that wants a template must choose it itself.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from sqlalchemy import Engine

from pipeline.llm import budget, cache
from pipeline.llm.prices import cost_usd
from pipeline.llm.redact import redact
from pipeline.store import audit
from pipeline.store.pause import check_not_paused

if TYPE_CHECKING:
    import openai

StructuredOutput = Literal["json_schema", "tools", "json_object"]
OPENAI_BASE_URL = "https://api.openai.com/v1"
# Tokens per character, for the reservation made before the server says what it counted
# (a generous estimate: English is ~4 characters a token; a reservation too small would let
# a burst of calls overshoot the budget).
CHARS_PER_TOKEN = 3
MESSAGE_OVERHEAD_TOKENS = 8


class LlmError(RuntimeError):
    """The model failed after the client's retries (429, 5xx, timeouts, connection), refused
    the credentials, or answered something that does not fit the schema."""


class LlmSchemaError(LlmError):
    """The answer is not JSON or does not fit the schema; `answer` is what came back."""

    def __init__(self, message: str, answer: str) -> None:
        super().__init__(message)
        self.answer = answer


class LlmBudgetSpent(LlmError):
    """The day's token budget (LLM_DAILY_TOKEN_BUDGET) is used up: stop cleanly, go on
    tomorrow (UTC)."""


@dataclass(frozen=True)
class LlmResult:
    data: dict[str, Any]
    model: str
    prompt_tokens: int
    completion_tokens: int
    cached: bool = False
    cost_usd: float | None = None
    duration_ms: int = 0
    raw: str = field(default="", repr=False)


def _host(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")


def _strip_fences(text: str) -> str:
    """Some servers wrap JSON in a Markdown fence even when asked for JSON."""
    fenced = re.fullmatch(r"\s*```(?:json)?\s*(.*?)\s*```\s*", text, re.DOTALL)
    return fenced.group(1) if fenced else text


class LlmClient:
    """See the module docstring; `engine` is the operational store (budget, cache, audit,
    kill switch)."""

    def __init__(
        self,
        *,
        api_key: str | None,
        base_url: str | None = None,
        model: str,
        engine: Engine,
        daily_token_budget: int | None = None,
        structured_output: StructuredOutput = "json_schema",
        timeout_seconds: float = 60.0,
        max_retries: int = 3,
        price_per_mtok: tuple[float | None, float | None] = (None, None),
        temperature: float | None = 0.2,
    ) -> None:
        if not model:
            raise ValueError("LLM_MODEL is empty: name the model the server should run")
        self.model = model
        self.base_url = (base_url or OPENAI_BASE_URL).rstrip("/")
        self.engine = engine
        self.daily_token_budget = daily_token_budget
        self.structured_output = structured_output
        self.temperature = temperature
        self._price = price_per_mtok
        self._secrets = tuple(s for s in (api_key,) if s)
        self._max_retries = max_retries
        # Imported here: the SDK takes ~0.5 s to import, which every process loading the
        # definitions paid though most never build a client.
        import openai

        # A local server may need no key; the client still wants one.
        self._openai = openai.OpenAI(
            api_key=api_key or "no-key",
            base_url=self.base_url,
            timeout=timeout_seconds,
            max_retries=max_retries,
        )

    def __repr__(self) -> str:
        return f"LlmClient(model={self.model!r}, base_url={_host(self.base_url)!r})"

    def describe(self) -> str:
        budget_text = (
            f"{self.daily_token_budget:,} tokens/day"
            if self.daily_token_budget is not None
            else "no daily token budget"
        )
        return (
            f"LLM {self.model} at {_host(self.base_url)} ({self.structured_output}; {budget_text})"
        )

    def close(self) -> None:
        self._openai.close()

    # --- the call --------------------------------------------------------------------------
    def complete_json(
        self,
        *,
        purpose: str,
        system: str,
        messages: list[dict[str, str]],
        schema: dict[str, Any],
        schema_name: str,
        max_output_tokens: int = 800,
        cache_key: str | None = None,
        actor: str = "pipeline",
        run_id: str | None = None,
    ) -> LlmResult:
        validator = self._validator(schema)
        for index, message in enumerate(messages):
            if message.get("role") not in ("user", "assistant"):
                raise ValueError(
                    f"messages[{index}]: role {message.get('role')!r}; instructions go in "
                    "`system`, data in user messages"
                )
        request = self._request(system, messages, schema, schema_name, max_output_tokens)
        payload = json.dumps(request, sort_keys=True)
        key = (
            cache.cache_key(cache_key, self.model, schema_name, schema, request["messages"])
            if cache_key is not None
            else None
        )
        if key is not None:
            hit = cache.lookup(self.engine, key)
            if hit is not None:
                result = LlmResult(
                    hit.data, hit.model, hit.prompt_tokens, hit.completion_tokens, cached=True
                )
                self._audit(actor, purpose, run_id, payload, request, result, "cached")
                return result

        check_not_paused(self.engine, f"LLM calls ({purpose})")
        day = datetime.now(UTC).date()
        estimate = len(payload) // CHARS_PER_TOKEN + max_output_tokens
        estimate += MESSAGE_OVERHEAD_TOKENS * (len(messages) + 1)
        if not budget.reserve(self.engine, day, estimate, self.daily_token_budget):
            used = budget.spent(self.engine, day).tokens
            message = (
                f"{purpose}: the day's LLM token budget is spent ({used:,} of "
                f"{self.daily_token_budget:,} tokens used, this call needs about {estimate:,}); "
                "calls resume tomorrow (UTC) or with a larger LLM_DAILY_TOKEN_BUDGET"
            )
            self._audit_failure(actor, purpose, run_id, payload, request, "budget_spent", message)
            raise LlmBudgetSpent(message)

        import openai

        started = time.perf_counter()
        try:
            response = self._openai.chat.completions.create(**request)
        except openai.APIStatusError as exc:
            budget.settle(self.engine, day, estimate, None)
            message = self._status_message(purpose, exc)
            self._audit_failure(actor, purpose, run_id, payload, request, "http_error", message)
            raise LlmError(message) from None
        except openai.APIConnectionError as exc:
            budget.settle(self.engine, day, estimate, None)
            what = "timed out" if isinstance(exc, openai.APITimeoutError) else "connection failed"
            message = (
                f"{purpose}: the model server at {_host(self.base_url)} {what} after "
                f"{self._max_retries} retries ({type(exc).__name__}: {exc})"
            )
            self._audit_failure(actor, purpose, run_id, payload, request, "connection", message)
            raise LlmError(message) from None
        duration_ms = int((time.perf_counter() - started) * 1000)

        usage = response.usage
        prompt_tokens = int(getattr(usage, "prompt_tokens", 0) or 0)
        completion_tokens = int(getattr(usage, "completion_tokens", 0) or 0)
        budget.settle(
            self.engine, day, estimate, prompt_tokens + completion_tokens if usage else estimate
        )
        model = response.model or self.model
        raw = self._answer_text(response)
        result = LlmResult(
            {},
            model,
            prompt_tokens,
            completion_tokens,
            cost_usd=cost_usd(model, prompt_tokens, completion_tokens, self._price),
            duration_ms=duration_ms,
            raw=raw,
        )
        try:
            data = json.loads(_strip_fences(raw))
        except json.JSONDecodeError as exc:
            message = f"{purpose}: the answer is not JSON ({exc.msg} at {exc.pos})"
            self._audit(actor, purpose, run_id, payload, request, result, "invalid", message)
            raise LlmSchemaError(message, raw) from None
        problems = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
        if problems:
            where = "/".join(str(p) for p in problems[0].absolute_path) or "(answer)"
            message = f"{purpose}: the answer does not fit {schema_name}: {where}: " + (
                problems[0].message
            )
            self._audit(actor, purpose, run_id, payload, request, result, "invalid", message)
            raise LlmSchemaError(message, raw)
        result = LlmResult(
            data,
            model,
            prompt_tokens,
            completion_tokens,
            cost_usd=result.cost_usd,
            duration_ms=duration_ms,
            raw=raw,
        )
        if key is not None:
            cache.keep(
                self.engine,
                key,
                purpose,
                cache.CachedAnswer(data, model, prompt_tokens, completion_tokens),
            )
        self._audit(actor, purpose, run_id, payload, request, result, "ok")
        return result

    # --- pieces ----------------------------------------------------------------------------
    @staticmethod
    def _validator(schema: dict[str, Any]) -> Draft202012Validator:
        try:
            Draft202012Validator.check_schema(schema)
        except SchemaError as exc:
            raise ValueError(f"not a valid JSON Schema: {exc.message}") from None
        return Draft202012Validator(schema)

    def _request(
        self,
        system: str,
        messages: list[dict[str, str]],
        schema: dict[str, Any],
        schema_name: str,
        max_output_tokens: int,
    ) -> dict[str, Any]:
        instructions = system
        request: dict[str, Any] = {"model": self.model, "max_tokens": max_output_tokens}
        if self.temperature is not None:
            request["temperature"] = self.temperature
        if self.structured_output == "json_schema":
            request["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": schema_name, "schema": schema, "strict": False},
            }
        elif self.structured_output == "tools":
            request["tools"] = [
                {
                    "type": "function",
                    "function": {
                        "name": schema_name,
                        "description": "Give the answer through this function.",
                        "parameters": schema,
                    },
                }
            ]
            request["tool_choice"] = {"type": "function", "function": {"name": schema_name}}
        else:  # json_object: the schema travels in the instructions
            request["response_format"] = {"type": "json_object"}
            instructions = (
                f"{system}\n\nAnswer with one JSON object that fits this JSON Schema:\n"
                f"{json.dumps(schema, sort_keys=True)}"
            )
        request["messages"] = [{"role": "system", "content": instructions}, *messages]
        return request

    @staticmethod
    def _answer_text(response: Any) -> str:
        """The JSON text of the first choice: a tool call's arguments, else the content."""
        if not response.choices:
            return ""
        message = response.choices[0].message
        for call in message.tool_calls or []:
            function = getattr(call, "function", None)
            if function is not None and function.arguments:
                return function.arguments
        return message.content or ""

    def _status_message(self, purpose: str, exc: openai.APIStatusError) -> str:
        status = exc.status_code
        body = exc.body if isinstance(exc.body, dict) else {}
        detail = body.get("message") or (body.get("error") or {}).get("message") or exc.message
        host = _host(self.base_url)
        if status == 401:
            return (
                f"{purpose}: the model server at {host} refused the credentials (401: "
                f"{detail}); check OPENAI_API_KEY"
            )
        if status == 429:
            return (
                f"{purpose}: the model server at {host} kept answering 429 (rate limit or "
                f"quota) after {self._max_retries} retries: {detail}"
            )
        if status >= 500:
            return (
                f"{purpose}: the model server at {host} answered {status} after "
                f"{self._max_retries} retries: {detail}"
            )
        return f"{purpose}: the model server at {host} answered {status}: {detail}"

    def _audit(
        self,
        actor: str,
        purpose: str,
        run_id: str | None,
        payload: str,
        request: dict[str, Any],
        result: LlmResult,
        status: str,
        error: str | None = None,
    ) -> None:
        details = {
            "status": status,
            "model": result.model,
            "base_url": _host(self.base_url),
            "messages": request["messages"],
            "output": result.data if status in ("ok", "cached") else result.raw,
            "usage": {
                "prompt": result.prompt_tokens,
                "completion": result.completion_tokens,
                "counted_against_budget": not result.cached,
            },
            "cost_usd": None if result.cached else result.cost_usd,
            "cached": result.cached,
            "duration_ms": result.duration_ms,
        }
        if error:
            details["error"] = error
        audit.record(
            self.engine,
            actor=actor,
            action=f"llm.{status}",
            subject=purpose,
            run_id=run_id,
            payload=payload,
            details=redact(details, self._secrets),
        )

    def _audit_failure(
        self,
        actor: str,
        purpose: str,
        run_id: str | None,
        payload: str,
        request: dict[str, Any],
        status: str,
        error: str,
    ) -> None:
        self._audit(
            actor,
            purpose,
            run_id,
            payload,
            request,
            LlmResult({}, self.model, 0, 0),
            status,
            error,
        )
