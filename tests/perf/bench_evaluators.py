"""Evaluator benchmark (a script that prints figures, not a test).

    python tests/perf/bench_evaluators.py [--part rules|e2e|judge|ingest|all]

rules   Rule evaluations per second in one process, over the corpus traces: every rule on every trace,
        the default rule bindings (each rule only where its binding matches), and the latter
        including JSON decoding of the trace. Target ≥ 5,000 traces/s.
e2e     The same rules end to end through the faust agents in a worker subprocess on Tansu, live and on a
        backlog (the worker paused while the traces are sent), with the worker's CPU per trace:
        traces published → sampler → requests → evaluator → results on the results topic.
judge   LLM-judge throughput against the fake provider (its own process, 200 ms latency per call)
        with judge concurrency C, as a ratio of the bound C / 0.2 s. Target ≥ 0.8.
ingest  Span ingestion (SDK → broker → assembler → traces topic) in one faust worker that also
        hosts the evaluators (the embedded stack's layout, the worst case): rules only, then rules
        plus a judge whose every call hangs (saturated), against the assembler alone. Target: the
        saturated judge within 10% of no judge.

rules and judge run in this process with a worker's garbage-collector settings (glassbox.common.runtime).
The fake provider runs with Nagle's algorithm off (TCP_NODELAY): its handler writes headers and body
separately, which otherwise adds a 40 ms delayed-ACK stall to every call on Linux.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

FAKE_PROVIDER = """
import sys, time
from glassbox.devtools.fake_llm_handler import FakeLLMHandler
from glassbox.devtools import FakeLLM, Rule, Fault
FakeLLMHandler.disable_nagle_algorithm = True
verdict = '{"claims": [{"claim": "ok", "supported": true}], "reason": "ok"}'
rules = [Rule(fault=Fault.hang(600))] if sys.argv[2] == "hang" else [Rule(reply=verdict)]
with FakeLLM(rules, port=int(sys.argv[1]), latency=float(sys.argv[3])) as llm:
    print(llm.base_url, flush=True)
    while True:
        time.sleep(3600)
