"""Dataset values without an engine: deterministic ids, references, JSONL lines, table rows."""

from __future__ import annotations

import io

import pytest

from glassbox.datasets.jsonl import JsonlError, read_items, write_items
from glassbox.datasets.models import (
    DatasetItem,
    EvaluatorScore,
    Experiment,
    ItemResult,
    experiment_id_for,
    item_id_for,
    split_ref,
)
from glassbox.datasets.tables import (
    COLUMNS,
    experiment_from_row,
    experiment_row,
    item_from_row,
    item_row,
    result_from_row,
    result_row,
)


def test_item_id_depends_on_input_and_context_only_and_ignores_key_order() -> None:
    """The same case (input and context, whatever the key order) always gets the same id; another case another."""
    a = item_id_for({"question": "q", "lang": "en"}, [{"id": "d1"}])
    assert a == item_id_for({"lang": "en", "question": "q"}, [{"id": "d1"}])
    assert a.startswith("item-") and len(a) == 21
    assert a != item_id_for({"question": "q", "lang": "en"}, None)
    assert a != item_id_for({"question": "other", "lang": "en"}, [{"id": "d1"}])


def test_experiment_id_is_deterministic_and_names_what_ran() -> None:
    """Same dataset@version, target, prompt, evaluators (in any order) and name → same id; any change → another."""
    base = experiment_id_for("golden", 3, "app:answer", "p@2", ["b", "a"], "run")
    assert base == experiment_id_for("golden", 3, "app:answer", "p@2", ["a", "b"], "run")
    changed = [
        experiment_id_for("golden", 4, "app:answer", "p@2", ["a", "b"], "run"),
        experiment_id_for("golden", 3, "app:other", "p@2", ["a", "b"], "run"),
        experiment_id_for("golden", 3, "app:answer", "p@3", ["a", "b"], "run"),
        experiment_id_for("golden", 3, "app:answer", "p@2", ["a"], "run"),
        experiment_id_for("golden", 3, "app:answer", "p@2", ["a", "b"], "other"),
    ]
    assert base not in changed and len(set(changed)) == 5


@pytest.mark.parametrize(
    ("ref", "expected"),
    [("golden", ("golden", None)), ("golden@latest", ("golden", None)), ("golden@7", ("golden", 7))],
)
def test_dataset_references_parse_into_name_and_version(ref: str, expected: tuple[str, int | None]) -> None:
    """NAME, NAME@latest and NAME@N are the accepted forms."""
    assert split_ref(ref, "dataset") == expected


@pytest.mark.parametrize("ref", ["golden@0", "golden@x", "bad name", "@3", "a/b"])
def test_bad_dataset_references_are_refused_with_a_reason(ref: str) -> None:
    """Version 0, non-numeric versions and names with other characters are refused."""
    with pytest.raises(ValueError, match="invalid dataset"):
        split_ref(ref, "dataset")


def test_jsonl_export_then_import_gives_the_same_items() -> None:
    """write_items then read_items keeps ids, inputs, contexts, expected outputs, tags, metadata and sources."""
    items = [
        DatasetItem(
            item_id="item-1",
            input={"question": "q1"},
            context=[{"id": "d", "content": "c"}],
            expected="a1",
            source_trace_id="ab" * 16,
            tags=["failure:hallucination"],
            metadata={"source": {"service": "bot"}},
        ),
        DatasetItem(item_id="item-2", input="plain text", expected=None),
    ]
    out = io.StringIO()
    assert write_items(out, items, "golden", 2) == 2
    back = read_items(out.getvalue().splitlines())
    assert [i.model_dump(exclude={"created_at_ms"}) for i in back] == [
        i.model_dump(exclude={"created_at_ms"}) for i in items
    ]


def test_jsonl_minimal_lines_get_hash_ids_and_bad_lines_name_their_number() -> None:
    """{"input": ...} is enough (the id is the hash); a line without input fails naming line 3 and the field."""
    items = read_items(['{"input": {"q": 1}}', "", '{"input": "x", "expected": "y", "tags": ["t"]}'])
    assert [i.item_id for i in items] == [item_id_for({"q": 1}), item_id_for("x")]
    with pytest.raises(JsonlError, match=r"f.jsonl:3: input: Field required"):
        read_items(['{"input": 1}', "", '{"expected": "y"}'], "f.jsonl")
    with pytest.raises(JsonlError, match=r":1: .*Invalid JSON"):
        read_items(["{not json"])


def test_rows_round_trip_through_their_columns() -> None:
    """Item, experiment and result rows have exactly their table's columns and convert back unchanged."""
    item = DatasetItem(
        item_id="i",
        input={"a": 1},
        context=None,
        expected=[1, 2],
        tags=["x"],
        metadata={"k": "v"},
        created_at_ms=1_700_000_000_000,
    )
    row = item_row("golden", 2, item, 1_700_000_000_500)
    assert tuple(row) == COLUMNS["dataset_items"]
    assert item_from_row(row) == item
    exp = Experiment(
        experiment_id="exp-1",
        dataset="golden",
        dataset_version=2,
        target="m:f",
        evaluators=["e"],
        parameters={"concurrency": 2},
        status="finished",
        item_count=3,
        started_at_ms=5,
    )
    erow = experiment_row(exp, 9)
    assert tuple(erow) == COLUMNS["experiments"] and experiment_from_row(erow) == exp
    scores = [
        EvaluatorScore(evaluator="e", status="failed", score=0.2, category="hallucination"),
        EvaluatorScore(evaluator="s", status="skipped"),
    ]
    result = ItemResult(
        experiment_id="exp-1", item_id="i", trace_id="t", output={"x": 1}, latency_ms=1.5, evaluations=scores
    )
    rrow = result_row(result)
    assert tuple(rrow) == COLUMNS["experiment_items"]
    assert (rrow["Passed"], rrow["Scores"], rrow["FailureCategories"]) == (False, {"e": 0.2}, ["hallucination"])
    assert result_from_row(rrow) == result


def test_an_item_passes_only_when_the_call_worked_and_no_evaluator_failed() -> None:
    """Skipped and errored evaluators do not fail an item; a failed one or a raised call does."""
    ok = [EvaluatorScore(evaluator="a", status="passed", score=1.0), EvaluatorScore(evaluator="b", status="error")]
    assert ItemResult(experiment_id="e", item_id="i", evaluations=ok).passed
    bad = [*ok, EvaluatorScore(evaluator="c", status="failed", score=0.0)]
    assert not ItemResult(experiment_id="e", item_id="i", evaluations=bad).passed
    assert not ItemResult(experiment_id="e", item_id="i", status="error", error="boom").passed
