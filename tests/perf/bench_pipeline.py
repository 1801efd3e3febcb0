"""Pipeline benchmark: the Glassbox assembler and sink against the raw engines' ceiling, in one run.

    python tests/perf/bench_pipeline.py [--spans 400000] [--spans-per-trace 10] [--rounds 3]

On the same generated span events (JSON arrays of one trace's spans, keyed by trace id, as the SDK
sends them):

(a) raw ceiling: aiokafka consuming in large batches, json.loads, insert into chDB, commit — no
    validation, no assembly;
(b) Glassbox: `glassbox assembler` (1 process, then 2) and `glassbox sink`, each its own process
    (the production layout), until every span is in `spans` and every trace in `traces`; then
    `glassbox worker` (assembler and sink in one process, the embedded stack's layout).

Both run live and on a backlog. Live: the benchmark produces while they consume (the raw consumer keeps
up with the producer, so its live figure is the producer's pace as much as its own; Glassbox shares the
two cores with the producer). Backlog: every event is in Kafka before the consumer starts (Glassbox: its
workers are stopped once their groups formed and started again), and the sustained rate is the rows
stored after the first insert over the time from that insert to the last one — the same formula for
both. Each Glassbox figure is printed with its ratio to the raw figure of the same mode and to the
higher raw figure. Each is also given as a steady-state rate, for both consumers alike: the rows stored
from the insert that passed 10 % of them to the one that passed 90 %, over the time between (for Glassbox the
slower of spans and traces, a trace standing for its spans), which leaves out start-up (group joins, an
assembler still starting while the sink already writes) and the drain (the last part-filled batches, the
last traces' grace period). With ``--rounds N`` the raw ceiling and Glassbox are measured N times, one after the
other, and the medians of the figures and of each round's ratios are printed last (the machine's pace
drifts by a fifth between minutes).

Prints sustained spans/s for both and the ratio (target >= 0.3); p50 and p99 ingest-to-queryable
latency at half the measured maximum rate (target p99 <= 2 s); bytes per span on disk against the
raw JSON size (target <= 0.2); throughput with one and two assembler workers. Not part of the tests.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

PARTITIONS = 6


# ---------------------------------------------------------------------------- data


def make_trace(t: int, per_trace: int, now_ns: int, rnd: random.Random) -> tuple[bytes, bytes, int]:
    """(key, value, raw JSON bytes of the spans) for one realistic trace: root, retrieval, generation, tools."""
    trace_id = f"{rnd.getrandbits(128):032x}"
    root = f"{rnd.getrandbits(64):016x}"
    start = now_ns - 2_000_000_000
    spans: list[dict[str, Any]] = [
        {
            "schema_version": 1, "trace_id": trace_id, "span_id": root, "name": "answer_question", "kind": "span",
            "start_time_unix_nano": start, "end_time_unix_nano": now_ns, "status": {"code": "ok"},
            "resource": {"service.name": f"svc-{t % 4}", "deployment.environment.name": "prod"},
            "user_id": f"user-{t % 500}", "session_id": f"s-{t % 2000}", "input": {"question": f"question number {t}"},
            "output": "The answer is in document 7.",
        },
        {
            "schema_version": 1, "trace_id": trace_id, "span_id": f"{rnd.getrandbits(64):016x}", "parent_span_id": root,
            "name": "search_kb", "kind": "retrieval", "start_time_unix_nano": start + 1_000_000,
            "end_time_unix_nano": start + 40_000_000, "resource": {"service.name": f"svc-{t % 4}"},
            "payload": {"glassbox.retrieval.query": f"question number {t}", "glassbox.retrieval.documents": [
                {"id": f"doc-{(t + i) % 50}", "score": round(0.9 - i * 0.1, 2),
                 "content": f"document {(t + i) % 50} text"} for i in range(3)]},
        },
        {
            "schema_version": 1, "trace_id": trace_id, "span_id": f"{rnd.getrandbits(64):016x}", "parent_span_id": root,
            "name": "generate", "kind": "generation", "start_time_unix_nano": start + 50_000_000,
            "end_time_unix_nano": now_ns - 1_000_000, "resource": {"service.name": f"svc-{t % 4}"},
            "payload": {"gen_ai.request.model": "gpt-4o-mini", "gen_ai.provider.name": "openai",
                        "gen_ai.usage.input_tokens": 400 + t % 50, "gen_ai.usage.output_tokens": 30 + t % 7,
                        "glassbox.usage.cost_usd": 0.0001, "glassbox.completion": "The answer is in document 7."},
        },
    ]  # fmt: skip
    for i in range(per_trace - len(spans)):
        spans.append(
            {
                "schema_version": 1, "trace_id": trace_id, "span_id": f"{rnd.getrandbits(64):016x}",
                "parent_span_id": root, "name": "lookup", "kind": "tool",
                "start_time_unix_nano": start + (60 + i) * 1_000_000,
                "end_time_unix_nano": start + (62 + i) * 1_000_000,
                "resource": {"service.name": f"svc-{t % 4}"},
                "payload": {"gen_ai.tool.name": "lookup", "gen_ai.tool.call.arguments": {"key": f"k{i}"},
                            "gen_ai.tool.call.result": {"value": i}},
            }
        )  # fmt: skip
    value = json.dumps(spans, separators=(",", ":")).encode()
    raw = len(value) - len(spans) - 1  # each span's own JSON: the array less its brackets and commas
    return trace_id.encode(), value, raw


def generate(traces: int, per_trace: int, seed: int = 7) -> tuple[list[tuple[bytes, bytes]], int]:
    """The messages (key, value) of ``traces`` traces and the raw JSON size of their spans."""
    rnd = random.Random(seed)
    now = time.time_ns()
    out, raw_total = [], 0
    for t in range(traces):
        key, value, raw = make_trace(t, per_trace, now, rnd)
        out.append((key, value))
        raw_total += raw
    return out, raw_total


def produce(servers: str, topic: str, messages: list[tuple[bytes, bytes]]) -> None:
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=servers, acks="all", linger_ms=20, compression_type="gzip",
                             batch_size=512 * 1024, max_request_size=8 * 1024 * 1024)  # fmt: skip
    for key, value in messages:
        producer.send(topic, key=key, value=value)
    producer.flush()
    producer.close()


def produce_paced(servers: str, topic: str, traces: int, per_trace: int, rate_spans: float) -> None:
    """Send fresh traces (timestamps = now) at ``rate_spans`` spans/s, for the latency measurement.

    Through aiokafka, the traces due sent every 5 ms: at 8,000 spans/s kafka-python, sending one trace at a
    time with 5 ms of linger, took 650-690 µs of CPU per trace (about 53 % of a core, making the traces
    included), this ~400 µs (31 %): CPU the two-core machine lacked for the pipeline being measured."""
    from aiokafka import AIOKafkaProducer

    async def run() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=servers, acks="all", linger_ms=5, compression_type="gzip")
        await producer.start()
        try:
            rnd = random.Random(11)
            started = time.perf_counter()
            sent, done = [], 0
            while done < traces:  # every 5 ms, the traces due by now (each stamped as it is made)
                due = min(traces, int((time.perf_counter() - started) * rate_spans / per_trace) + 1)
                for t in range(done, due):
                    key, value, _ = make_trace(t, per_trace, time.time_ns(), rnd)
                    sent.append(await producer.send(topic, key=key, value=value))
                done = due
                await asyncio.sleep(0.005)
            await asyncio.gather(*sent)
        finally:
            await producer.stop()

    asyncio.run(run())


# ---------------------------------------------------------------------------- (a) raw ceiling


def raw_consumer(servers: str, topic: str, chdb_path: str, expect_spans: int) -> None:
    """Child process: aiokafka getmany(10k) → json.loads → insert into chDB → commit, no processing."""
    import clickhouse_connect
    from aiokafka import AIOKafkaConsumer

    client = clickhouse_connect.get_client(dsn=f"chdb://{chdb_path}")
    client.command("CREATE DATABASE IF NOT EXISTS raw")
    client.command(
        "CREATE TABLE IF NOT EXISTS raw.spans (TraceId String, SpanId String, Name String, Start UInt64, "
        "End UInt64, Body String, _ingested_at DateTime64(3) DEFAULT now64(3)) "
        "ENGINE = MergeTree ORDER BY (TraceId, SpanId)"
    )

    async def run() -> float:
        consumer = AIOKafkaConsumer(topic, bootstrap_servers=servers, group_id="raw-ceiling",
                                    auto_offset_reset="earliest", enable_auto_commit=False,
                                    max_partition_fetch_bytes=16 * 1024 * 1024, session_timeout_ms=6000,
                                    heartbeat_interval_ms=2000)  # fmt: skip
        await consumer.start()
        done = -1  # the warm-up message (one span) counts first
        first = None
        loop = asyncio.get_running_loop()
        while done < expect_spans:
            batch = await consumer.getmany(timeout_ms=500, max_records=10_000)
            rows = []
            for records in batch.values():
                for record in records:
                    for span in json.loads(record.value):
                        rows.append([span["trace_id"], span["span_id"], span["name"], span["start_time_unix_nano"],
                                     span["end_time_unix_nano"], json.dumps(span)])  # fmt: skip
            if not rows:
                continue
            if first is None:
                first = time.time()
                print(f"first {first}", flush=True)
            await loop.run_in_executor(None, lambda r=rows: client.insert("raw.spans", r, column_names=[  # type: ignore[misc]
                "TraceId", "SpanId", "Name", "Start", "End", "Body"]))  # fmt: skip
            await consumer.commit()
            if done < 0:
                print("ready", flush=True)
            done += len(rows)
        print(f"done {time.time()}", flush=True)
        inserts = client.query(INSERTS.format(table="raw.spans", name="Name")).result_rows
        print(f"inserts {json.dumps([list(row) for row in inserts])}", flush=True)
        await consumer.stop()
        return 0.0

    asyncio.run(run())


INSERTS = (
    "SELECT toUnixTimestamp64Milli(_ingested_at) AS at, count() FROM {table} WHERE {name} != 'warm-up' "
    "GROUP BY at ORDER BY at"
)
"""The workload's rows per insert (insert time in ms, rows), for :func:`window_rate` and :func:`steady_rate`."""