"""


def fake_provider(mode: str, latency: float) -> tuple[subprocess.Popen[str], str]:
    from glassbox.embedded.broker import free_port

    proc = subprocess.Popen([sys.executable, "-c", FAKE_PROVIDER, str(free_port()), mode, str(latency)],
                            stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert proc.stdout is not None
    return proc, proc.stdout.readline().strip()


def corpus() -> list[Any]:
    from tests.support.corpus import build_corpus

    return [t.trace for t in build_corpus()]


def distinct(traces: list[Any], n: int) -> list[Any]:
    """``n`` traces cycling through ``traces``, each under a fresh trace id (the done table would otherwise
    recognise the repeats and skip them)."""
    out = []
    for i in range(n):
        trace = traces[i % len(traces)]
        new_id = uuid.uuid4().hex
        spans = [s.model_copy(update={"trace_id": new_id}) for s in trace.spans]
        out.append(trace.model_copy(update={"trace_id": new_id, "spans": spans}))
    return out


def rules_runner() -> tuple[Any, list[str]]:
    from glassbox.common.settings import EvaluatorSettings
    from glassbox.evaluators.build import build_runner
    from glassbox.evaluators.config import load_config

    config = load_config()
    runner, _ = build_runner(config, EvaluatorSettings())
    return runner, [n for b in config.bindings if not b.name.endswith("judges") for n in b.evaluators]


def bench_rules(rounds: int = 5) -> None:
    from glassbox.evaluators.config import load_config
    from glassbox.evaluators.sampler import Sampler
    from glassbox.evaluators.view import TraceView
    from glassbox.models.trace import AssembledTrace

    runner, names = rules_runner()
    config = load_config()
    config = config.model_copy(update={"bindings": [b for b in config.bindings if not b.name.endswith("judges")]})
    sampler = Sampler(config)
    traces = corpus() * 50
    pairs = [(t, sampler.baselines.observe_trace(t)) for t in traces]
    raw = [t.model_dump_json().encode() for t in traces]
    every = bound = decoded = 0.0
    evaluations = 0
    for _ in range(rounds):
        started = time.perf_counter()
        for trace, baseline in pairs:
            runner.run_inline(TraceView(trace, baseline), runner.plan(trace, names))
        every = max(every, len(pairs) / (time.perf_counter() - started))
        started = time.perf_counter()
        evaluations = 0
        for trace, baseline in pairs:
            chosen = [n for selection in sampler.select(trace) for n in selection.evaluators]
            evaluations += len(runner.run_inline(TraceView(trace, baseline), runner.plan(trace, chosen)))
        bound = max(bound, len(pairs) / (time.perf_counter() - started))
        started = time.perf_counter()
        for data, (_, baseline) in zip(raw, pairs, strict=True):
            trace = AssembledTrace.model_validate_json(data)
            chosen = [n for selection in sampler.select(trace) for n in selection.evaluators]
            runner.run_inline(TraceView(trace, baseline), runner.plan(trace, chosen))
        decoded = max(decoded, len(pairs) / (time.perf_counter() - started))
    print(f"rules: {len(pairs)} corpus traces per round, one process, best of {rounds}")
    print(f"  every rule ({len(names)}) on every trace:        {every:>7,.0f} traces/s "
          f"({every * len(names):,.0f} evaluations/s)")  # fmt: skip
    print(f"  default rule bindings (matching + rules):  {bound:>7,.0f} traces/s "
          f"({evaluations / len(pairs):.1f} evaluations per trace)")  # fmt: skip
    print(f"  + decoding the trace JSON:                 {decoded:>7,.0f} traces/s")


def start_broker() -> Any:
    from glassbox.embedded.broker import EmbeddedBroker

    return EmbeddedBroker(log_path=Path(tempfile.mkdtemp()) / "tansu.log").start()


async def count_until(servers: str, topic: str, expected: int, wait_s: float) -> tuple[int, float]:
    """(messages seen on ``topic``, monotonic time the last of them arrived) once ``expected`` arrived."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(bootstrap_servers=servers, group_id=None, auto_offset_reset="earliest")
    await consumer.start()
    seen, last = 0, time.monotonic()
    try:
        deadline = time.monotonic() + wait_s
        parts: set[int] | None = None
        while not parts:
            await consumer.topics()
            parts = consumer.partitions_for_topic(topic)
            await asyncio.sleep(0.1)
        assigned = [TopicPartition(topic, p) for p in sorted(parts)]
        consumer.assign(assigned)
        await consumer.seek_to_beginning(*assigned)
        while seen < expected and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200, max_records=10_000)
            n = sum(len(v) for v in batch.values())
            if n:
                seen, last = seen + n, time.monotonic()
    finally:
        await consumer.stop()
    return seen, last


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a (Linux) process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bench_e2e(n: int = 20_000) -> None:
    """Twice, each on a fresh topic prefix with a worker that has joined its group: live (the traces are sent
    while the worker runs; the sender shares the two cores) and backlog (the worker is stopped with SIGSTOP while
    every trace is sent, then resumed: its own pace). Timed to the last result; the worker's CPU is read from
    /proc, which gives its capacity per core whatever else ran."""
    from kafka import KafkaProducer

    from glassbox.common.kafka import ensure_topics
    from glassbox.common.settings import KafkaSettings, PipelineSettings
    from glassbox.evaluators.view import TraceView
    from glassbox.models.topics import EVALUATION_RESULTS, TRACES

    traces = distinct(corpus(), n)
    runner, names = rules_runner()
    expected = sum(len(runner.run_inline(TraceView(t), runner.plan(t, names))) for t in traces)
    messages = [(t.trace_id.encode(), t.model_dump_json().encode()) for t in traces]
    broker = start_broker()
    config = Path(tempfile.mkdtemp()) / "rules.yaml"
    config.write_text(json.dumps({"bindings": [{"name": "rules", "evaluators": names}]}))
    print(f"e2e: {n} traces through one evaluator worker (faust): traces topic -> sampler -> requests -> "
          f"{len(names)} rules -> results ({expected / n:.1f} results per trace published)")  # fmt: skip
    try:
        for mode in ("live", "backlog"):
            prefix = f"{mode}."
            kafka = KafkaSettings(bootstrap_servers=broker.bootstrap_servers, topic_prefix=prefix)
            ensure_topics(kafka, PipelineSettings(spans_partitions=2))
            env = {**os.environ, "GLASSBOX_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
                   "GLASSBOX_KAFKA_TOPIC_PREFIX": prefix, "GLASSBOX_PIPELINE_SPANS_PARTITIONS": "2",
                   "GLASSBOX_PIPELINE_SESSION_TIMEOUT_S": "30", "GLASSBOX_EVAL_CONFIG": str(config),
                   "GLASSBOX_EVAL_GROUP": f"bench-{uuid.uuid4().hex[:6]}", "GLASSBOX_LOG_LEVEL": "warning",
                   "GLASSBOX_EVAL_MAX_INFLIGHT": "20000"}  # fmt: skip
            log = open(Path(tempfile.mkdtemp()) / "worker.log", "w")  # noqa: SIM115 - handed to the child
            worker = subprocess.Popen([sys.executable, "-m", "glassbox.cli", "evaluator"], env=env, stdout=log,
                                      stderr=log)  # fmt: skip
            producer = KafkaProducer(bootstrap_servers=kafka.servers, linger_ms=20, acks=1,
                                     batch_size=512 * 1024)  # fmt: skip
            try:
                warm = distinct(corpus(), 20)
                for trace in warm:  # the worker is up, in its group, its tables recovered, once these are out
                    producer.send(TRACES.full_name(prefix), key=trace.trace_id.encode(),
                                  value=trace.model_dump_json().encode())  # fmt: skip
                producer.flush()
                warm_results = sum(len(runner.run_inline(TraceView(t), runner.plan(t, names))) for t in warm)
                asyncio.run(count_until(kafka.bootstrap_servers, EVALUATION_RESULTS.full_name(prefix),
                                        warm_results, 120))  # fmt: skip
                if mode == "backlog":
                    worker.send_signal(signal.SIGSTOP)
                cpu_before = cpu_seconds(worker.pid)
                started = time.monotonic()
                for key, value in messages:
                    producer.send(TRACES.full_name(prefix), key=key, value=value)
                producer.flush()
                if mode == "backlog":
                    started = time.monotonic()
                    worker.send_signal(signal.SIGCONT)
                seen, last = asyncio.run(count_until(kafka.bootstrap_servers, EVALUATION_RESULTS.full_name(prefix),
                                                     warm_results + expected, 300))  # fmt: skip
                cpu = cpu_seconds(worker.pid) - cpu_before
                elapsed = last - started
                print(f"  {mode:<8} {seen - warm_results:,} of {expected:,} results in {elapsed:.1f}s: "
                      f"{n / elapsed:>6,.0f} traces/s ({(seen - warm_results) / elapsed:,.0f} results/s); worker "
                      f"CPU {cpu * 1e6 / n:.0f} us per trace = {n / cpu:,.0f} traces per CPU-second")  # fmt: skip
                print(f"           worker log: {log.name}")
            finally:
                producer.close()
                worker.send_signal(signal.SIGCONT)
                worker.terminate()
                worker.wait(30)
    finally:
        broker.stop()


