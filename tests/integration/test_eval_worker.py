"""The evaluator worker (`glassbox evaluator`, a faust worker in a subprocess) against a real Tansu broker.

Traces go onto the traces topic; the worker's sampler publishes evaluation requests, its evaluator
publishes results; the tests read the results topic. The judge is the fake OpenAI-compatible
provider over real HTTP, running in the test process, so its request counters are the judge bills.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from glassbox.common.faust_app import partition_for
from glassbox.common.kafka import ensure_topics
from glassbox.common.settings import KafkaSettings, PipelineSettings
from glassbox.devtools import FakeLLM, Fault
from glassbox.embedded.broker import EmbeddedBroker
from glassbox.evaluators.judge.simulated import section, simulated_judge
from glassbox.models.evaluation import EvaluationResult, EvaluationStatus
from glassbox.models.topics import DEAD_LETTERS, EVALUATION_REQUESTS, EVALUATION_RESULTS, TRACES
from tests.support.corpus import LabelledTrace, build_corpus

JUDGE_MODEL = "openai/fake-judge"
PARTITIONS = 2


def judge_config(api_base: str, evaluators: list[str], **spec: Any) -> dict[str, Any]:
    """A bindings file: every trace, the given evaluators; faithfulness priced so judgements cost money."""
    return {
        "judges": {
            "default": {
                "model": JUDGE_MODEL,
                "api_base": api_base,
                "input_cost_per_token": 1e-6,
                "output_cost_per_token": 2e-6,
                "timeout_s": 2,
                "max_attempts": 2,
                "max_backoff_s": 0.2,
            }
        },
        "evaluators": {"faithfulness": {"type": "faithfulness", **spec}},
        "bindings": [{"name": "all", "sample_rate": 1.0, "evaluators": evaluators}],
    }


class Worker:
    """`glassbox evaluator` in a subprocess with its own consumer group and topic prefix."""

    def __init__(self, kafka: KafkaSettings, config: dict[str, Any], tmp: Path, group: str) -> None:
        self.config_path = tmp / "evaluators.yaml"
        self.config_path.write_text(yaml.safe_dump(config))
        self.log_path = tmp / f"worker-{group}.log"
        self.env = {
            **os.environ,
            "GLASSBOX_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
            "GLASSBOX_KAFKA_TOPIC_PREFIX": kafka.topic_prefix,
            "GLASSBOX_PIPELINE_SPANS_PARTITIONS": str(PARTITIONS),
            "GLASSBOX_PIPELINE_SESSION_TIMEOUT_S": "6",
            "GLASSBOX_EVAL_GROUP": group,
            "GLASSBOX_EVAL_CONFIG": str(self.config_path),
            "GLASSBOX_EVAL_JUDGE_CONCURRENCY": "4",
            "GLASSBOX_LOG_LEVEL": "info",
        }
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Worker:
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "glassbox.cli", "evaluator"], env=self.env, stdout=log, stderr=subprocess.STDOUT
        )
        return self

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def produce(kafka: KafkaSettings, topic: str, items: list[tuple[bytes, bytes]]) -> None:
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=kafka.servers, acks="all", linger_ms=5)
    for key, value in items:
        producer.send(topic, key=key, value=value)
    producer.flush(30)
    producer.close(5)


def publish_traces(kafka: KafkaSettings, traces: list[LabelledTrace]) -> None:
    produce(
        kafka,
        TRACES.full_name(kafka.topic_prefix),
        [(t.trace.trace_id.encode(), t.trace.model_dump_json().encode()) for t in traces],
    )


async def _read(servers: str, topic: str, done: Callable[[list[bytes]], bool], wait_s: float) -> list[bytes]:
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(bootstrap_servers=servers, group_id=None, auto_offset_reset="earliest")
    await consumer.start()
    values: list[bytes] = []
    try:
        deadline = time.monotonic() + wait_s
        parts: set[int] | None = None
        while not parts:
            await consumer.topics()
            parts = consumer.partitions_for_topic(topic)
            if not parts:
                await asyncio.sleep(0.2)
        assigned = [TopicPartition(topic, p) for p in sorted(parts)]
        consumer.assign(assigned)
        await consumer.seek_to_beginning(*assigned)
        while time.monotonic() < deadline and not done(values):
            batches = await consumer.getmany(timeout_ms=300, max_records=5000)
            values.extend(r.value for records in batches.values() for r in records if r.value is not None)
    finally:
        await consumer.stop()
    return values


def read_results(
    kafka: KafkaSettings, until: Callable[[list[EvaluationResult]], bool], wait_s: float = 90.0
) -> list[EvaluationResult]:
    """Results on the results topic, from the beginning, once ``until(results)`` holds (or after ``wait_s``)."""

    def done(values: list[bytes]) -> bool:
        return until([EvaluationResult.model_validate_json(v) for v in values])

    values = asyncio.run(_read(kafka.bootstrap_servers, EVALUATION_RESULTS.full_name(kafka.topic_prefix), done, wait_s))
    return [EvaluationResult.model_validate_json(v) for v in values]


def read_topic(kafka: KafkaSettings, topic: str, expected: int, wait_s: float = 30.0) -> list[bytes]:
    """Values of a topic from the beginning, once ``expected`` arrived (or after ``wait_s``)."""
    return asyncio.run(_read(kafka.bootstrap_servers, topic, lambda v: len(v) >= expected, wait_s))


def count_topic(kafka: KafkaSettings, topic: str, settle_s: float = 1.0) -> int:
    started = time.monotonic()
    values = asyncio.run(_read(kafka.bootstrap_servers, topic, lambda v: time.monotonic() - started > settle_s, 10))
    return len(values)


@pytest.fixture
def kafka(broker: EmbeddedBroker, unique: str) -> KafkaSettings:
    """The session broker, the registry's topics under a per-test prefix."""
    settings = KafkaSettings(bootstrap_servers=broker.bootstrap_servers, topic_prefix=f"e{unique}.")
    ensure_topics(settings, PipelineSettings(spans_partitions=PARTITIONS))
    return settings


