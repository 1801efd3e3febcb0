"""Prompt templates: chat messages with ``{{variable}}`` placeholders, rendered into litellm arguments. Pure.

::

    prompt = get_prompt("support-answer", version=4)
    response = litellm.completion(**prompt.litellm_kwargs(context=ctx, question=q), api_base=...)

``litellm_kwargs`` carries ``metadata={"prompt_name": ..., "prompt_version": ...}``, which the
SDK's litellm capture puts on the generation span (PromptName / PromptVersion in ClickHouse), so
every generation made from a registered prompt is tagged with its version.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, JsonValue

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


class MissingVariablesError(KeyError):
    """render() was not given every variable the template uses."""


def variables_of(messages: list[dict[str, Any]]) -> list[str]:
    """The placeholder names used in the messages, in order of first use."""
    names: dict[str, None] = {}
    for message in messages:
        names.update(dict.fromkeys(PLACEHOLDER.findall(str(message.get("content", "")))))
    return list(names)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)


class RenderedPrompt(BaseModel):
    """A rendered prompt: the messages and model parameters of one call, and which prompt version made them."""

    model_config = ConfigDict(frozen=True)

    name: str
    version: int
    messages: list[dict[str, Any]]
    model: str = ""
    parameters: dict[str, Any] = Field(default_factory=dict)

    @property
    def metadata(self) -> dict[str, str]:
        """The litellm ``metadata`` that tags the generation span with this prompt's name and version."""
        return {"prompt_name": self.name, "prompt_version": str(self.version)}

    def litellm_kwargs(self, **overrides: Any) -> dict[str, Any]:
        """Arguments for litellm.completion: model, messages, parameters and the tagging metadata.

        ``overrides`` win over the stored parameters (model, temperature, api_base ...); a ``metadata``
        override is merged with the tagging metadata.
        """
        kwargs: dict[str, Any] = {"messages": [dict(m) for m in self.messages], **self.parameters}
        if self.model:
            kwargs["model"] = self.model
        metadata = {**self.metadata, **dict(overrides.pop("metadata", None) or {})}
        kwargs.update(overrides)
        kwargs["metadata"] = metadata
        return kwargs


class Prompt(BaseModel):
    """One immutable version of a registered prompt."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    version: int = Field(ge=1)
    messages: list[dict[str, JsonValue]] = Field(min_length=1)
    """Chat messages ({role, content}); content may hold {{variable}} placeholders."""
    model: str = ""
    parameters: dict[str, JsonValue] = Field(default_factory=dict)
    """Model parameters: temperature, max_tokens, top_p, response_format ..."""
    description: str = ""
    created_at_ms: int = 0

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def variables(self) -> list[str]:
        return variables_of(self.messages)

    def render(self, **variables: Any) -> RenderedPrompt:
        """The messages with every placeholder replaced (non-strings as JSON); MissingVariablesError if one lacks."""
        missing = [v for v in self.variables if v not in variables]
        if missing:
            raise MissingVariablesError(f"prompt {self.ref} needs {', '.join(missing)}")
        rendered = []
        for message in self.messages:
            out = dict(message)
            content = message.get("content")
            if isinstance(content, str):
                out["content"] = PLACEHOLDER.sub(lambda m: _text(variables[m.group(1)]), content)
            rendered.append(out)
        return RenderedPrompt(
            name=self.name, version=self.version, messages=rendered, model=self.model, parameters=dict(self.parameters)
        )

    def litellm_kwargs(self, **variables: Any) -> dict[str, Any]:
        """``render(**variables).litellm_kwargs()``: everything litellm.completion needs, tagged with this version."""
        return self.render(**variables).litellm_kwargs()

    def extract(self, messages: list[dict[str, Any]]) -> dict[str, str] | None:
        """The variables that render this template into ``messages`` exactly, or None when it cannot.

        Lets a replay re-render a *new* prompt version with the values an old call used.
        """
        if len(messages) != len(self.messages):
            return None
        found: dict[str, str] = {}
        for template, actual in zip(self.messages, messages, strict=True):
            if template.get("role") != actual.get("role"):
                return None
            pattern = _pattern(str(template.get("content", "")))
            content = actual.get("content")
            match = pattern.fullmatch(content) if isinstance(content, str) else None
            if match is None:
                return None
            for key, value in match.groupdict().items():
                if found.setdefault(key, value) != value:
                    return None
        return found


def _pattern(template: str) -> re.Pattern[str]:
    parts: list[str] = []
    seen: set[str] = set()
    last = 0
    for match in PLACEHOLDER.finditer(template):
        parts.append(re.escape(template[last : match.start()]))
        name = match.group(1)
        parts.append(f"(?P={name})" if name in seen else f"(?P<{name}>.*?)")
        seen.add(name)
        last = match.end()
    parts.append(re.escape(template[last:]))
    return re.compile("".join(parts), re.DOTALL)


def messages_from(template: str | list[dict[str, Any]] | None = None, *, system: str | None = None,
                  user: str | None = None) -> list[dict[str, Any]]:  # fmt: skip
    """Chat messages from a JSON message list, a plain template (one user message), or system/user texts."""
    if isinstance(template, list):
        messages = [dict(m) for m in template]
    elif isinstance(template, str) and template.strip():
        stripped = template.strip()
        messages = json.loads(stripped) if stripped.startswith("[") else [{"role": "user", "content": template}]
    else:
        messages = []
        if system:
            messages.append({"role": "system", "content": system})
        if user:
            messages.append({"role": "user", "content": user})
    if not messages or not all(isinstance(m, dict) and isinstance(m.get("role"), str) for m in messages):
        raise ValueError("a prompt is a non-empty list of messages, each with a role (system, user, assistant ...)")
    return messages