async def judge_many(runner: Any, view: Any, planned: Any, count: int) -> list[Any]:
    return await asyncio.gather(*(runner.run_deferred(view, planned) for _ in range(count)))


def bench_judge(concurrencies: tuple[int, ...] = (4, 8, 16), calls_per_slot: int = 12) -> None:
    from glassbox.common.settings import EvaluatorSettings
    from glassbox.evaluators.build import build_runner
    from glassbox.evaluators.config import parse_config
    from glassbox.evaluators.view import TraceView

    provider, base_url = fake_provider("ok", 0.2)
    trace = next(t for t in corpus() if t.metrics.retrievals and t.output)
    print("judge: faithfulness against the fake provider, 200 ms per call")
    # A judge model litellm has no price for costs it a failed search of its cost map on every call (~4 ms of
    # CPU); with prices (a model in litellm's map, or input/output_cost_per_token in the config) it has none.
    variants = [("unpriced model", {}), ("priced model", {"input_cost_per_token": 1e-7, "output_cost_per_token": 4e-7})]
    try:
        for (label, prices), c in [(v, c) for v in variants for c in concurrencies]:
            config = parse_config({
                "judges": {"default": {"model": "openai/fake-judge", "api_base": base_url, **prices}},
                "bindings": [{"name": "j", "evaluators": ["faithfulness"]}],
            })  # fmt: skip
            runner, _ = build_runner(config, EvaluatorSettings(judge_concurrency=c))
            (planned,) = runner.plan(trace, ["faithfulness"])
            view = TraceView(trace)

            asyncio.run(judge_many(runner, view, planned, c))  # warm the clients
            total = c * calls_per_slot
            started = time.perf_counter()
            results = asyncio.run(judge_many(runner, view, planned, total))
            elapsed = time.perf_counter() - started
            ok = sum(1 for batch in results for r in batch if r.status == "passed")
            rate = total / elapsed
            print(f"  {label:<15} C={c:<3} {rate:6.1f} judgements/s, bound {c / 0.2:5.0f}/s, "
                  f"ratio {rate / (c / 0.2):.2f}"
                  f"  ({ok}/{total} verdicts)")  # fmt: skip
    finally:
        provider.terminate()