def window_rate(rows: int, inserts: list[tuple[int, int]], last_ms: int = 0) -> float:
    """A backlog's sustained rate, for both consumers: the rows stored after the first insert over the time from
    it to the last one (or ``last_ms``, if later); 0.0 when the first insert took most of the rows (a small
    workload: what comes after it says little)."""
    if not inserts:
        return 0.0
    (first_ms, first_rows), last_ms = inserts[0], max(last_ms, inserts[-1][0])
    if last_ms <= first_ms or first_rows > rows / 2:
        return 0.0
    return (rows - first_rows) / ((last_ms - first_ms) / 1000)


def steady_rate(inserts: list[tuple[int, int]], lo: float = 0.1, hi: float = 0.9) -> float:
    """Rows stored per second between the insert that took the stored rows past ``lo`` of them and the one that
    took them past ``hi``: the rows of the inserts after the first up to the second, over the time between the
    two. Start-up (group joins, first fetches) and the drain (the last part-filled batches; for Glassbox the
    last traces' grace period) are left out, alike for every consumer. 0.0 when one insert passed both marks."""
    total = sum(n for _, n in inserts)
    stored = 0
    mark: tuple[int, int] | None = None
    for at, n in inserts:
        stored += n
        if mark is None and stored >= lo * total:
            mark = (at, stored)
        if mark is not None and stored >= hi * total:
            return (stored - mark[1]) / ((at - mark[0]) / 1000) if at > mark[0] else 0.0
    return 0.0


