"""The LLM judge client and judge evaluators against the fake OpenAI-compatible provider over real HTTP:
verdicts, tokens and cost, retries with Retry-After, timeouts, malformed answers, fallbacks and deadlines."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from glassbox.common.settings import EvaluatorSettings
from glassbox.devtools import FakeLLM, Fault
from glassbox.evaluators.build import build_runner
from glassbox.evaluators.config import JudgeConfig, JudgeModel, parse_config
from glassbox.evaluators.judge.client import JudgeClient, JudgeFailed
from glassbox.evaluators.judge.simulated import simulated_judge
from glassbox.evaluators.judge.verdicts import AnswerRelevanceVerdict
from glassbox.models.evaluation import EvaluationStatus
from tests.support.corpus import build_corpus

GOOD = json.dumps({"relevant": True, "score": 0.9, "reason": "on topic"})
PRICES = {"input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6}


@pytest.fixture(scope="module")
def llm() -> Iterator[FakeLLM]:
    """One fake provider for the module; each test resets it and sets its own rules."""
    with FakeLLM() as server:
        yield server


@pytest.fixture(autouse=True)
def fresh(llm: FakeLLM) -> None:
    llm.reset()
    llm.set_rules([])
    llm.latency = 0.0


class Sleeps:
    """Records the backoff sleeps instead of sleeping them."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def client(llm: FakeLLM, sleeps: Sleeps | None = None, **config: Any) -> JudgeClient:
    options: dict[str, Any] = {
        "model": "openai/fake-judge",
        "api_base": llm.base_url,
        "max_backoff_s": 1.0,
        **PRICES,
        **config,
    }
    return JudgeClient(
        "default",
        JudgeConfig(**options),
        default_model="unused",
        default_api_base=None,
        semaphore=asyncio.Semaphore(4),
        sleep=sleeps or Sleeps(),
        rng=lambda: 1.0,
    )


def judge(c: JudgeClient) -> tuple[AnswerRelevanceVerdict, Any]:
    return asyncio.run(c.judge("<question>\nq\n</question>", AnswerRelevanceVerdict))


def test_a_verdict_comes_back_with_tokens_and_cost(llm: FakeLLM) -> None:
    """A well-formed answer is parsed; tokens and litellm's cost (from the registered price) are reported."""
    llm.add_rule(reply=GOOD, input_tokens=100, output_tokens=20)
    verdict, usage = judge(client(llm))
    assert verdict.relevant and verdict.score == 0.9
    assert (usage.input_tokens, usage.output_tokens, usage.attempts) == (100, 20, 1)
    assert usage.cost_usd == pytest.approx(100 * 1e-6 + 20 * 2e-6)
    assert usage.model == "openai/fake-judge"
    assert llm.last_request("chat").body["response_format"] == {"type": "json_object"}


def test_rate_limit_is_retried_after_the_retry_after_delay(llm: FakeLLM) -> None:
    """A 429 with Retry-After: 3 is retried after at least 3 s (more than the 0.5 s backoff), then succeeds."""
    llm.add_rule(reply=GOOD)
    llm.fail_next(Fault.rate_limit(retry_after=3))
    sleeps = Sleeps()
    _, usage = judge(client(llm, sleeps))
    assert sleeps.waits == [3.0] and usage.attempts == 2 and llm.count("chat") == 2


def test_server_errors_exhaust_the_attempts_into_an_error(llm: FakeLLM) -> None:
    """Three 503s in a row with max_attempts=3 raise JudgeFailed naming the status; backoff grows."""
    llm.fail_next(Fault.server_error(503), times=3)
    sleeps = Sleeps()
    with pytest.raises(JudgeFailed) as info:
        judge(client(llm, sleeps, max_attempts=3))
    assert "after 3 attempt(s)" in info.value.reason and "HTTP 503" in info.value.reason
    assert sleeps.waits == [0.5, 1.0] and llm.count("chat") == 3


def test_a_hanging_judge_times_out_and_is_retried(llm: FakeLLM) -> None:
    """A provider that never answers is cut at timeout_s on each attempt; the failure is an error, fast."""
    llm.fail_next(Fault.hang(10), times=2)
    started = time.monotonic()
    with pytest.raises(JudgeFailed) as info:
        judge(client(llm, timeout_s=0.5, max_attempts=2))
    assert time.monotonic() - started < 5
    assert "HTTP 408" in info.value.reason and info.value.usage.attempts == 2


