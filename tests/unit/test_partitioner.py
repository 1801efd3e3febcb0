"""The faust producers' partitioner: aiokafka's default placement, with the trace-id hash cached."""

from __future__ import annotations

import os

from aiokafka.partitioner import DefaultPartitioner
from hypothesis import given
from hypothesis import strategies as st

from glassbox.common.faust_app import cached_partitioner, create_app, partition_for
from glassbox.common.settings import KafkaSettings, PipelineSettings


@given(key=st.binary(min_size=0, max_size=64), count=st.integers(min_value=1, max_value=64))
def test_a_key_goes_where_the_default_partitioner_puts_it(key: bytes, count: int) -> None:
    partitions = list(range(count))
    assert cached_partitioner(key, partitions, partitions) == DefaultPartitioner()(key, partitions, partitions)


def test_trace_ids_land_where_partition_for_says_and_where_aiokafka_would() -> None:
    default = DefaultPartitioner()
    keys = [os.urandom(16).hex().encode() for _ in range(500)]
    placed = [cached_partitioner(k, [0, 1, 2, 3, 4, 5], [0, 1, 2, 3, 4, 5]) for k in keys]
    assert placed == [default(k, [0, 1, 2, 3, 4, 5], []) for k in keys]
    assert placed == [partition_for(k, 6) for k in keys]
    assert set(placed) == set(range(6)), "500 random trace ids spread over every partition"


def test_a_record_without_a_key_goes_to_an_available_partition() -> None:
    picked = {cached_partitioner(None, [0, 1, 2, 3], [1, 3]) for _ in range(200)}
    assert picked == {1, 3}
    assert {cached_partitioner(None, [0, 1], []) for _ in range(200)} == {0, 1}, "none available: any of them"


def test_the_faust_producer_uses_it() -> None:
    app = create_app("partitioner-test", KafkaSettings(bootstrap_servers="127.0.0.1:1"), PipelineSettings())
    assert app.conf.producer_partitioner is cached_partitioner
    assert app.producer.partitioner is cached_partitioner
