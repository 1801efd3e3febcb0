"""`glassbox alerts check` against ClickHouse (chDB): data crafted to fire, and not to fire, each shipped rule.

Each case writes a minute of traffic (through the sink's row path) into a fresh database, then
evaluates one rule of deploy/alerts.yaml over the window ending now.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from glassbox.alerts.check import evaluate, evaluate_rule
from glassbox.alerts.config import load_alerts
from glassbox.assembler.metrics import assemble
from glassbox.cli.main import _register, app
from glassbox.common.clickhouse import Client, reader_client
from glassbox.common.metrics import MetricsReporter
from glassbox.common.settings import ClickHouseSettings
from glassbox.models.deadletter import make_dead_letter
from glassbox.models.evaluation import evaluation_id
from glassbox.models.messages import Rejected, RejectReason
from glassbox.sink.process import TopicRole
from tests.support.demo_data import Messages, generation_payload, span

RULES = {r.name: r for r in load_alerts().rules}
MS = 1_000_000


def _now_ns(seconds_ago: float = 60.0) -> int:
    return time.time_ns() - int(seconds_ago * 1e9)


def _trace(messages: Messages, spans: list[dict[str, Any]]) -> dict[str, Any]:
    trace_id = spans[0]["trace_id"]
    messages.add(TopicRole.SPANS, "glassbox.spans", trace_id.encode(), json.dumps(spans).encode())
    trace = assemble(spans, version=1, complete=True, assembled_at_ns=time.time_ns())
    messages.add(TopicRole.TRACES, "glassbox.traces", trace_id.encode(), json.dumps(trace).encode())
    return trace


def tool_calls(messages: Messages, *, calls: int, errors: int, service: str = "order-agent") -> None:
    for i in range(calls):
        tid = uuid.uuid4().hex
        root = span(tid, "handle", "span", _now_ns(), 50, service, "production")
        tool = span(tid, "lookup", "tool", _now_ns() + MS, 10, service, "production", parent=root["span_id"],
                    payload={"gen_ai.tool.name": "lookup", "gen_ai.tool.call.arguments": {"i": i}},
                    error="ValueError: bad id" if i < errors else None)  # fmt: skip
        _trace(messages, [root, tool])


def traces(messages: Messages, *, count: int, ms: float = 100.0, errors: int = 0, cohort: str = "self-serve",
           tokens_in: int = 100, model: str = "gpt-4o-mini", price: float = 1e-7) -> None:  # fmt: skip
    for i in range(count):
        tid = uuid.uuid4().hex
        root = span(tid, "answer", "span", _now_ns(), ms, "support-bot", "production", cohort=cohort)
        gen = span(tid, "llm", "generation", _now_ns() + MS, ms / 2, "support-bot", "production", cohort=cohort,
                   parent=root["span_id"], payload=generation_payload(model, "p@1", tokens_in, 10, price, 100.0),
                   error="RateLimitError" if i < errors else None)  # fmt: skip
        _trace(messages, [root, gen])


def results(messages: Messages, evaluator: str, kind: str, outcomes: Sequence[tuple[str, float | None]]) -> None:
    for status, score in outcomes:
        tid = uuid.uuid4().hex
        result = {"evaluation_id": evaluation_id(tid, 1, evaluator, "1"), "trace_id": tid, "trace_version": 1,
                  "evaluator": evaluator, "evaluator_type": kind, "status": status, "score": score,
                  "service_name": "support-bot", "created_at_unix_nano": _now_ns()}  # fmt: skip
        messages.add(TopicRole.RESULTS, "glassbox.evaluation-results", tid.encode(), json.dumps(result).encode())


def dead_letters(messages: Messages, count: int, stage: str = "assembler") -> None:
    for i in range(count):
        letter = make_dead_letter(Rejected(-1, RejectReason.MALFORMED_JSON, "not JSON", b"{"), stage=stage,
                                  source_topic="glassbox.spans", partition=0, offset=i, key=None)  # fmt: skip
        letter = letter.model_copy(update={"created_at_unix_nano": _now_ns()})
        messages.add(TopicRole.DEAD_LETTERS, "glassbox.dead-letters", b"k", letter.model_dump_json().encode())


def lag(messages: Messages, value: int) -> None:
    reporter = MetricsReporter("assembler", lambda: {"spans": 10}, lags=lambda: {("glassbox.spans", 0): value})
    report, _ = reporter.record()
    report = report.model_copy(update={"recorded_at_unix_nano": _now_ns(30)})
    messages.add(TopicRole.METRICS, "glassbox.pipeline-metrics", b"assembler", report.model_dump_json().encode())


Case = Callable[[Messages], None]
CASES: dict[str, tuple[Case, Case, dict[str, str], float]] = {
    "tool-error-rate": (lambda m: tool_calls(m, calls=40, errors=2), lambda m: tool_calls(m, calls=40, errors=0),
                        {"service": "order-agent"}, 0.05),
    "faithfulness-low": (lambda m: results(m, "faithfulness", "llm_judge", [("failed", 0.3)] * 6 + [("passed", 0.9)]
                                           * 6),
                         lambda m: results(m, "faithfulness", "llm_judge", [("passed", 0.95)] * 12),
                         {"service": "support-bot"}, 0.6),
    "trace-latency-p95": (lambda m: traces(m, count=25, ms=12_000), lambda m: traces(m, count=25, ms=900),
                          {"service": "support-bot"}, 12_000),
    "cost-per-hour-by-cohort": (lambda m: traces(m, count=3, cohort="enterprise-batch", tokens_in=500_000, price=5e-6),
                                lambda m: traces(m, count=3, cohort="enterprise-batch"),
                                {"cohort": "enterprise-batch"}, 7.5),
    "trace-error-rate": (lambda m: traces(m, count=20, errors=4), lambda m: traces(m, count=20),
                         {"service": "support-bot"}, 0.2),
    "dead-letters": (lambda m: dead_letters(m, 2), lambda m: tool_calls(m, calls=1, errors=0),
                     {"stage": "assembler"}, 2),
    "judge-error-rate": (lambda m: results(m, "faithfulness", "llm_judge", [("error", None)] * 3 + [("passed", 0.9)]
                                           * 9),
                         lambda m: results(m, "faithfulness", "llm_judge", [("passed", 0.9)] * 12),
                         {"evaluator": "faithfulness"}, 0.25),
    "consumer-lag": (lambda m: lag(m, 80_000), lambda m: lag(m, 12), {"stage": "assembler", "topic": "glassbox.spans"},
                     80_000),
}  # fmt: skip


def test_every_shipped_rule_has_a_case() -> None:
    """Each rule of deploy/alerts.yaml is exercised below, firing and quiet."""
    assert set(CASES) == set(RULES)


def _write(migrated: Client, settings: ClickHouseSettings, case: Case) -> Client:
    messages = Messages()
    case(messages)
    messages.write(migrated, settings.database)
    return reader_client(settings)


@pytest.mark.parametrize("name", sorted(CASES))
def test_rule_fires_on_data_crafted_to_cross_it(migrated: Client, ch_settings: ClickHouseSettings, name: str) -> None:
    """The crafted minute crosses the threshold: one firing group, with the expected value."""
    firing, _quiet, group, value = CASES[name]
    outcomes = evaluate_rule(_write(migrated, ch_settings, firing), RULES[name])
    fired = [o for o in outcomes if o.firing]
    assert [o.group for o in fired] == [group]
    assert fired[0].value == pytest.approx(value, rel=0.05)
    assert "FIRING" in fired[0].describe() and name in fired[0].describe()


@pytest.mark.parametrize("name", sorted(CASES))
def test_rule_stays_quiet_on_healthy_data(migrated: Client, ch_settings: ClickHouseSettings, name: str) -> None:
    """Healthy traffic of the same shape does not fire the rule."""
    _firing, quiet, _group, _value = CASES[name]
    outcomes = evaluate_rule(_write(migrated, ch_settings, quiet), RULES[name])
    assert not any(o.firing for o in outcomes), [o.describe() for o in outcomes]


def test_old_data_outside_the_window_does_not_fire(migrated: Client, ch_settings: ClickHouseSettings) -> None:
    """Errors two hours ago are outside a 5-minute window."""
    client = _write(migrated, ch_settings, lambda m: tool_calls(m, calls=40, errors=10))
    later = datetime.fromtimestamp(time.time() + 7200, UTC)
    assert not any(o.firing for o in evaluate(client, load_alerts(), now=later))


def test_cli_check_exits_1_naming_the_rule_and_0_when_quiet(
    migrated: Client, ch_settings: ClickHouseSettings, chdb_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`glassbox alerts check` prints each outcome and exits 1 when one fires (a deploy gate), 0 otherwise."""
    monkeypatch.setenv("GLASSBOX_CLICKHOUSE_URL", f"chdb://{chdb_path}")
    monkeypatch.setenv("GLASSBOX_CLICKHOUSE_DATABASE", ch_settings.database)
    _register()
    runner = CliRunner()
    quiet = runner.invoke(app, ["alerts", "check"])
    assert quiet.exit_code == 0, quiet.output
    assert "0 firing (none)" in quiet.output
    dead_letters_case = Messages()
    dead_letters(dead_letters_case, 3, stage="sink")
    dead_letters_case.write(migrated, ch_settings.database)
    fired = runner.invoke(app, ["alerts", "check"])
    assert fired.exit_code == 1, fired.output
    assert "FIRING dead-letters [stage=sink]: dead_letters 3 > 0 over 15m" in fired.output
    assert "1 firing (dead-letters)" in fired.output
    only = runner.invoke(app, ["alerts", "check", "--rule", "tool-error-rate"])
    assert only.exit_code == 0 and "dead-letters" not in only.output.splitlines()[0]


def test_cli_check_rejects_a_bad_file_with_exit_2(tmp_path: Path) -> None:
    """A bad alerts file stops the check before any query, naming the field."""
    bad = tmp_path / "alerts.yaml"
    bad.write_text("rules:\n  - {name: x, summary: y, metric: nope, above: 1}\n")
    _register()
    result = CliRunner().invoke(app, ["alerts", "check", "--config", str(bad)])
    assert result.exit_code == 2
    assert "rules[0].metric (rule 'x'): unknown metric 'nope'" in result.output
