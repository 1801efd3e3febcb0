"""SDK overhead benchmark: Glassbox vs the OpenTelemetry Python SDK, side by side in one run.

    python tests/perf/bench_sdk.py [--traces 20000] [--rounds 5]

Workload: a 7-span nested tree (a RAG-ish request: root → retrieve, rerank,
generate, tool → inner, format) with small inputs and outputs captured.

(a) Glassbox exporting to the embedded broker (Tansu, started here).
(b) OpenTelemetry SDK, BatchSpanProcessor with a no-op exporter, capturing the
    same inputs and outputs as two string attributes per span.

Prints the app-thread cost per span (wall clock, and the thread's own CPU time),
the ratio Glassbox / OpenTelemetry (target ≤ 0.5), then the sustained spans/s
that reach the broker with the drop count: flat out, and paced at 80 % of that.
Not part of the test run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

SPANS_PER_TRACE = 7


def glassbox_workload(gb: Any) -> Callable[[str], str]:
    @gb.retrieval(name="retrieve")
    def retrieve(query: str) -> list[dict[str, Any]]:
        return [{"id": "doc-1", "score": 0.82, "content": "Paris is the capital of France."}]

    @gb.span(name="rerank")
    def rerank(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return docs

    @gb.generation(name="generate", model="gpt-4o-mini")
    def generate(query: str, docs: list[dict[str, Any]]) -> str:
        return "Paris."

    @gb.span(name="lookup")
    def inner(key: str) -> str:
        return key

    @gb.tool(name="tool")
    def tool(key: str) -> str:
        return inner(key)

    @gb.span(name="format")
    def fmt(answer: str) -> str:
        return answer.upper()

    @gb.trace(name="request")
    def request(query: str) -> str:
        docs = rerank(retrieve(query))
        answer = generate(query, docs)
        tool("k1")
        return fmt(answer)

    return request


def otel_workload() -> tuple[Callable[[str], str], Any]:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

    class NoopExporter(SpanExporter):
        def export(self, spans: Any) -> SpanExportResult:
            return SpanExportResult.SUCCESS

        def shutdown(self) -> None:
            return None

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(NoopExporter()))
    tracer = provider.get_tracer("bench")

    def traced(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                with tracer.start_as_current_span(name) as span:
                    span.set_attribute("input", repr(args))
                    result = fn(*args, **kwargs)
                    span.set_attribute("output", repr(result))
                    return result

            return wrapper

        return decorate

    @traced("retrieve")
    def retrieve(query: str) -> list[dict[str, Any]]:
        return [{"id": "doc-1", "score": 0.82, "content": "Paris is the capital of France."}]

    @traced("rerank")
    def rerank(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return docs

    @traced("generate")
    def generate(query: str, docs: list[dict[str, Any]]) -> str:
        return "Paris."

    @traced("lookup")
    def inner(key: str) -> str:
        return key

    @traced("tool")
    def tool(key: str) -> str:
        return inner(key)

    @traced("format")
    def fmt(answer: str) -> str:
        return answer.upper()

    @traced("request")
    def request(query: str) -> str:
        docs = rerank(retrieve(query))
        answer = generate(query, docs)
        tool("k1")
        return fmt(answer)

    return request, provider


def time_per_span(request: Callable[[str], str], traces: int) -> tuple[float, float]:
    """(wall µs per span, app-thread CPU µs per span)."""
    wall0, cpu0 = time.perf_counter(), time.thread_time()
    for _ in range(traces):
        request("what is the capital of France?")
    wall, cpu = time.perf_counter() - wall0, time.thread_time() - cpu0
    spans = traces * SPANS_PER_TRACE
    return wall / spans * 1e6, cpu / spans * 1e6


def sustained(gb: Any, request: Callable[[str], str], seconds: float, rate: float | None) -> dict[str, float]:
    """Run for ``seconds`` flat out (rate None) or paced at ``rate`` spans/s; report what reached the broker."""
    before = gb.stats()
    start = time.perf_counter()
    made = 0
    while (elapsed := time.perf_counter() - start) < seconds:
        if rate is not None and made * SPANS_PER_TRACE > elapsed * rate:
            time.sleep(0.0005)
            continue
        request("q")
        made += 1
    offered_for = time.perf_counter() - start
    gb.flush(60)
    drained_after = time.perf_counter() - start  # delivery rate counts the time to drain the backlog too
    after = gb.stats()
    delivered = after["delivered"] - before["delivered"]
    dropped = after["dropped"] - before["dropped"]
    return {
        "offered_spans_per_s": made * SPANS_PER_TRACE / offered_for,
        "delivered_spans_per_s": delivered / drained_after,
        "delivered": delivered,
        "dropped": dropped,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--traces", type=int, default=20_000, help="traces per timed round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each sustained-rate phase")
    args = parser.parse_args()

    import glassbox
    from glassbox.common.kafka import ensure_topics
    from glassbox.common.settings import KafkaSettings, PipelineSettings
    from glassbox.embedded.broker import EmbeddedBroker

    with EmbeddedBroker() as broker:
        ensure_topics(KafkaSettings(bootstrap_servers=broker.bootstrap_servers), PipelineSettings())
        glassbox.init(kafka_bootstrap_servers=broker.bootstrap_servers, service_name="bench", max_queue_spans=200_000)
        gb_request = glassbox_workload(glassbox)
        ot_request, provider = otel_workload()
        for fn in (gb_request, ot_request):  # warm up both
            time_per_span(fn, 2_000)
        glassbox.flush(30)

        gb_wall, gb_cpu, ot_wall, ot_cpu = [], [], [], []
        for _ in range(args.rounds):  # alternate so both see the same machine state
            w, c = time_per_span(gb_request, args.traces)
            gb_wall.append(w)
            gb_cpu.append(c)
            glassbox.flush(60)
            w, c = time_per_span(ot_request, args.traces)
            ot_wall.append(w)
            ot_cpu.append(c)
            provider.force_flush()
        gw, gc, ow, oc = (statistics.median(v) for v in (gb_wall, gb_cpu, ot_wall, ot_cpu))
        print(
            f"app-thread cost per span, median of {args.rounds} rounds x {args.traces} traces x {SPANS_PER_TRACE} spans"
        )
        print(f"  glassbox (exporting to the embedded broker): {gw:6.2f} us wall   {gc:6.2f} us thread CPU")
        print(f"  opentelemetry (batch processor, no-op):      {ow:6.2f} us wall   {oc:6.2f} us thread CPU")
        print(
            f"  ratio glassbox / opentelemetry:              {gw / ow:6.3f} wall   {gc / oc:6.3f} thread CPU"
            "   (target <= 0.5)"
        )
        stats = glassbox.stats()
        print(f"  during the timed rounds: delivered {stats['delivered']}, dropped {stats['dropped']}")

        flat = sustained(glassbox, gb_request, args.seconds, None)
        print("\nsustained export to the broker")
        print(
            f"  flat out:   offered {flat['offered_spans_per_s']:9.0f} spans/s -> delivered "
            f"{flat['delivered_spans_per_s']:8.0f} spans/s, dropped {flat['dropped']:.0f}"
        )
        target = 0.8 * flat["delivered_spans_per_s"]
        paced = sustained(glassbox, gb_request, args.seconds * 2, target)
        print(
            f"  paced at {target:7.0f}: offered {paced['offered_spans_per_s']:9.0f} spans/s -> delivered "
            f"{paced['delivered_spans_per_s']:8.0f} spans/s, dropped {paced['dropped']:.0f}"
        )
        glassbox.shutdown(10)
        provider.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
