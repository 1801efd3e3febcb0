"""PII and secret redaction before anything leaves the process."""

from __future__ import annotations

import json

import pytest

import glassbox
from glassbox.sdk.redact import Redactor, luhn_valid
from glassbox.sdk.testing import InMemorySender


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mail me at jane.doe+x@example.co.uk now", "mail me at [REDACTED:email] now"),
        ("call +1 415-555-0132 today", "call [REDACTED:phone] today"),
        ("call (415) 555-0132", "call [REDACTED:phone]"),
        ("card 4111 1111 1111 1111 ok", "card [REDACTED:card] ok"),
        ("card 4111-1111-1111-1111", "card [REDACTED:card]"),
        ("key sk-proj-abcdefghijklmnop1234567890", "key [REDACTED:secret]"),
        ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.abc.def", "Authorization: [REDACTED:secret]"),
        ("aws AKIAIOSFODNN7EXAMPLE", "aws [REDACTED:secret]"),
        ("password=hunter2hunter", "[REDACTED:secret]"),
        ("token ghp_0123456789abcdefghijklmnopqrstuvwxyz", "token [REDACTED:secret]"),
    ],
)
def test_builtin_redactors_replace_matches(text: str, expected: str) -> None:
    """Each built-in redactor replaces what it recognises with a typed marker."""
    assert Redactor().text(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "order 1234567890123 shipped",  # 13 digits failing the Luhn check: not a card
        "trace 4bf92f3577b34da6a3ce929d0e0e4736",
        "version 2026.11.3 at 12:30",
        "no @ sign here",
    ],
)
def test_builtin_redactors_leave_ordinary_text_alone(text: str) -> None:
    """Ids, versions and numbers that are not PII stay readable."""
    assert Redactor().text(text) == text


def test_luhn() -> None:
    assert luhn_valid("4111111111111111")
    assert not luhn_valid("4111111111111112")


def test_field_rules_and_custom_redactors() -> None:
    """Named fields are replaced wholesale; custom callables and per-field callables apply."""
    redactor = Redactor(
        builtin=(),
        fields=("ssn",),
        custom=(lambda s: s.replace("ACME", "[COMPANY]"),),
        field_rules={"zip": lambda v: str(v)[:2] + "***"},
    )
    assert redactor.field("SSN") == "[REDACTED]"
    assert redactor.text("ACME corp") == "[COMPANY] corp"
    rule = redactor.field("zip")
    assert callable(rule) and rule("94107") == "94***"
    assert redactor.field("name") is None


def test_unknown_builtin_name_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown built-in redactor"):
        Redactor(builtin=("emails",))


def test_nothing_matching_a_redactor_leaves_the_process() -> None:
    """Inputs, outputs, payloads, attributes, metadata, errors and nested fields are all redacted."""
    sender = InMemorySender()
    glassbox.init(sender=sender, redact_fields="ssn")
    secret_mail, card, key = "jane@example.com", "4111 1111 1111 1111", "sk-abcdefghijklmnop12345678"

    @glassbox.generation(name="llm")
    def llm(messages: list[dict[str, str]], password: str) -> str:
        glassbox.update_current_span(metadata={"contact": secret_mail}, completion=f"sure {card}")
        glassbox.current_span().set_attribute("note", f"key={key}")
        raise RuntimeError(f"failed for {secret_mail}")

    with pytest.raises(RuntimeError):
        llm([{"role": "user", "content": f"I am {secret_mail}, ssn below"}], password="hunter2")
    with glassbox.span("nested") as s:
        s.set_input({"profile": {"ssn": "123-45-6789", "phone": "+1 415-555-0132"}})
    assert glassbox.flush(5)
    blob = json.dumps(sender.events)
    for needle in (secret_mail, "4111 1111", key, "hunter2", "123-45-6789", "415-555-0132"):
        assert needle not in blob, needle
    assert "[REDACTED:email]" in blob and "[REDACTED:card]" in blob and "[REDACTED]" in blob
    glassbox.shutdown(1)