@pytest.fixture
def judge() -> Iterator[FakeLLM]:
    """The fake provider answering every judge prompt with the simulated judge."""
    with FakeLLM(default_reply=simulated_judge) as llm:
        yield llm


@pytest.fixture(scope="module")
def corpus() -> list[LabelledTrace]:
    return build_corpus()


def by_id(results: list[EvaluationResult]) -> dict[str, EvaluationResult]:
    return {r.evaluation_id: r for r in results}


def test_traces_become_requests_and_results(
    kafka: KafkaSettings, judge: FakeLLM, corpus: list[LabelledTrace], tmp_path: Path, unique: str
) -> None:
    """Every trace on the traces topic yields a request and one result per bound evaluator, with the
    expected verdicts: the hallucinated answers fail faithfulness with their unsupported claims, the
    empty retrievals fail empty_retrieval (and get no faithfulness result: nothing to judge), and judge
    results carry the judge's tokens and cost. Messages that are not traces are dead-lettered with the reason."""
    traces = [t for t in corpus if t.scenario in ("rag_healthy", "rag_hallucination", "rag_empty")][:12]
    worker = Worker(kafka, judge_config(judge.base_url, ["faithfulness", "empty_retrieval"]), tmp_path, unique).start()
    try:
        publish_traces(kafka, traces)
        produce(kafka, TRACES.full_name(kafka.topic_prefix), [(b"k", b'{"not": "a trace"}'), (b"k", b"{oops")])
        expected_results = 2 * len(traces) - sum(1 for t in traces if t.scenario == "rag_empty")
        results = read_results(kafka, lambda rs: len(by_id(rs)) >= expected_results)
        letters = [json.loads(v) for v in read_topic(kafka, DEAD_LETTERS.full_name(kafka.topic_prefix), 2)]
    finally:
        worker.stop()
    assert sorted(d["error_type"] for d in letters) == ["invalid", "malformed_json"]
    assert all(d["stage"] == "evaluator" and d["source_topic"] == TRACES.full_name(kafka.topic_prefix) for d in letters)
    unique_results = by_id(results)
    assert len(unique_results) == expected_results, worker.log()[-3000:]
    assert count_topic(kafka, EVALUATION_REQUESTS.full_name(kafka.topic_prefix)) == len(traces)
    expected = {t.trace.trace_id: t for t in traces}
    for result in unique_results.values():
        labelled = expected[result.trace_id]
        if result.evaluator == "empty_retrieval":
            want = EvaluationStatus.FAILED if labelled.scenario == "rag_empty" else EvaluationStatus.PASSED
            assert result.status is want, result
        elif labelled.scenario == "rag_hallucination":
            assert result.status is EvaluationStatus.FAILED
            assert result.failure_category == "hallucination"
            assert len(result.evidence["unsupported_claims"]) == 1
            assert result.judge_model == JUDGE_MODEL and result.judge_cost_usd > 0 and result.judge_input_tokens > 0
        else:
            assert labelled.scenario == "rag_healthy" and result.status is EvaluationStatus.PASSED, result
    judged = sum(1 for t in traces if t.scenario != "rag_empty")
    assert judge.count("chat") == judged


