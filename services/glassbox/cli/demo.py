"""`glassbox demo`: the whole pipeline on this machine, with example apps producing every failure kind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from glassbox.common.settings import EmbeddedSettings, load

RAG_WARMUP = [("healthy", 24), ("json_ok", 4)]
AGENT_WARMUP = [("healthy", 22)]
RAG_FAILURES = [
    ("hallucination", 3),
    ("healthy", 4),
    ("retrieval_miss", 2),
    ("retrieval_irrelevant", 2),
    ("json_drift", 3),
    ("latency_spike", 2),
    ("cost_spike", 2),
    ("json_ok", 2),
    ("healthy", 4),
]
AGENT_FAILURES = [("bad_tool_args", 3), ("healthy", 4), ("tool_loop", 3)]
BAD_MESSAGES = (
    (b"4bf92f3577b34da6a3ce929d0e0e4736", b'{"schema_version": 1, "trace_id": "4bf92f35'),
    (b"4bf92f3577b34da6a3ce929d0e0e4736", b'[{"schema_version": 7, "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736"}]'),
    (b"0af7651916cd43dd8448eb211c80319c", b'{"schema_version": 1, "trace_id": "0af7651916cd43dd8448eb211c80319c"}'),
)
"""Bad input an instrumented app might send: cut JSON, an unknown contract version, a span without its fields."""


def _plan_args(plan: list[tuple[str, int]]) -> list[str]:
    args: list[str] = []
    for name, count in plan:
        args += ["--scenario", f"{name}={count}"]
    return args


def run_app(module: str, api_base: str, kafka: str, plan: list[tuple[str, int]]) -> list[dict[str, Any]]:
    """Run an example app in its own process (its own service name) and collect its trace rows."""
    env = dict(os.environ, GLASSBOX_KAFKA_BOOTSTRAP_SERVERS=kafka, LITELLM_LOCAL_MODEL_COST_MAP="True")
    env.pop("GLASSBOX_SDK_SERVICE_NAME", None)
    proc = subprocess.run(
        [sys.executable, "-m", module, "--api-base", api_base, *_plan_args(plan)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{module} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]


def send_bad_messages(kafka: str) -> int:
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=kafka, acks="all")
    for key, value in BAD_MESSAGES:
        producer.send("glassbox.spans", key=key, value=value)
    producer.flush(10)
    producer.close()
    return len(BAD_MESSAGES)


def wait_for(client: Any, sql: str, params: dict[str, Any], want: int, timeout: float, progress: Any, task: Any) -> int:
    deadline = time.monotonic() + timeout
    have = 0
    while time.monotonic() < deadline:
        have = int(client.query(sql, parameters=params).result_rows[0][0])
        progress.update(task, completed=min(have, want))
        if have >= want:
            break
        time.sleep(0.5)
    return have


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo(
        data_dir: Path | None = typer.Option(
            None, "--data-dir", help="Where the demo's data lives (default .glassbox)."
        ),
        keep_running: bool = typer.Option(False, "--keep-running", help="Leave the stack running afterwards."),
        timeout: float = typer.Option(180.0, help="Longest wait for traces and evaluations, in seconds."),
    ) -> None:
        """Start the embedded stack, run the example RAG app and agent (healthy requests and every failure
        kind), wait until everything is stored and evaluated, and print what Glassbox found."""
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        from glassbox.embedded.runtime import spawn_background
        from glassbox.embedded.stack import running_stack, stop_stack
        from glassbox.examples.provider import start_provider

        console = Console()
        directory = Path(data_dir or load(EmbeddedSettings).data_dir)
        judge_rules = _judge_rules()
        provider = start_provider(judge_rules)
        started_here = False
        progress = Progress(
            SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            console=console,
        )  # fmt: skip
        try:
            with progress:
                step = progress.add_task(
                    "starting the embedded stack (Kafka, assembler, sink, evaluators, ClickHouse)", total=1
                )
                info = running_stack(directory)
                if info is None:
                    os.environ.update(_judge_env(provider.base_url))
                    _, info = spawn_background(directory)
                    started_here = True
                progress.update(
                    step, completed=1, description=f"stack up: Kafka {info.kafka}, ClickHouse {info.query_url}"
                )

                step = progress.add_task("running the example apps: warm-up traffic", total=2)
                rows = run_app("glassbox.examples.rag_app", provider.base_url, info.kafka, RAG_WARMUP)
                progress.advance(step)
                rows += run_app("glassbox.examples.agent_app", provider.base_url, info.kafka, AGENT_WARMUP)
                progress.advance(step)

                client = _client(directory)
                ids = [r["trace_id"] for r in rows]
                step = progress.add_task("assembling and storing warm-up traces", total=len(ids))
                sql = "SELECT count(DISTINCT TraceId) FROM glassbox.traces WHERE TraceId IN {ids:Array(String)}"
                wait_for(client, sql, {"ids": ids}, len(ids), timeout, progress, step)

                step = progress.add_task("running the example apps: failure scenarios", total=3)
                rows += run_app("glassbox.examples.rag_app", provider.base_url, info.kafka, RAG_FAILURES)
                progress.advance(step)
                rows += run_app("glassbox.examples.agent_app", provider.base_url, info.kafka, AGENT_FAILURES)
                progress.advance(step)
                bad = send_bad_messages(info.kafka)
                progress.advance(step)

                ids = [r["trace_id"] for r in rows]
                step = progress.add_task("assembling and storing all traces", total=len(ids))
                stored = wait_for(client, sql, {"ids": ids}, len(ids), timeout, progress, step)
                step = progress.add_task("dead-lettering the bad messages", total=bad)
                wait_for(
                    client,
                    "SELECT count() FROM glassbox.dead_letters FINAL WHERE Stage = 'assembler'",
                    {},
                    bad,
                    30,
                    progress,
                    step,
                )
                if _has_evaluators():
                    step = progress.add_task("evaluating traces (rules, statistics, LLM judge)", total=len(ids))
                    esql = (
                        "SELECT count(DISTINCT TraceId) FROM glassbox.evaluations WHERE TraceId IN {ids:Array(String)}"
                    )
                    wait_for(client, esql, {"ids": ids}, len(ids), timeout, progress, step)
                    time.sleep(2.0)  # judges answer last; let the stragglers land
            report(console, client, rows, stored)
        finally:
            provider.stop()
            if started_here and not keep_running:
                console.print("stopping the stack (it drains first)…")
                stop_stack(directory)
                console.print(f"stopped. The data stays in {directory}: `glassbox traces`, `glassbox trace ID` and "
                              "`glassbox query` still work.")  # fmt: skip
            elif started_here and info is not None:
                console.print(f"the stack keeps running ({info.describe()}); stop it with `glassbox down`.")


def _client(directory: Path) -> Any:
    from glassbox.common.reader import open_reader

    client, _ = open_reader(directory)
    return client


def _has_evaluators() -> bool:
    try:
        import glassbox.evaluators.embedded  # noqa: F401
    except ImportError:
        return False
    return True


def _judge_rules() -> list[Any]:
    """The simulated LLM judge (content-based verdicts) when the evaluators ship one."""
    try:
        from glassbox.evaluators.judge.simulated import judge_rules
    except ImportError:
        return []
    return list(judge_rules())


def _judge_env(api_base: str) -> dict[str, str]:
    return {"GLASSBOX_EVAL_JUDGE_API_BASE": api_base, "GLASSBOX_EVAL_JUDGE_API_KEY_ENV": "GLASSBOX_DEMO_JUDGE_KEY",
            "GLASSBOX_DEMO_JUDGE_KEY": "demo", "LITELLM_LOCAL_MODEL_COST_MAP": "True"}  # fmt: skip


def report(console: Console, client: Any, rows: list[dict[str, Any]], stored: int) -> None:
    """Print what was found: per scenario, the categories detected; the totals; where to look next."""
    ids = [r["trace_id"] for r in rows]
    cats: dict[str, set[str]] = defaultdict(set)
    evidence: dict[tuple[str, str], str] = {}
    for trace_id, category, evaluator, reason in client.query(
        "SELECT TraceId, FailureCategory, Evaluator, Reason FROM glassbox.evaluations FINAL "
        "WHERE TraceId IN {ids:Array(String)} AND Status = 'failed' AND FailureCategory != '' "
        "ORDER BY JudgeModel != '', Evaluator",  # a rule's exact finding is the clearest evidence
        parameters={"ids": ids},
    ).result_rows:
        cats[trace_id].add(category)
        evidence.setdefault((trace_id, category), f"{evaluator}: {reason}")
    table = Table(title="what the demo produced and what Glassbox found", header_style="bold", title_justify="left")
    for column in ("scenario", "traces", "expected", "detected", "example trace", "evidence"):
        table.add_column(column, overflow="fold")
    by_scenario: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_scenario[row["scenario"]].append(row)
    for scenario, items in by_scenario.items():
        expected = items[0]["expected"]
        found = Counter(c for r in items for c in cats.get(r["trace_id"], ()))
        detected = ", ".join(f"{c} ×{n}" for c, n in found.most_common()) or "—"
        example = next((r["trace_id"] for r in items if cats.get(r["trace_id"])), items[0]["trace_id"])
        cat = expected[0] if expected else (next(iter(cats.get(example, ())), "") if cats.get(example) else "")
        table.add_row(scenario, str(len(items)), ", ".join(expected) or "healthy", detected, example[:16],
                      evidence.get((example, cat), "")[:90])  # fmt: skip
    console.print(table)
    totals = client.query(
        "SELECT count(), sum(SpanCount), sum(LlmCalls), sum(InputTokens + OutputTokens), sum(CostUsd), "
        "quantile(0.5)(DurationNs) / 1e6, quantile(0.95)(DurationNs) / 1e6, countIf(HasError) "
        "FROM glassbox.traces FINAL WHERE TraceId IN {ids:Array(String)}",
        parameters={"ids": ids},
    ).result_rows[0]
    dead = client.query(
        "SELECT ErrorType, Reason FROM glassbox.dead_letters FINAL ORDER BY CreatedAt DESC LIMIT 5"
    ).result_rows
    console.print(
        f"[bold]{stored}[/] traces stored ({totals[1]} spans, {totals[2]} LLM calls, {totals[3]} tokens, "
        f"${totals[4]:.4f}); latency p50 {totals[5]:.0f} ms, p95 {totals[6]:.0f} ms; {totals[7]} with errors."
    )
    if dead:
        console.print(f"[bold]{len(dead)}[/] bad messages dead-lettered with their reasons, for example:")
        for error_type, reason in dead[:3]:
            console.print(f"  [yellow]{error_type}[/]: {reason[:110]}")
    failing = [r for r in rows if cats.get(r["trace_id"])]
    if failing:
        pick = failing[0]["trace_id"]
        console.print(
            f"\nLook closer: [bold]glassbox trace {pick[:12]}[/]   ·   glassbox traces --failing   ·   "
            'glassbox query "SELECT Evaluator, Status, count() FROM glassbox.evaluations GROUP BY ALL"'
        )
    else:
        console.print(f"\nLook closer: [bold]glassbox trace {ids[0][:12]}[/]   ·   glassbox traces")
