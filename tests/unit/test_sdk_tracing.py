"""The tracing API: nesting across sync, async, threads and generators; errors; capture; sampling."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import pytest

import glassbox
from glassbox.models.span import parse_span
from glassbox.sdk.testing import InMemorySender


@pytest.fixture
def mem() -> Iterator[InMemorySender]:
    sender = InMemorySender()
    glassbox.init(sender=sender, service_name="unit", environment="test")
    yield sender
    glassbox.shutdown(1)


def events(mem: InMemorySender) -> list[dict[str, Any]]:
    assert glassbox.flush(5)
    evs = mem.events
    for event in evs:
        parse_span(event)  # every event satisfies the contract
    return evs


def by_name(evs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in evs}


def test_nested_sync_spans_link_to_their_parents(mem: InMemorySender) -> None:
    """Decorated functions calling each other form one trace with correct parent ids and kinds."""

    @glassbox.retrieval(name="search")
    def search(query: str) -> list[dict[str, Any]]:
        return [{"id": "d1", "score": 0.9, "content": "Paris is the capital of France."}]

    @glassbox.generation(name="llm", model="gpt-4o-mini")
    def llm(question: str, docs: list[dict[str, Any]]) -> str:
        return "Paris"

    @glassbox.trace(name="qa", user_id="u-1", session_id="s-1", tags=["rag"])
    def qa(question: str) -> str:
        return llm(question, search(question))

    assert qa("capital of France?") == "Paris"
    spans = by_name(events(mem))
    root, search_ev, llm_ev = spans["qa"], spans["search"], spans["llm"]
    assert "parent_span_id" not in root
    assert search_ev["parent_span_id"] == root["span_id"] == llm_ev["parent_span_id"]
    assert {e["trace_id"] for e in spans.values()} == {root["trace_id"]}
    assert (search_ev["kind"], llm_ev["kind"], root["kind"]) == ("retrieval", "generation", "span")
    assert search_ev["payload"]["glassbox.retrieval.query"] == "capital of France?"
    assert search_ev["payload"]["glassbox.retrieval.documents"][0]["id"] == "d1"
    assert llm_ev["payload"]["gen_ai.request.model"] == "gpt-4o-mini"
    assert llm_ev["payload"]["glassbox.completion"] == "Paris"
    assert llm_ev["user_id"] == "u-1" and llm_ev["session_id"] == "s-1" and llm_ev["tags"] == ["rag"]
    assert root["input"] == {"question": "capital of France?"} and root["output"] == "Paris"
    assert root["start_time_unix_nano"] <= search_ev["start_time_unix_nano"]
    assert search_ev["end_time_unix_nano"] <= llm_ev["start_time_unix_nano"] <= llm_ev["end_time_unix_nano"]
    assert llm_ev["end_time_unix_nano"] <= root["end_time_unix_nano"]
    assert root["resource"]["service.name"] == "unit"


def test_concurrent_asyncio_tasks_keep_their_own_parents(mem: InMemorySender) -> None:
    """Spans created in tasks run with gather are children of the span of the task that made them."""

    @glassbox.tool(name="fetch")
    async def fetch(i: int) -> int:
        await asyncio.sleep(0.01 * (3 - i))
        return i

    @glassbox.span(name="branch")
    async def branch(i: int) -> int:
        return await fetch(i)

    @glassbox.trace(name="fanout")
    async def fanout() -> list[int]:
        return await asyncio.gather(*(branch(i) for i in range(3)))

    assert asyncio.run(fanout()) == [0, 1, 2]
    evs = events(mem)
    branches = {e["span_id"]: e for e in evs if e["name"] == "branch"}
    fetches = [e for e in evs if e["name"] == "fetch"]
    root = next(e for e in evs if e["name"] == "fanout")
    assert len(branches) == 3 and len(fetches) == 3
    assert all(b["parent_span_id"] == root["span_id"] for b in branches.values())
    for f in fetches:  # each fetch sits under the branch that got the same argument
        parent = branches[f["parent_span_id"]]
        assert parent["input"] == {"i": f["input"]["i"]}
        assert f["payload"]["gen_ai.tool.call.arguments"] == {"i": f["input"]["i"]}
        assert f["payload"]["gen_ai.tool.call.result"] == f["input"]["i"]


def test_thread_pool_and_wrap_carry_the_current_span(mem: InMemorySender) -> None:
    """ContextThreadPoolExecutor and glassbox.wrap run work in other threads under the submitting span."""

    @glassbox.span(name="work")
    def work(x: int) -> int:
        return x * 2

    @glassbox.trace(name="parent")
    def parent() -> list[int]:
        with glassbox.ContextThreadPoolExecutor(max_workers=2) as pool:
            results = list(pool.map(work, [1, 2]))
        thread = threading.Thread(target=glassbox.wrap(work), args=(3,))
        thread.start()
        thread.join()
        return results

    parent()
    evs = events(mem)
    root = next(e for e in evs if e["name"] == "parent")
    works = [e for e in evs if e["name"] == "work"]
    assert len(works) == 3
    assert all(w["parent_span_id"] == root["span_id"] and w["trace_id"] == root["trace_id"] for w in works)


def test_generators_are_traced_over_their_whole_iteration(mem: InMemorySender) -> None:
    """A generator's span covers all items, children created while iterating nest under it, output is joined."""

    @glassbox.span(name="child")
    def child(i: int) -> int:
        return i

    @glassbox.generation(name="stream")
    def stream(n: int) -> Iterator[str]:
        for i in range(n):
            child(i)
            yield f"t{i} "

    @glassbox.span(name="astream")
    async def astream(n: int) -> Any:
        for i in range(n):
            await asyncio.sleep(0)
            yield i

    async def consume() -> list[int]:
        return [i async for i in astream(3)]

    @glassbox.trace(name="root")
    def root() -> str:
        text = "".join(stream(3))
        assert asyncio.run(consume()) == [0, 1, 2]
        return text

    assert root() == "t0 t1 t2 "
    spans = events(mem)
    gen_span = next(e for e in spans if e["name"] == "stream")
    agen_span = next(e for e in spans if e["name"] == "astream")
    children = [e for e in spans if e["name"] == "child"]
    assert gen_span["output"] == "t0 t1 t2 "
    assert gen_span["payload"]["glassbox.completion"] == "t0 t1 t2 "
    assert agen_span["output"] == [0, 1, 2]
    assert all(c["parent_span_id"] == gen_span["span_id"] for c in children) and len(children) == 3
    root_span = next(e for e in spans if e["name"] == "root")
    assert agen_span["parent_span_id"] == root_span["span_id"]