def test_restart_mid_evaluation_repeats_no_judge_call_and_loses_no_result(
    kafka: KafkaSettings, judge: FakeLLM, corpus: list[LabelledTrace], tmp_path: Path, unique: str
) -> None:
    """A worker killed (SIGKILL) while judges are slow is replaced by a new one: every trace gets its
    result exactly once (by id), no judgement whose result was published before the kill is asked
    again, and only the calls in flight at the kill (at most the judge concurrency) are repeated."""
    distinct = {t.trace.output["answer"]: t for t in corpus if t.scenario in ("rag_healthy", "rag_hallucination")}
    traces = list(distinct.values())[:16]  # one trace per answer, so a judge prompt names its trace
    judge.latency = 0.4
    config = judge_config(judge.base_url, ["faithfulness"])
    # no timeouts, so no retries, even on a loaded machine: every call counted twice is a repeat after the restart
    config["judges"]["default"]["timeout_s"] = 30
    first = Worker(kafka, config, tmp_path, unique).start()
    publish_traces(kafka, traces)
    try:
        partial = read_results(kafka, lambda rs: len(by_id(rs)) >= 4, wait_s=60)
        assert len(by_id(partial)) >= 4, first.log()[-3000:]
    finally:
        first.kill()
    published_before = {r.trace_id for r in read_results(kafka, lambda rs: False, wait_s=2)}
    second = Worker(kafka, config, tmp_path, unique).start()
    try:
        results = read_results(kafka, lambda rs: len(by_id(rs)) >= len(traces), wait_s=120)
    finally:
        second.stop()
    assert len(by_id(results)) == len(traces), second.log()[-3000:]
    asked: dict[str, int] = {}
    for record in judge.requests:
        answer = section(record.request.text, "answer")
        trace_id = distinct[answer].trace.trace_id
        asked[trace_id] = asked.get(trace_id, 0) + 1
    assert set(asked) == {t.trace.trace_id for t in traces}
    assert all(asked[t] == 1 for t in published_before), (published_before, asked)
    repeated = sum(n - 1 for n in asked.values())
    assert repeated <= 4, asked


def judge_calls(judge: FakeLLM, answers: dict[str, LabelledTrace]) -> dict[str, list[float]]:
    """Trace id → the times the judge was asked about it (the answer in the prompt names the trace)."""
    calls: dict[str, list[float]] = {}
    for record in judge.requests:
        trace_id = answers[section(record.request.text, "answer")].trace.trace_id
        calls.setdefault(trace_id, []).append(record.received_at)
    return calls


def test_a_request_still_judged_holds_back_the_commit_of_those_after_it(
    kafka: KafkaSettings, judge: FakeLLM, corpus: list[LabelledTrace], tmp_path: Path, unique: str
) -> None:
    """The first request of a partition waits on a judge that does not answer; the seven after it in the same
    partition are judged and published, and the worker commits for a while. SIGKILL, restart: the first
    request is read again and judged (faust must not have committed past it although everything after it was
    acked), the seven are not judged again."""
    answers = {t.trace.output["answer"]: t for t in corpus if t.scenario in ("rag_healthy", "rag_hallucination")}
    by_partition: dict[int, list[LabelledTrace]] = {}
    for t in answers.values():
        by_partition.setdefault(partition_for(t.trace.trace_id.encode(), PARTITIONS), []).append(t)
    # the corpus's trace ids are random: take the partition holding most of its 22 distinct answers (>= 11)
    same_partition = max(by_partition.values(), key=len)[:8]
    assert len(same_partition) == 8
    slow, rest = same_partition[0], same_partition[1:]
    # Matched on the whole <answer> section: a healthy answer is quoted verbatim in the retrieved context of
    # other traces, so a substring rule could hold back one of them instead (judged concurrently, in any order).
    only_slow = rf"<answer>\n{re.escape(slow.trace.output['answer'])}\n</answer>"
    judge.add_rule(regex=only_slow, delay=120, times=1, reply=simulated_judge, first=True)
    config = judge_config(judge.base_url, ["faithfulness"])
    config["judges"]["default"]["timeout_s"] = 300
    first = Worker(kafka, config, tmp_path, unique).start()
    publish_traces(kafka, same_partition)
    try:
        partial = read_results(kafka, lambda rs: len(by_id(rs)) >= len(rest), wait_s=60)
        assert {r.trace_id for r in partial} == {t.trace.trace_id for t in rest}, first.log()[-3000:]
        time.sleep(6)  # faust commits every 2.8 s: twice at least, with everything but the first request acked
    finally:
        first.kill()
    second = Worker(kafka, config, tmp_path, unique).start()
    try:
        results = read_results(kafka, lambda rs: slow.trace.trace_id in {r.trace_id for r in rs}, wait_s=90)
    finally:
        second.stop()
    assert slow.trace.trace_id in {r.trace_id for r in results}, second.log()[-3000:]
    calls = judge_calls(judge, answers)
    assert len(calls[slow.trace.trace_id]) == 2
    assert all(len(calls[t.trace.trace_id]) == 1 for t in rest), calls