def raw_ceiling(servers: str, prefix: str, workdir: Path, messages: list[tuple[bytes, bytes]], spans: int,
                pipeline: Any, *, backlog: bool) -> tuple[float, float]:  # fmt: skip
    """Spans/s of the raw consumer (a child process), and its steady-state rate (:func:`steady_rate`). Live: from
    the first event sent to the last stored, the events sent once the consumer is up. Backlog: every event in
    Kafka first; the rows stored after its first insert over the time from that insert to its last
    (:func:`window_rate`)."""
    from glassbox.common.kafka import ensure_topics
    from glassbox.common.settings import KafkaSettings

    ensure_topics(KafkaSettings(bootstrap_servers=servers, topic_prefix=prefix), pipeline)
    topic = f"{prefix}glassbox.spans"
    if backlog:
        produce(servers, topic, [warmup_message(), *messages])
    child = subprocess.Popen([sys.executable, __file__, "--raw-consumer", servers, topic, str(workdir / f"ch-{prefix}"),
                              str(spans)], stdout=subprocess.PIPE, text=True, start_new_session=True)  # fmt: skip
    STARTED.append(child)
    assert child.stdout is not None
    if not backlog:
        produce(servers, topic, [warmup_message()])
    first = float(child.stdout.readline().split()[1])  # its first batch
    assert child.stdout.readline().strip() == "ready"
    started = time.time()
    if not backlog:
        produce(servers, topic, messages)
    finished = float(child.stdout.readline().split()[1])
    inserts = [tuple(row) for row in json.loads(child.stdout.readline().split(maxsplit=1)[1])]
    steady = steady_rate(inserts)
    child.wait(60)
    if not backlog:
        return spans / (finished - started), steady
    # a workload its first insert took whole (a small --spans) has no window: from its first batch then
    return window_rate(spans, inserts) or spans / (finished - first), steady