@pytest.mark.parametrize("fault", [Fault.malformed(), Fault.truncated()], ids=["malformed-body", "truncated-body"])
def test_a_broken_response_body_is_retried(llm: FakeLLM, fault: Fault) -> None:
    """A cut JSON body or a body cut mid-transfer is retried, and the next good answer wins."""
    llm.add_rule(reply=GOOD)
    llm.fail_next(fault)
    verdict, usage = judge(client(llm))
    assert verdict.relevant and usage.attempts == 2


def test_a_reply_that_is_not_the_verdict_becomes_an_error_never_a_score(llm: FakeLLM) -> None:
    """Prose instead of JSON is retried, then recorded as an error; the tokens of every attempt are counted."""
    llm.add_rule(reply="The answer looks relevant to me.", input_tokens=50, output_tokens=10)
    with pytest.raises(JudgeFailed) as info:
        judge(client(llm, max_attempts=2))
    assert "reply is not JSON" in info.value.reason
    assert info.value.usage.input_tokens == 100 and info.value.usage.cost_usd > 0


def test_a_verdict_missing_fields_is_malformed(llm: FakeLLM) -> None:
    """JSON without the required fields fails validation and is retried; a fenced good verdict then passes."""
    llm.add_rule(reply='{"relevant": true}', times=1)
    llm.add_rule(reply=f"```json\n{GOOD}\n```")
    verdict, usage = judge(client(llm))
    assert verdict.score == 0.9 and usage.attempts == 2


def test_the_fallback_model_answers_when_the_primary_fails(llm: FakeLLM) -> None:
    """With the primary model always failing, the litellm Router's fallback model answers."""
    llm.add_rule(model="fake-judge", fault=Fault.server_error(500))
    llm.add_rule(model="fake-backup", reply=GOOD)
    fallback = JudgeModel(model="openai/fake-backup", api_base=llm.base_url)
    verdict, usage = judge(client(llm, fallbacks=[fallback]))
    assert verdict.relevant and usage.model == "openai/fake-backup"
    assert llm.count("chat", model="fake-judge") == 1 and llm.count("chat", model="fake-backup") == 1


def test_a_client_error_is_not_retried(llm: FakeLLM) -> None:
    """A 400 is final: one call, an error."""
    llm.add_rule(fault=Fault("status", 400, message="bad request"))
    with pytest.raises(JudgeFailed) as info:
        judge(client(llm))
    assert "HTTP 400" in info.value.reason and llm.count("chat") == 1


def test_a_retry_after_beyond_the_deadline_gives_up_at_once(llm: FakeLLM) -> None:
    """Retry-After: 600 with a 60 s deadline stops retrying instead of waiting."""
    llm.fail_next(Fault.rate_limit(retry_after=600))
    sleeps = Sleeps()
    with pytest.raises(JudgeFailed) as info:
        judge(client(llm, sleeps, deadline_s=60))
    assert "deadline" in info.value.reason and sleeps.waits == []


def test_a_judge_without_its_key_is_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    """A judge whose key variable is unset (and no api_base) is unavailable, saying which variable."""
    monkeypatch.delenv("GLASSBOX_TEST_KEY", raising=False)
    c = JudgeClient(
        "j",
        JudgeConfig(api_key_env="GLASSBOX_TEST_KEY"),
        default_model="openai/gpt-4o-mini",
        default_api_base=None,
        semaphore=asyncio.Semaphore(1),
    )
    assert c.unavailable == "judge 'j' is not configured: environment variable GLASSBOX_TEST_KEY is not set"


def judge_runner(llm: FakeLLM, evaluators: list[str], judges: dict[str, Any] | None = None) -> Any:
    config = parse_config(
        {
            "judges": judges or {"default": {"model": "openai/fake-judge", "api_base": llm.base_url, **PRICES}},
            "bindings": [{"name": "all", "evaluators": evaluators}],
        }
    )
    runner, _ = build_runner(config, EvaluatorSettings())
    return runner


def test_faithfulness_lists_unsupported_claims_with_the_judgement_cost(llm: FakeLLM) -> None:
    """On a hallucinated answer, faithfulness fails as hallucination, lists the invented claim, and records the
    judge model, tokens, cost and latency; the evaluator version includes the prompt version."""
    llm.add_rule(reply=simulated_judge)
    trace = next(t.trace for t in build_corpus() if t.scenario == "rag_hallucination")
    (result,) = asyncio.run(judge_runner(llm, ["faithfulness"]).evaluate(trace, ["faithfulness"]))
    assert result.status is EvaluationStatus.FAILED and result.failure_category == "hallucination"
    assert result.score == 0.5 and len(result.evidence["unsupported_claims"]) == 1
    assert result.evidence["unsupported_claims"][0] in trace.output["answer"]
    assert result.judge_model == "openai/fake-judge" and result.judge_cost_usd > 0 and result.judge_input_tokens > 0
    assert result.latency_ms > 0 and result.evaluator_version == "1+v1"