def test_a_delayed_evaluation_is_parked_survives_a_kill_and_runs_when_due(
    kafka: KafkaSettings, judge: FakeLLM, corpus: list[LabelledTrace], tmp_path: Path, unique: str
) -> None:
    """A binding with a 6 s delay: its requests are parked (the undelayed binding's results come at once),
    the worker is killed while they wait, and the next worker runs each of them once, after the delay."""
    answers = {t.trace.output["answer"]: t for t in corpus if t.scenario in ("rag_healthy", "rag_hallucination")}
    traces = list(answers.values())[:4]
    config = judge_config(judge.base_url, [])
    config["bindings"] = [
        {"name": "now", "evaluators": ["empty_retrieval"]},
        {"name": "later", "delay_s": 6, "evaluators": ["faithfulness"]},
    ]
    first = Worker(kafka, config, tmp_path, unique).start()
    published_at = time.time()
    publish_traces(kafka, traces)
    try:
        quick = read_results(kafka, lambda rs: len(by_id(rs)) >= len(traces), wait_s=60)
        assert {r.evaluator for r in by_id(quick).values()} == {"empty_retrieval"}, first.log()[-3000:]
        time.sleep(1)
    finally:
        first.kill()
    assert judge.count("chat") == 0, "a delayed request ran before its time"
    second = Worker(kafka, config, tmp_path, unique).start()
    try:
        results = read_results(kafka, lambda rs: len(by_id(rs)) >= 2 * len(traces), wait_s=90)
    finally:
        second.stop()
    judged = [r for r in by_id(results).values() if r.evaluator == "faithfulness"]
    assert {r.trace_id for r in judged} == {t.trace.trace_id for t in traces}, second.log()[-3000:]
    calls = judge_calls(judge, answers)
    assert all(len(times) == 1 for times in calls.values()), calls
    assert min(t for times in calls.values() for t in times) >= published_at + 6


def test_budget_exhaustion_stores_skipped_results_with_the_reason(
    kafka: KafkaSettings, judge: FakeLLM, corpus: list[LabelledTrace], tmp_path: Path, unique: str
) -> None:
    """With a daily budget smaller than a few judgements, the first calls run and the rest are stored as
    skipped with 'daily budget of $X exhausted'; the judge sees only the admitted calls."""
    traces = [t for t in corpus if t.scenario == "rag_healthy"][:10]
    config = judge_config(judge.base_url, ["faithfulness"], budget_usd_per_day=0.002)
    worker = Worker(kafka, config, tmp_path, unique).start()
    try:
        publish_traces(kafka, traces)
        results = list(by_id(read_results(kafka, lambda rs: len(by_id(rs)) >= len(traces))).values())
    finally:
        worker.stop()
    assert len(results) == len(traces), worker.log()[-3000:]
    skipped = [r for r in results if r.status is EvaluationStatus.SKIPPED]
    judged = [r for r in results if r.status is EvaluationStatus.PASSED]
    assert skipped and judged, [r.reason for r in results]
    assert all(r.reason.startswith("daily budget of $0.002 exhausted") for r in skipped)
    assert sum(r.judge_cost_usd for r in judged) >= 0.002 - max(r.judge_cost_usd for r in judged)
    assert judge.count("chat") == len(judged)
    assert "evaluator.skipped" in worker.log()


def test_judge_outage_yields_error_results_not_scores(
    kafka: KafkaSettings, judge: FakeLLM, corpus: list[LabelledTrace], tmp_path: Path, unique: str
) -> None:
    """When every judge call fails (HTTP 503), the judge is retried and the evaluation is stored as
    an error naming the failure, with no score; the rules on the same traces still pass."""
    traces = [t for t in corpus if t.scenario == "rag_healthy"][:4]
    judge.fail_next(Fault.server_error(503), times=1000)
    worker = Worker(kafka, judge_config(judge.base_url, ["faithfulness", "empty_retrieval"]), tmp_path, unique).start()
    try:
        publish_traces(kafka, traces)
        results = list(by_id(read_results(kafka, lambda rs: len(by_id(rs)) >= 2 * len(traces))).values())
    finally:
        worker.stop()
    judged = [r for r in results if r.evaluator == "faithfulness"]
    assert len(judged) == len(traces), worker.log()[-3000:]
    assert all(r.status is EvaluationStatus.ERROR and r.score is None for r in judged)
    assert all("HTTP 503" in r.reason and "after 2 attempt(s)" in r.reason for r in judged)
    assert all(r.status is EvaluationStatus.PASSED for r in results if r.evaluator == "empty_retrieval")
    assert judge.count("chat") == 2 * len(traces)
