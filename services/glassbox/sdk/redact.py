"""PII and secret redaction, applied to every captured string before it leaves the process.

Built-in redactors (enable by name): ``email``, ``phone``, ``card`` (Luhn-checked
payment card numbers), ``secret`` (API keys, bearer tokens, JWTs, private keys,
``password=...`` pairs). Field redaction replaces the whole value of any mapping
key with a configured name (case-insensitive), wherever it is nested. Custom
redactors are callables ``str -> str``; a field rule may also map a field name
to its own callable.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping

REDACTED = "[REDACTED]"

_EMAIL = r"(?P<email>[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,})"
_PHONE = r"(?P<phone>(?<![\w+])(?:\+\d{1,3}[\s.-]?)?(?:\(\d{2,4}\)[\s.-]?|\d{2,4}[\s.-])\d{3,4}[\s.-]?\d{3,4}(?!\w))"
_CARD = r"(?P<card>(?<!\d)(?:\d[ -]?){12,18}\d(?!\d))"
_SECRET = (
    r"(?P<secret>"
    r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----"
    r"|\bBearer\s+[A-Za-z0-9._~+/=-]{8,}"
    r"|\bsk-(?:ant-|proj-)?[A-Za-z0-9_-]{16,}"
    r"|\bAKIA[0-9A-Z]{16}\b"
    r"|\bgh[pousr]_[A-Za-z0-9]{30,}"
    r"|\bxox[abprs]-[A-Za-z0-9-]{10,}"
    r"|\bAIza[0-9A-Za-z_-]{35}"
    r"|\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"
    r"|\b(?:api[_-]?key|access[_-]?token|secret|password|passwd)[\"']?\s*[:=]\s*[\"']?[^\s,;\"']{4,}"
    r")"
)

BUILTIN_PATTERNS: dict[str, str] = {"secret": _SECRET, "email": _EMAIL, "card": _CARD, "phone": _PHONE}
"""Order matters: secrets first (a token may contain digit runs), phone last."""

_DROP_DIGITS = str.maketrans("", "", "0123456789")
_CACHE_MAX_CHARS = 4096
_CACHE_ENTRIES = 8192
_ANY_DIGIT = re.compile(r"\d")
_SECRET_HINTS = ("key", "token", "secret", "passw", "bearer", "sk-", "akia", "gh", "xox", "aiza", "eyj")
"""Lower-cased fragments one of which every secret pattern contains."""


def _may_hold_secret(value: str) -> bool:
    lowered = value.lower()
    return any(hint in lowered for hint in _SECRET_HINTS)


DEFAULT_FIELDS = ("password", "passwd", "secret", "api_key", "apikey", "authorization", "access_token")


def luhn_valid(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = ord(ch) - 48
        if i % 2 == 1:
            n *= 2
            if n > 9:
                n -= 9
        total += n
    return total % 10 == 0


class Redactor:
    """Redacts strings and decides which mapping keys have their whole value replaced."""

    def __init__(
        self,
        builtin: Iterable[str] = ("email", "phone", "card", "secret"),
        fields: Iterable[str] = DEFAULT_FIELDS,
        custom: Iterable[Callable[[str], str]] = (),
        field_rules: Mapping[str, Callable[[object], object] | str] | None = None,
    ) -> None:
        names = [n.strip().lower() for n in builtin if n.strip()]
        unknown = [n for n in names if n not in BUILTIN_PATTERNS]
        if unknown:
            raise ValueError(f"unknown built-in redactor(s) {unknown}; known: {sorted(BUILTIN_PATTERNS)}")
        self._plans = [(name, re.compile(BUILTIN_PATTERNS[name])) for name in BUILTIN_PATTERNS if name in names]
        self._fields = frozenset(f.strip().lower() for f in fields if f.strip())
        self._custom = tuple(custom)
        self._field_rules = {k.lower(): v for k, v in (field_rules or {}).items()}
        self._cache: dict[str, str] = {}

    @property
    def active(self) -> bool:
        return bool(self._plans or self._custom or self._fields or self._field_rules)

    def _replace(self, match: re.Match[str]) -> str:
        kind = match.lastgroup or "pii"
        text = match.group(0)
        if kind == "card":
            digits = "".join(ch for ch in text if ch.isdigit())
            if not (13 <= len(digits) <= 19 and luhn_valid(digits)):
                return text
        return f"[REDACTED:{kind}]"

    def text(self, value: str) -> str:
        """Redact PII and secrets inside a string.

        Each pattern runs only when a cheap test says it could match (an '@' for emails, enough
        digits for phones and cards, a known prefix for secrets): most text costs a few
        substring checks instead of a regex scan. Results for short strings are cached, since
        system prompts, tool names and retrieved documents repeat from span to span (redactors,
        custom ones included, must be deterministic).
        """
        if len(value) > _CACHE_MAX_CHARS:
            return self._redact(value)
        cached = self._cache.get(value)
        if cached is not None:
            return cached
        result = self._redact(value)
        if len(self._cache) >= _CACHE_ENTRIES:
            self._cache.clear()
        self._cache[value] = result
        return result

    def _redact(self, value: str) -> str:
        if self._plans and len(value) >= 6:
            digits = -1
            for name, regex in self._plans:
                if name == "email":
                    if "@" not in value:
                        continue
                elif name in ("phone", "card"):
                    if digits < 0:
                        digits = (
                            0 if _ANY_DIGIT.search(value) is None else len(value) - len(value.translate(_DROP_DIGITS))
                        )
                    if digits < (9 if name == "phone" else 13):
                        continue
                elif name == "secret" and not _may_hold_secret(value):
                    continue
                value = regex.sub(self._replace, value)
        for fn in self._custom:
            value = fn(value)
        return value

    def field(self, key: str) -> Callable[[object], object] | str | None:
        """The rule for a mapping key: REDACTED, a callable, or None when the value is kept (and scanned)."""
        lowered = key.lower()
        rule = self._field_rules.get(lowered)
        if rule is not None:
            return rule
        if lowered in self._fields:
            return REDACTED
        return None


def from_settings(builtin: str, fields: str) -> Redactor:
    """Build the redactor from the comma-separated GLASSBOX_SDK_REDACT_* settings."""
    names = [n for n in builtin.split(",") if n.strip()]
    extra = [f for f in fields.split(",") if f.strip()]
    return Redactor(builtin=names, fields=(*DEFAULT_FIELDS, *extra))