def test_exceptions_mark_error_and_propagate_unchanged(mem: InMemorySender) -> None:
    """The original exception reaches the caller; the span has status error and an exception event."""

    class Boom(RuntimeError):
        pass

    @glassbox.tool(name="explode")
    def explode(x: int) -> None:
        raise Boom(f"bad {x}")

    with pytest.raises(Boom, match="bad 7"):
        explode(7)
    span = events(mem)[0]
    assert span["status"] == {"code": "error", "message": "Boom: bad 7"}
    exc = span["events"][0]
    assert exc["name"] == "exception"
    assert exc["attributes"]["exception.type"].endswith("Boom")
    assert exc["attributes"]["exception.message"] == "bad 7"
    assert "raise Boom" in exc["attributes"]["exception.stacktrace"]
    assert span["payload"]["glassbox.tool.error"] == "Boom: bad 7"


def test_context_managers_and_current_span_updates(mem: InMemorySender) -> None:
    """Context managers create spans; update_current_span and scores land on the active span."""
    with glassbox.trace("session-turn", cohort="enterprise") as root:
        with glassbox.generation("answer", model="m1") as gen:
            glassbox.update_current_span(input_tokens=12, output_tokens=3, cost_usd=0.001, prompt_version="7")
            gen.update(metadata={"k": "v"}, unknown_field=1)
            gen.score("thumbs_up", 1.0, "user liked it")
        root.set_output("done")
    spans = by_name(events(mem))
    answer = spans["answer"]
    assert answer["payload"]["gen_ai.usage.input_tokens"] == 12
    assert answer["payload"]["glassbox.usage.cost_usd"] == 0.001
    assert answer["payload"]["glassbox.prompt.version"] == "7"
    assert answer["metadata"] == {"k": "v"}
    assert answer["attributes"] == {"unknown_field": 1}
    assert answer["scores"] == [{"name": "thumbs_up", "value": 1.0, "comment": "user liked it"}]
    assert answer["cohort"] == "enterprise"
    assert spans["session-turn"]["output"] == "done"