# ---------------------------------------------------------------------------- (b) glassbox


def glassbox_env(servers: str, prefix: str, chdb_path: str, tag: str) -> dict[str, str]:
    return {
        **os.environ,
        "GLASSBOX_KAFKA_BOOTSTRAP_SERVERS": servers,
        "GLASSBOX_KAFKA_TOPIC_PREFIX": prefix,
        "GLASSBOX_CLICKHOUSE_URL": f"chdb://{chdb_path}",
        "GLASSBOX_PIPELINE_SESSION_TIMEOUT_S": "6",
        "GLASSBOX_PIPELINE_TRACE_GRACE_S": "0.3",
        "GLASSBOX_PIPELINE_SPANS_PARTITIONS": str(PARTITIONS),
        "GLASSBOX_PIPELINE_ASSEMBLER_GROUP": f"bench-asm-{tag}",
        "GLASSBOX_PIPELINE_SINK_GROUP": f"bench-sink-{tag}",
        "GLASSBOX_PIPELINE_ASSEMBLER_BATCH": "5000",
        "GLASSBOX_LOG_LEVEL": "warning",
    }


STARTED: list[subprocess.Popen[Any]] = []
"""Every child process started, so an interrupted benchmark stops those still running (:func:`children`)."""


def start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:  # the child keeps its own copy of the file
        proc = subprocess.Popen([sys.executable, "-m", "glassbox.cli", *args], env=env, start_new_session=True,
                                stdout=out, stderr=subprocess.STDOUT)  # fmt: skip
    STARTED.append(proc)
    return proc


@contextlib.contextmanager
def children() -> Iterator[None]:
    """On the way out, also when interrupted, stop the children still running (each runs in its own session, so
    a signal to the benchmark does not reach them), before the broker they use."""
    try:
        yield
    finally:
        for proc in STARTED:
            stop(proc)
        STARTED.clear()


def exit_on_sigterm(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)  # unwinds: the children, then the broker, are stopped on the way out


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


def stored(chdb_path: str, database: str = "glassbox") -> Any:
    import clickhouse_connect

    return clickhouse_connect.get_client(dsn=f"chdb://{chdb_path}", database=database)


WARMUP_TRACE = (
    b'[{"schema_version":1,"trace_id":"00000000000000000000000000000abc","span_id":"0000000000000abc",'
    b'"name":"warm-up","kind":"span","start_time_unix_nano":%d,"end_time_unix_nano":%d}]'
)


def warmup_message() -> tuple[bytes, bytes]:
    now = time.time_ns()
    return b"00000000000000000000000000000abc", WARMUP_TRACE % (now, now)