WORKER = """
import sys
from glassbox.assembler.service import Assembler
from glassbox.assembler.worker import run_worker
from glassbox.common.faust_app import create_app
from glassbox.common.settings import EvaluatorSettings, KafkaSettings, PipelineSettings, load
kafka, pipeline = load(KafkaSettings), load(PipelineSettings)
app = create_app(pipeline.assembler_group, kafka, pipeline, stream_wait_empty=False)
Assembler(app, kafka, pipeline)
services = []
if sys.argv[1] == "with-evaluators":
    from glassbox.evaluators.config import load_config
    from glassbox.evaluators.service import EvaluatorService
    from glassbox.evaluators.worker import lifecycle
    settings = load(EvaluatorSettings)
    services.append(lifecycle(EvaluatorService(app, kafka, pipeline, settings, load_config(settings.config))))
run_worker(app, services)
"""


def ingest_once(evaluators: list[str] | None, judge_url: str, traces: int) -> tuple[float, int]:
    """(spans/s from the first span sent to the last trace on the traces topic, traces seen); ``evaluators``
    None runs the assembler alone."""
    import glassbox
    from glassbox.common.kafka import ensure_topics
    from glassbox.common.settings import KafkaSettings, PipelineSettings
    from glassbox.models.topics import TRACES

    broker = start_broker()
    prefix = f"i{uuid.uuid4().hex[:6]}."
    kafka = KafkaSettings(bootstrap_servers=broker.bootstrap_servers, topic_prefix=prefix)
    ensure_topics(kafka, PipelineSettings(spans_partitions=2))
    config = Path(tempfile.mkdtemp()) / "judges.yaml"
    config.write_text(json.dumps({
        "judges": {"default": {"model": "openai/fake-judge", "api_base": judge_url, "timeout_s": 60}},
        "bindings": [{"name": "all", "evaluators": evaluators or ["empty_retrieval"]}],
    }))  # fmt: skip
    env = {**os.environ, "GLASSBOX_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
           "GLASSBOX_KAFKA_TOPIC_PREFIX": prefix, "GLASSBOX_PIPELINE_SPANS_PARTITIONS": "2",
           "GLASSBOX_PIPELINE_SESSION_TIMEOUT_S": "6", "GLASSBOX_PIPELINE_TRACE_GRACE_S": "0.5",
           "GLASSBOX_EVAL_CONFIG": str(config), "GLASSBOX_EVAL_JUDGE_CONCURRENCY": "16",
           "GLASSBOX_LOG_LEVEL": "warning"}  # fmt: skip
    worker = subprocess.Popen([sys.executable, "-c", WORKER, "with-evaluators" if evaluators else "alone"],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        glassbox.init(service_name="bench", kafka=kafka, redact_builtin="")
        workload = request_workload(glassbox)
        warmup = 50  # the worker has joined its group and recovered its tables once these come out
        for i in range(warmup):
            workload(f"warm-up {i}")
        glassbox.flush(60)
        asyncio.run(count_until(kafka.bootstrap_servers, TRACES.full_name(prefix), warmup, 120))
        started = time.monotonic()
        for i in range(traces):
            workload(f"question {i}")
        glassbox.flush(60)
        seen, last = asyncio.run(count_until(kafka.bootstrap_servers, TRACES.full_name(prefix), warmup + traces, 300))
        return traces * 5 / (last - started), seen
    finally:
        worker.terminate()
        worker.wait(30)
        broker.stop()


def request_workload(gb: Any) -> Any:
    @gb.retrieval(name="retrieve")
    def retrieve(query: str) -> list[dict[str, Any]]:
        return [{"id": "doc-1", "score": 0.82, "content": "Paris is the capital of France."}]

    @gb.generation(name="generate", model="gpt-4o-mini")
    def generate(query: str, docs: list[dict[str, Any]]) -> str:
        return "Paris is the capital of France."

    @gb.tool(name="lookup")
    def tool(key: str) -> str:
        return key

    @gb.span(name="format")
    def fmt(answer: str) -> str:
        return answer.upper()

    @gb.trace(name="request")
    def request(query: str) -> str:
        answer = generate(query, retrieve(query))
        tool("k1")
        return fmt(answer)

    return request


def bench_ingest(traces: int = 4000, rounds: int = 2) -> None:
    rules = ["empty_retrieval", "tool_arguments", "latency_spike"]
    provider, judge_url = fake_provider("hang", 0.0)
    figures: dict[str, float] = {}
    try:
        for label, evaluators in (("alone", None), ("rules", rules), ("judges", [*rules, "faithfulness"])):
            figures[label] = max(ingest_once(evaluators, judge_url, traces)[0] for _ in range(rounds))
    finally:
        provider.terminate()
    print(f"ingest: {traces} traces × 5 spans, SDK → Tansu → assembler → traces topic, one worker, best of {rounds}")
    print(f"  assembler alone:                                       {figures['alone']:>7,.0f} spans/s")
    print(f"  + evaluators in the same worker, rules only:           {figures['rules']:>7,.0f} spans/s "
          f"({figures['rules'] / figures['alone']:.0%} of alone)")  # fmt: skip
    print(f"  + evaluators, rules and a judge whose every call hangs: {figures['judges']:>7,.0f} spans/s "
          f"({figures['judges'] / figures['rules']:.0%} of rules only, "
          f"{figures['judges'] / figures['alone']:.0%} of alone)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=["rules", "e2e", "judge", "ingest", "all"], default="all")
    args = parser.parse_args()
    parts = ["rules", "e2e", "judge", "ingest"] if args.part == "all" else [args.part]
    # The in-process parts (rules, judge) run with the garbage-collector settings of a worker process.
    from glassbox.common.runtime import tune_gc

    tune_gc()
    for part in parts:
        {"rules": bench_rules, "e2e": bench_e2e, "judge": bench_judge, "ingest": bench_ingest}[part]()


if __name__ == "__main__":
    main()