def test_every_judge_evaluator_produces_a_verdict(llm: FakeLLM) -> None:
    """Answer relevance, context relevance, instruction adherence and tool choice each reach a verdict
    (passed or failed, never error) on the traces they apply to, and publish nothing on the others."""
    llm.add_rule(reply=simulated_judge)
    corpus = build_corpus()
    rag = next(t.trace for t in corpus if t.scenario == "rag_healthy")
    agent = next(t.trace for t in corpus if t.scenario == "tool_unhandled")
    names = ["answer_relevance", "context_relevance", "instruction_adherence", "tool_choice"]
    runner = judge_runner(llm, names)
    on_rag = {r.evaluator: r for r in asyncio.run(runner.evaluate(rag, names))}
    on_agent = {r.evaluator: r for r in asyncio.run(runner.evaluate(agent, names))}
    assert on_rag["context_relevance"].status is EvaluationStatus.PASSED
    assert on_rag["instruction_adherence"].status is EvaluationStatus.PASSED
    assert "tool_choice" not in on_rag
    assert on_rag["answer_relevance"].status in (EvaluationStatus.PASSED, EvaluationStatus.FAILED)
    assert on_rag["answer_relevance"].score is not None
    assert on_agent["tool_choice"].status is EvaluationStatus.FAILED
    assert on_agent["tool_choice"].failure_category == "tool_error"


def test_a_refusal_is_left_to_the_retrieval_rules_and_costs_no_judge_call(llm: FakeLLM) -> None:
    """ "I don't know" is not judged off-topic (instruction drift): refusal_with_context files it under
    retrieval_failure when the documents were there; answer relevance publishes nothing and calls no judge."""
    llm.add_rule(reply=simulated_judge)
    refusal = next(t.trace for t in build_corpus() if t.scenario == "rag_refusal")
    names = ["answer_relevance", "refusal_with_context"]
    results = {r.evaluator: r for r in asyncio.run(judge_runner(llm, names).evaluate(refusal, names))}
    assert "answer_relevance" not in results and llm.count() == 0
    assert results["refusal_with_context"].failure_category == "retrieval_failure"


def test_a_judge_outage_is_an_error_result_without_score(llm: FakeLLM) -> None:
    """Every call failing with 500 gives status error, no score, the reason, and the attempts' zero cost."""
    llm.add_rule(fault=Fault.server_error(500))
    judges = {
        "default": {
            "model": "openai/fake-judge",
            "api_base": llm.base_url,
            "max_attempts": 2,
            "max_backoff_s": 0.01,
            **PRICES,
        }
    }
    trace = next(t.trace for t in build_corpus() if t.scenario == "rag_healthy")
    (result,) = asyncio.run(judge_runner(llm, ["faithfulness"], judges).evaluate(trace, ["faithfulness"]))
    assert result.status is EvaluationStatus.ERROR and result.score is None and result.failure_category is None
    assert "HTTP 500" in result.reason and result.judge_cost_usd == 0


def test_budget_refusals_become_skipped_results(llm: FakeLLM) -> None:
    """With a zero daily budget, the judge is never called and the result is skipped with the reason."""
    llm.add_rule(reply=simulated_judge)
    config = parse_config(
        {
            "judges": {"default": {"model": "openai/fake-judge", "api_base": llm.base_url, **PRICES}},
            "evaluators": {"faithfulness": {"type": "faithfulness", "budget_usd_per_day": 0}},
            "bindings": [{"name": "all", "evaluators": ["faithfulness"]}],
        }
    )
    refused: list[tuple[str, str]] = []
    runner, _ = build_runner(config, EvaluatorSettings(), on_refused=lambda e, r: refused.append((e, r)))
    trace = next(t.trace for t in build_corpus() if t.scenario == "rag_healthy")
    (result,) = asyncio.run(runner.evaluate(trace, ["faithfulness"]))
    assert result.status is EvaluationStatus.SKIPPED and result.reason.startswith("daily budget of $0 exhausted")
    assert refused == [("faithfulness", result.reason)] and llm.count("chat") == 0