def run_glassbox(servers: str, prefix: str, workdir: Path, tag: str, messages: list[tuple[bytes, bytes]],
                 spans: int, assemblers: int, sink_query_port: int, *, one_process: bool = False,
                 backlog: bool = False) -> dict[str, float]:  # fmt: skip
    """Start N assemblers and the sink; once they run, send the workload and time until all is stored.

    ``backlog``: once the groups formed, stop the workers, put the whole workload in Kafka, start them again
    and take the sustained rate over their inserts (:func:`window_rate`), as for the raw consumer's backlog.

    The production layout (``one_process=False``): `glassbox sink` (serving the query endpoint the
    benchmark polls) and N `glassbox assembler` processes. The embedded layout (``one_process=True``):
    `glassbox worker`, assembler and sink in one process and one event loop, plus N-1 assemblers."""
    import clickhouse_connect

    traces = len(messages)

    chdb_path = str(workdir / f"ch-{tag}")
    env = glassbox_env(servers, prefix, chdb_path, tag)

    def start_all() -> list[subprocess.Popen[bytes]]:
        if one_process:  # the worker runs one assembler next to the sink; extra assemblers join its group
            procs = [start(["worker", "--no-evaluators", "--query-port", str(sink_query_port)], env,
                           workdir / f"sink-{tag}.log")]  # fmt: skip
            return procs + [start(["assembler"], env, workdir / f"asm-{tag}-{i}.log") for i in range(assemblers - 1)]
        procs = [start(["sink", "--query-port", str(sink_query_port)], env, workdir / f"sink-{tag}.log")]
        return procs + [start(["assembler"], env, workdir / f"asm-{tag}-{i}.log") for i in range(assemblers)]

    clients: list[Any] = []

    def count(sql: str) -> int:
        """A figure from the sink's query endpoint; -1 while it is not up (the sink is starting)."""
        try:
            if not clients:
                clients.append(clickhouse_connect.get_client(host="127.0.0.1", port=sink_query_port,
                                                             database="glassbox", compress=False))  # fmt: skip
            return int(clients[0].query(sql).result_rows[0][0])
        except Exception:
            return -1

    procs = start_all()
    produce(servers, f"{prefix}glassbox.spans", [warmup_message()])
    deadline = time.monotonic() + 120
    while count("SELECT count() FROM traces") < 1:  # every consumer group has formed
        assert time.monotonic() < deadline, "the workers did not come up"
        time.sleep(0.2)
    time.sleep(8 if assemblers > 1 else 1)  # extra assemblers: let the group rebalance settle
    if backlog:
        for proc in procs:
            stop(proc)
        produce(servers, f"{prefix}glassbox.spans", messages)
        procs = start_all()
    started = time.perf_counter()
    if not backlog:
        produce(servers, f"{prefix}glassbox.spans", messages)
    while count("SELECT count() FROM spans") - 1 < spans or count("SELECT count() FROM traces") - 1 < traces:
        time.sleep(0.25)  # the endpoint shares the sink's process: poll gently
    elapsed = time.perf_counter() - started
    span_inserts, trace_inserts = (clients[0].query(INSERTS.format(table=table, name=name)).result_rows
                                   for table, name in (("spans", "SpanName"), ("traces", "Name")))  # fmt: skip
    if backlog:  # until the last span or trace is stored
        rate = window_rate(spans, span_inserts, trace_inserts[-1][0] if trace_inserts else 0) or spans / elapsed
    else:
        rate = spans / elapsed if elapsed else 0.0
    # the slower of the two tables: a trace row stands for its spans (a lagging assembler shows in its traces)
    steady = min(steady_rate(span_inserts), steady_rate(trace_inserts) * spans / traces)
    for proc in procs:
        stop(proc)
    return {"seconds": elapsed, "spans_per_s": rate, "steady_spans_per_s": steady}


RUNS = (("separate", 1, "live"), ("separate", 2, "live"), ("one process", 1, "live"), ("separate", 1, "backlog"))
"""(layout, assembler processes, mode) of each Glassbox measurement, in the order they run."""
LIVE_TAGS = ("n1", "n2", "one")


def run_tag(layout: str, assemblers: int, mode: str) -> str:
    return (f"n{assemblers}" if layout == "separate" else "one") + ("b" if mode == "backlog" else "")


def describe(tag: str) -> tuple[str, str]:
    """(mode, what was measured) of a Glassbox measurement."""
    layout, assemblers, mode = next(run for run in RUNS if run_tag(*run) == tag)
    what = (f"{assemblers} assembler process(es) + sink process" if layout == "separate"
            else "assembler and sink in one worker process (the embedded layout)")  # fmt: skip
    return mode, what


def ratio_text(rate: float, raw: dict[str, float], mode: str) -> str:
    return (f"ratio to the raw ceiling {mode} {rate / raw[mode]:.2f}, to the higher raw figure "
            f"{rate / max(raw.values()):.2f}; target >= 0.3")  # fmt: skip


