"""`glassbox replay` against a fake provider: the stored generation re-sent with a model override, traced anew."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import glassbox as gb
from glassbox.common.clickhouse import Client
from glassbox.common.settings import ClickHouseSettings
from glassbox.datasets.backend import Backend, direct
from glassbox.datasets.capture import assemble_events, capturing_client, litellm_captured
from glassbox.datasets.trace_writer import TraceWriter
from glassbox.devtools import FakeLLM, Rule
from tests.support.fake_llm import litellm_module_fixture  # noqa: F401

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")
MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Capital of France?"}]


@pytest.fixture
def llm() -> Iterator[FakeLLM]:
    rules = [
        Rule(model="fake-large", reply="Paris, the capital of France.", name="large"),
        Rule(model="fake-small", reply="Lyon.", name="small"),
    ]
    with FakeLLM(rules) as server:
        yield server


@pytest.fixture
def backend(
    migrated: Client, ch_settings: ClickHouseSettings, chdb_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Backend:
    monkeypatch.setenv("GLASSBOX_CLICKHOUSE_URL", f"chdb://{chdb_path}")
    monkeypatch.setenv("GLASSBOX_CLICKHOUSE_DATABASE", ch_settings.database)
    monkeypatch.delenv("GLASSBOX_KAFKA_BOOTSTRAP_SERVERS", raising=False)
    return direct(migrated, ch_settings)


def production_call(backend: Backend, llm: FakeLLM, litellm: Any) -> str:
    """A traced app call (fake-small, temperature 0.7, max_tokens 20), stored as the pipeline would; its trace id."""
    with capturing_client(None, service_name="geo-bot") as capture, litellm_captured():
        with gb.trace("ask") as root:
            litellm.completion(
                model="openai/fake-small",
                messages=MESSAGES,
                api_base=llm.base_url,
                api_key="x",
                temperature=0.7,
                max_tokens=20,
                num_retries=0,
            )
        gb.flush(10)
        trace = assemble_events(capture.take(root.trace_id_hex))
    assert trace is not None
    TraceWriter(backend).store(trace, [])
    return trace.trace_id


def test_replay_resends_the_exact_messages_with_a_model_override(
    backend: Backend, llm: FakeLLM, litellm_module: Any
) -> None:
    """The replay sends the same messages and parameters to the overriding model, shows both outputs, and is
    stored as a new trace tagged replay_of:<trace id> whose generation used the new model."""
    from glassbox.cli.main import _register, app

    trace_id = production_call(backend, llm, litellm_module)
    _register()
    result = CliRunner().invoke(
        app, ["replay", trace_id[:12], "--model", "openai/fake-large", "--api-base", llm.base_url, "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["original"]["output"] == "Lyon." and doc["original"]["model"] == "openai/fake-small"
    assert doc["replay"]["output"] == "Paris, the capital of France."
    assert doc["replay"]["notes"] == ["model openai/fake-small → openai/fake-large"]
    sent = [r.body for r in llm.requests if r.model == "fake-large"]
    assert len(sent) == 1
    assert sent[0]["messages"] == MESSAGES and (sent[0]["temperature"], sent[0]["max_tokens"]) == (0.7, 20)
    db = backend.database
    new_id = doc["replay"]["trace_id"]
    rows = backend.rows(f"SELECT Name, Tags FROM {db}.traces FINAL WHERE TraceId = {{t:String}}", {"t": new_id})
    assert rows == [{"Name": "replay", "Tags": [f"replay_of:{trace_id}"]}]
    models = backend.rows(
        f"SELECT Model FROM {db}.spans FINAL WHERE TraceId = {{t:String}} AND Kind = 'generation'", {"t": new_id}
    )
    assert models == [{"Model": "fake-large"}]


def test_replay_of_a_trace_without_generations_says_so(backend: Backend) -> None:
    """A trace with no generation span cannot be replayed: exit 2 with the reason."""
    from glassbox.cli.main import _register, app

    with capturing_client(None) as capture:
        with gb.trace("no-llm") as root:
            pass
        gb.flush(5)
        trace = assemble_events(capture.take(root.trace_id_hex))
    assert trace is not None
    TraceWriter(backend).store(trace, [])
    _register()
    result = CliRunner().invoke(app, ["replay", trace.trace_id])
    assert result.exit_code == 2 and "has no generation span to replay" in result.output
