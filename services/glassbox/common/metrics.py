"""A tiny reporter of a stage's own figures to the pipeline-metrics topic (stored by the sink).

A stage hands the reporter a ``collect()`` function returning its running totals, e.g.
``AssemblerStats.as_dict`` or the evaluator's ``Counter``. Every ``interval_s`` the reporter
publishes one :class:`~glassbox.models.metrics.PipelineMetrics` record:

- numbers become counters, reported as the increase since the previous report of this
  process (names listed in ``gauges`` are reported as they are);
- a nested mapping (``{"by_reason": {"malformed_json": 2}}``) becomes one point per entry,
  labelled ``key=<entry>``;
- booleans, strings and None are ignored.

Publishing never raises into the stage: a failed send is logged (rate-limited) and the
increase is reported with the next record instead. For faust workers,
:func:`attach_faust_reporter` registers the reporter as a timer on the app::

    attach_faust_reporter(app, kafka, "assembler", stats.as_dict, interval_s=pipeline.metrics_interval_s)
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from glassbox.common.logging import RateLimitedLog, get_logger
from glassbox.models.metrics import MetricKind, MetricPoint, PipelineMetrics

log = get_logger(__name__)

Collect = Callable[[], Mapping[str, Any]]
"""Returns the stage's running totals (and gauges)."""
Send = Callable[[bytes, bytes], Awaitable[Any]]
"""Sends (key, value) to the pipeline-metrics topic."""
Lags = Callable[[], Mapping[tuple[str, int], int]]
"""Returns the consumer lag of each assigned (topic, partition)."""

_Key = tuple[str, tuple[tuple[str, str], ...]]


def instance_name() -> str:
    """'host-pid': tells the processes of one stage apart."""
    return f"{socket.gethostname()}-{os.getpid()}"


def flatten(values: Mapping[str, Any]) -> list[tuple[str, dict[str, str], float]]:
    """(name, labels, value) for every number in ``values``; nested mappings give labelled points."""
    out: list[tuple[str, dict[str, str], float]] = []
    for name, value in values.items():
        if isinstance(value, Mapping):
            for key, inner in value.items():
                if _is_number(inner):
                    out.append((name, {"key": str(key)}, float(inner)))
        elif _is_number(value):
            out.append((name, {}, float(value)))
    return out


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class MetricsReporter:
    """Turns ``collect()`` into PipelineMetrics records with counter increases."""

    def __init__(
        self,
        stage: str,
        collect: Collect,
        *,
        gauges: Iterable[str] = (),
        lags: Lags | None = None,
        interval_s: float = 10.0,
        instance: str | None = None,
    ) -> None:
        self.stage = stage
        self.collect = collect
        self.gauges = frozenset(gauges)
        self.lags = lags
        self.interval_s = interval_s
        self.instance = instance or instance_name()
        self.sent = 0
        self.failed = 0
        self._reported: dict[_Key, float] = {}
        self._last = time.time()
        self._warn = RateLimitedLog(log, 60.0)

    def record(self) -> tuple[PipelineMetrics, dict[_Key, float]]:
        """The next record and the totals it accounts for (commit them with :meth:`mark_sent`)."""
        now = time.time()
        points: list[MetricPoint] = []
        totals: dict[_Key, float] = {}
        for name, labels, value in flatten(self.collect()):
            metric = _metric_name(name)
            if name in self.gauges:
                points.append(MetricPoint(name=metric, kind=MetricKind.GAUGE, value=value, labels=labels))
                continue
            key: _Key = (metric, tuple(sorted(labels.items())))
            totals[key] = value
            increase = value - self._reported.get(key, 0.0)
            if increase < 0:  # the stage reset its totals: count from zero again
                increase = value
            points.append(MetricPoint(name=metric, kind=MetricKind.COUNTER, value=increase, labels=labels))
        for (topic, partition), lag in sorted((self.lags() if self.lags else {}).items()):
            labels = {"topic": topic, "partition": str(partition)}
            points.append(MetricPoint(name="consumer_lag", kind=MetricKind.GAUGE, value=float(lag), labels=labels))
        report = PipelineMetrics(
            stage=self.stage,
            instance=self.instance,
            interval_s=max(now - self._last, 0.001),
            recorded_at_unix_nano=time.time_ns(),
            points=points,
        )
        return report, totals

    def mark_sent(self, totals: dict[_Key, float]) -> None:
        self._reported.update(totals)
        self._last = time.time()
        self.sent += 1

    async def publish(self, send: Send) -> PipelineMetrics | None:
        """Build and send one record; None (logged) when it could not be sent. Never raises."""
        try:
            report, totals = self.record()
            await send(self.stage.encode(), report.model_dump_json().encode())
        except Exception as exc:
            self.failed += 1
            self._warn.warning("metrics.publish_failed", stage=self.stage, error=repr(exc)[:300])
            return None
        self.mark_sent(totals)
        return report


def _metric_name(name: str) -> str:
    """A stage's field name as a metric name (lower case, [a-z0-9_.])."""
    cleaned = "".join(c if c.isalnum() or c in "_." else "_" for c in name.lower()).strip("_") or "value"
    return cleaned if cleaned[0].isalpha() else f"m_{cleaned}"


def faust_lags(app: Any, topics: Iterable[str]) -> Lags:
    """Consumer lag of a faust app's assigned partitions of ``topics`` (high watermark − next offset).

    Reads faust's consumer bookkeeping (``highwater`` and the last read offset); partitions not read
    yet are left out, and any failure gives no lags rather than an error.
    """
    wanted = set(topics)

    def lags() -> dict[tuple[str, int], int]:
        try:
            consumer = app.consumer
            read = getattr(consumer, "_read_offset", {})
            out: dict[tuple[str, int], int] = {}
            for tp in consumer.assignment():
                if tp.topic not in wanted:
                    continue
                last = read.get(tp)
                highwater = consumer.highwater(tp)
                if last is not None and highwater is not None:
                    out[(tp.topic, tp.partition)] = max(0, int(highwater) - int(last) - 1)
            return out
        except Exception:
            return {}

    return lags


def attach_faust_reporter(
    app: Any,
    kafka: Any,
    stage: str,
    collect: Collect,
    *,
    interval_s: float,
    gauges: Iterable[str] = (),
    lag_topics: Iterable[str] = (),
) -> MetricsReporter:
    """Register a reporter on a faust app: a timer publishes to the pipeline-metrics topic every ``interval_s``."""
    from glassbox.models.topics import PIPELINE_METRICS

    topic = app.topic(
        PIPELINE_METRICS.full_name(kafka.topic_prefix),
        key_serializer="raw",
        value_serializer="raw",
        partitions=PIPELINE_METRICS.partitions,
    )
    topics = list(lag_topics)
    reporter = MetricsReporter(
        stage, collect, gauges=gauges, lags=faust_lags(app, topics) if topics else None, interval_s=interval_s
    )

    async def send(key: bytes, value: bytes) -> None:
        await topic.send(key=key, value=value, force=True)

    async def tick() -> None:
        await reporter.publish(send)

    app.timer(interval_s, name=f"glassbox-{stage}-metrics")(tick)
    return reporter