def steady_text(rate: float, raw: float, mode: str) -> str:
    if not rate:
        return "    steady state (10-90 % of the rows stored): n/a, one insert took both marks (a small workload)"
    return (f"    steady state (10-90 % of the rows stored): {rate:9.0f} spans/s"
            + (f", ratio to the raw ceiling's steady state {mode} {rate / raw:.2f}" if raw else ""))  # fmt: skip


def measure_round(servers: str, workdir: Path, messages: list[tuple[bytes, bytes]], spans: int, pipeline: Any,
                  r: int, rounds: int) -> dict[str, float]:  # fmt: skip
    """One round: the raw ceiling live and on a backlog, then every Glassbox measurement. Spans/s by tag ('raw
    live', 'n1', ...), and each steady-state rate under '<tag> steady'."""
    from glassbox.common.kafka import ensure_topics
    from glassbox.common.settings import KafkaSettings
    from glassbox.embedded.broker import free_port

    label = f"round {r + 1}/{rounds}: " if rounds > 1 else ""
    rates: dict[str, float] = {}
    for mode in ("live", "backlog"):
        rate, steady = raw_ceiling(servers, f"r{r}raw{mode}.", workdir, messages, spans, pipeline,
                                   backlog=mode == "backlog")  # fmt: skip
        rates[f"raw {mode}"], rates[f"raw {mode} steady"] = rate, steady
        print(f"{label}(a) raw ceiling, {mode:7s} (aiokafka getmany 10k -> json.loads -> chDB insert -> commit): "
              f"{rate:9.0f} spans/s\n{label}{steady_text(steady, 0.0, mode)}", flush=True)  # fmt: skip
    raw = {mode: rates[f"raw {mode}"] for mode in ("live", "backlog")}
    for layout, assemblers, mode in RUNS:
        tag = run_tag(layout, assemblers, mode)
        prefix = f"r{r}gb{tag}."
        ensure_topics(KafkaSettings(bootstrap_servers=servers, topic_prefix=prefix), pipeline)
        result = run_glassbox(servers, prefix, workdir, f"{tag}-r{r}", messages, spans, assemblers, free_port(),
                              one_process=layout == "one process", backlog=mode == "backlog")  # fmt: skip
        rate = rates[tag] = result["spans_per_s"]
        steady = rates[f"{tag} steady"] = result["steady_spans_per_s"]
        print(f"{label}(b) glassbox, {mode:7s} {describe(tag)[1]}: {rate:9.0f} spans/s "
              f"({ratio_text(rate, raw, mode)})\n"
              f"{label}{steady_text(steady, rates[f'raw {mode} steady'], mode)}", flush=True)  # fmt: skip
    return rates


def _ratio(a: float, b: float) -> float:
    return a / b if b else 0.0


def print_medians(rounds: list[dict[str, float]]) -> None:
    """The median of each figure over the rounds, and the median of each round's ratios."""
    n = len(rounds)

    def median(key: str) -> float:
        return statistics.median(r[key] for r in rounds)

    for mode in ("live", "backlog"):
        print(f"median of {n} rounds: (a) raw ceiling, {mode:7s}: {median(f'raw {mode}'):9.0f} spans/s; steady state "
              f"{median(f'raw {mode} steady'):9.0f} spans/s")  # fmt: skip
    for tag in (run_tag(*run) for run in RUNS):
        mode, what = describe(tag)
        same = statistics.median(_ratio(r[tag], r[f"raw {mode}"]) for r in rounds)
        higher = statistics.median(_ratio(r[tag], max(r["raw live"], r["raw backlog"])) for r in rounds)
        steadies = [_ratio(r[f"{tag} steady"], r[f"raw {mode} steady"]) for r in rounds]
        steady = statistics.median([x for x in steadies if x] or [0.0])
        print(f"median of {n} rounds: (b) glassbox, {mode:7s} {what}: {median(tag):9.0f} spans/s (median ratio to "
              f"the raw ceiling {mode} {same:.2f}, to the higher raw figure {higher:.2f}; target >= 0.3); steady "
              f"state {median(f'{tag} steady'):9.0f} spans/s, median ratio to the raw steady state {mode} "
              f"{steady:.2f}")  # fmt: skip


