"""Calling an LLM judge through litellm: bounded concurrency, timeouts, retries, Retry-After, fallbacks.

One :class:`JudgeClient` per configured judge. A judgement is attempted up to ``max_attempts``
times within ``deadline_s``: 429, 408/timeouts, 5xx, connection errors and malformed replies are
retried with exponential backoff and full jitter, waiting at least what the provider's
``Retry-After`` (or ``retry-after-ms``) asks; other errors (400, 401, 404 ...) are final. Fallback
models are tried by a litellm Router within each attempt. The shared semaphore bounds calls in
flight across every judge of the worker and is not held while backing off. Tokens and cost
(litellm's ``response_cost``) add up over all attempts, failed ones included.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel

from glassbox.evaluators.config import JudgeConfig, JudgeModel
from glassbox.evaluators.judge.verdicts import MalformedVerdict, parse_verdict
from glassbox.evaluators.types import JudgeUsage

RETRYABLE_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
BASE_BACKOFF_S = 0.5
LOCAL_SERVER_KEY = "no-key"
SYSTEM_PROMPT = "You are a strict, careful evaluation judge. Reply with a single JSON object and nothing else."
V = TypeVar("V", bound=BaseModel)


class JudgeFailed(Exception):
    """Every attempt failed; ``reason`` says how, ``usage`` what the attempts cost."""

    def __init__(self, reason: str, usage: JudgeUsage) -> None:
        super().__init__(reason)
        self.reason = reason
        self.usage = usage


@dataclass(frozen=True, slots=True)
class ResolvedModel:
    model: str
    api_base: str | None
    api_key: str | None
    extra: dict[str, Any]


def resolve(
    model: JudgeModel, default_model: str, default_api_base: str | None, default_key_env: str | None = None
) -> tuple[ResolvedModel | None, str]:
    """(the model with defaults and its key from the environment, or None with why it cannot be called).

    A missing key is fatal unless the model has an api_base (a local or self-hosted server, which
    takes any key): then a placeholder key is sent.
    """
    name = model.model or default_model
    api_base = model.api_base or default_api_base
    key_env = model.api_key_env or default_key_env
    key = None
    if key_env:
        key = os.environ.get(key_env)
        if not key and not api_base:
            return None, f"environment variable {key_env} is not set"
    if not key and api_base:
        key = LOCAL_SERVER_KEY
    return ResolvedModel(name, api_base, key, dict(model.litellm_params)), ""


def retry_after_s(exc: BaseException) -> float | None:
    """Seconds the provider asked us to wait (Retry-After seconds or HTTP date, retry-after-ms), if any."""
    headers = getattr(getattr(exc, "response", None), "headers", None) or getattr(exc, "litellm_response_headers", None)
    if not headers:
        return None
    try:
        millis = headers.get("retry-after-ms")
        if millis is not None:
            return max(0.0, float(millis) / 1000)
        value = headers.get("retry-after")
        if value is None:
            return None
        try:
            return max(0.0, float(value))
        except ValueError:
            when = email.utils.parsedate_to_datetime(value)
            return max(0.0, when.timestamp() - time.time())
    except (TypeError, ValueError, AttributeError):
        return None


def status_of(exc: BaseException) -> int | None:
    if isinstance(exc, asyncio.TimeoutError | TimeoutError):
        return 408
    status = getattr(exc, "status_code", None)
    return status if isinstance(status, int) else None


def is_retryable(exc: BaseException) -> bool:
    """Malformed verdicts, timeouts, connection errors, 429 and 5xx are worth another attempt; missing
    credentials (which litellm reports as a 500) and other 4xx are not."""
    if isinstance(exc, MalformedVerdict):
        return True
    if "missing credentials" in str(exc).lower():
        return False
    status = status_of(exc)
    if status is not None:
        return status in RETRYABLE_STATUS
    name = type(exc).__name__
    return "Connection" in name or "Timeout" in name


def _describe(exc: BaseException) -> str:
    status = status_of(exc)
    text = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
    return f"HTTP {status}: {text}" if status else f"{type(exc).__name__}: {text}"


class JudgeClient:
    """Calls one judge (primary model + fallbacks). ``unavailable`` says why it cannot be called at all."""

    def __init__(
        self,
        name: str,
        config: JudgeConfig,
        *,
        default_model: str,
        default_api_base: str | None,
        semaphore: asyncio.Semaphore,
        default_api_key_env: str | None = None,
        sleep: Callable[[float], Any] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.name = name
        self.config = config
        self.semaphore = semaphore
        self._sleep, self._clock, self._rng = sleep, clock, rng
        primary, problem = resolve(config, default_model, default_api_base, default_api_key_env)
        self.unavailable = f"judge {name!r} is not configured: {problem}" if primary is None else None
        self.models: list[ResolvedModel] = []
        if primary is not None:
            self.models.append(primary)
            for fallback in config.fallbacks:
                resolved, _ = resolve(fallback, default_model, default_api_base)
                if resolved is not None:
                    self.models.append(resolved)
        self.model_name = self.models[0].model if self.models else (config.model or default_model)
        self._router: Any = None
        if self.models:
            self._setup(config)

    def _setup(self, config: JudgeConfig) -> None:
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        import litellm

        litellm.suppress_debug_info = True
        for logger_name in ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy"):
            logging.getLogger(logger_name).setLevel(logging.CRITICAL)
        for spec, resolved in zip([config, *config.fallbacks], self.models, strict=False):
            if spec.input_cost_per_token is not None or spec.output_cost_per_token is not None:
                litellm.register_model(
                    {
                        resolved.model: {
                            "input_cost_per_token": spec.input_cost_per_token or 0.0,
                            "output_cost_per_token": spec.output_cost_per_token or 0.0,
                            "litellm_provider": resolved.model.split("/", 1)[0],
                            "mode": "chat",
                        }
                    }
                )
        if len(self.models) > 1:
            from litellm import Router

            names = [f"glassbox-judge-{self.name}"] + [
                f"glassbox-judge-{self.name}-fallback-{i}" for i in range(1, len(self.models))
            ]
            self._router = Router(
                model_list=[
                    {"model_name": alias, "litellm_params": self._params(m)}
                    for alias, m in zip(names, self.models, strict=True)
                ],
                fallbacks=[{names[0]: names[1:]}],
                num_retries=0,
                set_verbose=False,
            )
            self._router_model = names[0]

    def _params(self, model: ResolvedModel) -> dict[str, Any]:
        params: dict[str, Any] = {"model": model.model, "timeout": self.config.timeout_s, "max_retries": 0}
        if model.api_base:
            params["api_base"] = model.api_base
        if model.api_key:
            params["api_key"] = model.api_key
        params.update(model.extra)
        return params

    async def _call(self, messages: list[dict[str, str]]) -> Any:
        options: dict[str, Any] = {"messages": messages, "temperature": self.config.temperature, "drop_params": True}
        if self.config.json_mode:
            options["response_format"] = {"type": "json_object"}
        hard_limit = self.config.timeout_s * len(self.models) + 5.0
        async with self.semaphore:
            if self._router is not None:
                call = self._router.acompletion(model=self._router_model, **options)
            else:
                import litellm

                call = litellm.acompletion(**self._params(self.models[0]), **options)
            return await asyncio.wait_for(call, hard_limit)

    async def judge(self, prompt: str, model: type[V]) -> tuple[V, JudgeUsage]:
        """The judge's verdict on ``prompt``, parsed into ``model``; raises JudgeFailed when every attempt failed."""
        if self.unavailable:
            raise JudgeFailed(self.unavailable, JudgeUsage(self.model_name))
        messages = [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": prompt}]
        cfg = self.config
        started = self._clock()
        usage = JudgeUsage(self.model_name)
        failures: list[str] = []
        for attempt in range(1, cfg.max_attempts + 1):
            wait_hint: float | None = None
            try:
                response = await self._call(messages)
                usage = _add_usage(usage, response, attempt)
                content = response.choices[0].message.content or ""
                return parse_verdict(content, model), usage
            except Exception as exc:
                usage = JudgeUsage(usage.model, usage.input_tokens, usage.output_tokens, usage.cost_usd, attempt)
                failures.append(_describe(exc))
                if not is_retryable(exc):
                    raise JudgeFailed(f"judge {self.name!r} failed: {failures[-1]}", usage) from None
                wait_hint = retry_after_s(exc)
            if attempt == cfg.max_attempts:
                break
            backoff = min(cfg.max_backoff_s, BASE_BACKOFF_S * 2 ** (attempt - 1)) * self._rng()
            delay = max(backoff, wait_hint or 0.0)
            if self._clock() - started + delay > cfg.deadline_s:
                failures.append(f"next attempt in {delay:.1f}s would pass the {cfg.deadline_s:g}s deadline")
                break
            await self._sleep(delay)
        raise JudgeFailed(
            f"judge {self.name!r} failed after {usage.attempts} attempt(s): " + "; ".join(failures[-3:]), usage
        )


def _add_usage(usage: JudgeUsage, response: Any, attempt: int) -> JudgeUsage:
    hidden = getattr(response, "_hidden_params", None) or {}
    tokens = getattr(response, "usage", None)
    cost = hidden.get("response_cost")
    if cost is None:
        try:
            import litellm

            cost = litellm.completion_cost(completion_response=response)
        except Exception:
            cost = 0.0
    model = hidden.get("litellm_model_name") or usage.model
    return JudgeUsage(
        model=model,
        input_tokens=usage.input_tokens + int(getattr(tokens, "prompt_tokens", 0) or 0),
        output_tokens=usage.output_tokens + int(getattr(tokens, "completion_tokens", 0) or 0),
        cost_usd=usage.cost_usd + float(cost or 0.0),
        attempts=attempt,
    )