def test_capture_can_be_turned_off_per_call_and_globally(mem: InMemorySender) -> None:
    """capture_input/capture_output=False omit values; GLASSBOX_SDK_CAPTURE_IO=false omits them everywhere."""

    @glassbox.span(name="secretive", capture_input=False, capture_output=False)
    def secretive(x: str) -> str:
        return x

    secretive("hidden")
    first = events(mem)[0]
    assert "input" not in first and "output" not in first

    other = InMemorySender()
    glassbox.init(sender=other, capture_io=False)

    @glassbox.span(name="quiet")
    def quiet(x: str) -> str:
        return x

    quiet("hidden")
    assert glassbox.flush(5)
    event = other.events[0]
    assert "input" not in event and "output" not in event


def test_traceparent_carries_a_trace_across_a_process_boundary(mem: InMemorySender) -> None:
    """inject() in one place and attach() in another continue the same trace under the remote parent."""
    with glassbox.trace("client") as client_span:
        headers = glassbox.inject({})
    assert headers["traceparent"] == client_span.traceparent

    with glassbox.attach(headers), glassbox.span("server"):
        pass
    with glassbox.attach("not-a-traceparent"), glassbox.span("orphan"):
        pass
    spans = by_name(events(mem))
    assert spans["server"]["trace_id"] == spans["client"]["trace_id"]
    assert spans["server"]["parent_span_id"] == spans["client"]["span_id"]
    assert spans["orphan"]["trace_id"] != spans["client"]["trace_id"]


def test_ratio_sampling_is_deterministic_and_keeps_erroring_traces() -> None:
    """With sample_rate=0 healthy traces are dropped (counted) while a trace with an error is kept whole."""
    sender = InMemorySender()
    glassbox.init(sender=sender, sample_rate=0.0, always_keep_errors=True)

    @glassbox.span(name="leaf")
    def leaf(fail: bool) -> None:
        if fail:
            raise ValueError("x")

    @glassbox.trace(name="request")
    def request(fail: bool) -> None:
        leaf(False)
        try:
            leaf(fail)
        except ValueError:
            pass

    for _ in range(5):
        request(False)
    request(True)
    assert glassbox.flush(5)
    names = sorted(e["name"] for e in sender.events)
    assert names == ["leaf", "leaf", "request"]
    stats = glassbox.stats()
    assert stats["sampled_out"] == 15 and stats["kept_on_error"] == 3

    from glassbox.common.sampling import keep_trace

    ids = [f"{i:032x}" for i in range(1, 2000)]
    kept = [t for t in ids if keep_trace(f"{int(t, 16) * 0x9E3779B97F4A7C15 % (1 << 128):032x}", 0.25)]
    assert 0.18 < len(kept) / len(ids) < 0.32
    assert kept == [t for t in ids if keep_trace(f"{int(t, 16) * 0x9E3779B97F4A7C15 % (1 << 128):032x}", 0.25)]
    glassbox.shutdown(1)


def test_disabled_sdk_is_a_transparent_no_op() -> None:
    """With enabled=False decorated code runs unchanged and nothing is recorded."""
    sender = InMemorySender()
    glassbox.init(sender=sender, enabled=False)

    @glassbox.tool
    def add(a: int, b: int) -> int:
        return a + b

    with glassbox.span("x") as s:
        s.update(model="m")
    assert add(1, 2) == 3
    assert glassbox.flush(1)
    assert sender.events == []
    glassbox.shutdown(1)
