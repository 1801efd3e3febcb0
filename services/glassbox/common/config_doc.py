"""The configuration reference, generated from the settings classes (the README embeds it)."""

from __future__ import annotations

from typing import Any

from pydantic_settings import BaseSettings

from glassbox.common.settings import ALL_SECTIONS


def rows(cls: type[BaseSettings]) -> list[tuple[str, str, str, str]]:
    prefix = str(cls.model_config.get("env_prefix", ""))
    out = []
    for name, field in cls.model_fields.items():
        annotation = getattr(field.annotation, "__name__", None) or str(field.annotation)
        annotation = annotation.replace("typing.", "").replace("pathlib.", "")
        if annotation.endswith(" | None"):
            annotation = f"{annotation.removesuffix(' | None')}, optional"
        default: Any = field.default
        if hasattr(default, "value"):
            default = default.value
        shown = "" if default is None else str(default)
        description = " ".join((field.description or "").split())  # one line: a table row cannot break
        out.append((f"{prefix}{name}".upper(), annotation, shown, description))
    return out


def render(markdown: bool = False) -> str:
    lines: list[str] = []
    for cls in ALL_SECTIONS:
        title = (cls.__doc__ or cls.__name__).strip().splitlines()[0]
        if markdown:
            lines += [
                f"#### {cls.__name__}: {title}",
                "",
                "| variable | type | default | meaning |",
                "| --- | --- | --- | --- |",
            ]
            for env, kind, default, doc in rows(cls):
                shown = f"`{default}`" if default else "—"
                lines.append(f"| `{env}` | {kind} | {shown} | {doc.replace('|', '/')} |")
        else:
            lines.append(f"[{cls.__name__}] {title}")
            for env, kind, default, doc in rows(cls):
                lines.append(f"  {env} ({kind}, default {default!r}): {doc}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


START, END = "<!-- config:start -->", "<!-- config:end -->"


def readme_with_reference(text: str) -> str:
    """README text with the generated reference between the config markers."""
    head, _, rest = text.partition(START)
    _, _, tail = rest.partition(END)
    return f"{head}{START}\n{render(markdown=True)}{END}{tail}"