DISK_PROBE = """
import sys, clickhouse_connect
c = clickhouse_connect.get_client(dsn="chdb://" + sys.argv[1])
c.command("OPTIMIZE TABLE glassbox.spans FINAL")
disk = c.query("SELECT sum(bytes_on_disk) FROM system.parts WHERE database='glassbox' AND table='spans' AND active")
print(disk.result_rows[0][0], c.query("SELECT count() FROM glassbox.spans").result_rows[0][0])
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--spans", type=int, default=400_000)
    parser.add_argument("--spans-per-trace", type=int, default=10)
    parser.add_argument("--latency-seconds", type=float, default=20.0)
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="measure the raw ceiling and Glassbox this many times, alternately, and print the medians",
    )
    parser.add_argument(
        "--raw-consumer", nargs=4, metavar=("SERVERS", "TOPIC", "CHDB", "SPANS"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.raw_consumer:
        servers, topic, chdb_path, expect = args.raw_consumer
        raw_consumer(servers, topic, chdb_path, int(expect))
        return 0

    logging.getLogger("clickhouse_connect").setLevel(logging.ERROR)  # polls while a sink (re)starts are refused

    per_trace = args.spans_per_trace
    traces = args.spans // per_trace
    spans = traces * per_trace
    workdir = Path(tempfile.mkdtemp(prefix="glassbox-bench-"))
    print(f"workload: {spans} spans in {traces} traces of {per_trace} spans; workdir {workdir}")
    signal.signal(signal.SIGTERM, exit_on_sigterm)
    return run(args, workdir, traces, per_trace, spans)


def run(args: argparse.Namespace, workdir: Path, traces: int, per_trace: int, spans: int) -> int:
    from glassbox.common.kafka import ensure_topics
    from glassbox.common.settings import KafkaSettings, PipelineSettings
    from glassbox.embedded.broker import EmbeddedBroker

    with EmbeddedBroker(log_path=workdir / "tansu.log") as broker, children():
        servers = broker.bootstrap_servers
        pipeline = PipelineSettings(spans_partitions=PARTITIONS)

        messages, raw_bytes = generate(traces, per_trace)

        rounds = [measure_round(servers, workdir, messages, spans, pipeline, r, args.rounds)
                  for r in range(args.rounds)]  # fmt: skip
        if args.rounds > 1:
            print_medians(rounds)
        best = statistics.median(max(rates[tag] for tag in LIVE_TAGS) for rates in rounds)

        # latency at half the maximum rate
        prefix = "lat."
        ensure_topics(KafkaSettings(bootstrap_servers=servers, topic_prefix=prefix), pipeline)
        chdb_path = str(workdir / "ch-lat")
        env = glassbox_env(servers, prefix, chdb_path, "lat")
        workers = [start(["sink"], env, workdir / "lat-sink.log"), start(["assembler"], env, workdir / "lat-asm.log")]
        time.sleep(15)  # let the groups form before measuring
        rate = best / 2
        lat_traces = int(rate * args.latency_seconds / per_trace)
        sender = threading.Thread(
            target=produce_paced, args=(servers, f"{prefix}glassbox.spans", lat_traces, per_trace, rate)
        )
        sender.start()
        sender.join()
        time.sleep(5)
        for proc in workers:
            stop(proc)
        client = stored(chdb_path)
        p50, p99, n = client.query(
            "SELECT quantile(0.5)(lat), quantile(0.99)(lat), count() FROM (SELECT "
            "toUnixTimestamp64Milli(_ingested_at) "
            "- intDiv(toUnixTimestamp64Nano(Timestamp) + Duration, 1000000) AS lat "
            "FROM spans WHERE SpanName = 'answer_question')"
        ).result_rows[0]  # fmt: skip
        print(f"ingest-to-queryable latency at {rate:.0f} spans/s (half the max): p50 {p50:.0f} ms, p99 {p99:.0f} ms "
              f"over {n} traces (target p99 <= 2000 ms)")  # fmt: skip

        # bytes per span on disk (another process: chDB opens one data path per process)
        probe = subprocess.run([sys.executable, "-c", DISK_PROBE, str(workdir / "ch-n1-r0")], capture_output=True,
                               text=True, check=True)  # fmt: skip
        disk, count = (int(v) for v in probe.stdout.split())
        per_span_raw = raw_bytes / spans
        print(f"bytes per span on disk: {disk / count:.1f} vs {per_span_raw:.1f} raw JSON "
              f"(ratio {disk / count / per_span_raw:.3f}; target <= 0.2)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
