"""The alerts file (deploy/alerts.yaml): threshold rules, contact points and notification policy.

Validated with pydantic; :func:`load_alerts` raises :class:`AlertsConfigError` whose message names
each bad field by its path in the file (``rules[2].group_by[0]: ...``). Durations are written
``30s``, ``5m``, ``1h`` or ``1d``.
"""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from glassbox.alerts.metrics import METRICS

_DURATION = re.compile(r"^(\d+)(s|m|h|d)$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_NAME = r"^[a-z0-9][a-z0-9_-]{0,62}$"
DEFAULT_PATH = Path(__file__).with_name("default_rules.yaml")


class AlertsConfigError(ValueError):
    """The alerts file is invalid; the message names every bad field by its path."""


def duration_s(text: str) -> int:
    """Seconds in '30s', '5m', '1h', '1d'."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"{text!r} is not a duration like 30s, 5m, 1h or 1d")
    return int(match.group(1)) * _UNITS[match.group(2)]


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class NoData(StrEnum):
    """What Grafana reports when the query returns nothing (no traffic, below min_count)."""

    OK = "OK"
    NODATA = "NoData"
    ALERTING = "Alerting"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, use_attribute_docstrings=True)


def _check_duration(value: str) -> str:
    duration_s(value)
    return value


class Defaults(_Strict):
    pending: str = Field("5m", alias="for")
    """How long a rule must fire before Grafana notifies (Grafana's pending period)."""
    severity: Severity = Severity.WARNING
    contact_point: str | None = None
    no_data: NoData = NoData.OK

    @field_validator("pending")
    @classmethod
    def _pending(cls, value: str) -> str:
        return _check_duration(value)


class Rule(_Strict):
    """One threshold rule: ``metric`` over ``window`` compared with ``above`` or ``below``."""

    name: str = Field(pattern=_NAME)
    """Stable identifier (lower case, digits, - and _); Grafana's rule uid derives from it."""
    summary: str = Field(min_length=1, max_length=512)
    metric: str
    window: str = "5m"
    above: float | None = None
    below: float | None = None
    group_by: list[str] = Field(default_factory=list)
    """Dimensions that split the rule into one alert per value (e.g. cohort)."""
    filters: dict[str, str | list[str]] = Field(default_factory=dict)
    """Dimension → value(s) the rule is restricted to."""
    evaluator: str | None = None
    """For evaluation metrics: which evaluator's results (mean_score needs one)."""
    quantile: float | None = Field(None, gt=0, lt=1)
    """For latency metrics: the quantile (default 0.95)."""
    min_count: int | None = Field(None, ge=0)
    """Observations needed before the rule judges (default: 1 for rates, 0 for totals)."""
    pending: str | None = Field(None, alias="for")
    severity: Severity | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    contact_point: str | None = None
    no_data: NoData | None = None
    runbook_url: str | None = None

    @field_validator("window")
    @classmethod
    def _window(cls, value: str) -> str:
        return _check_duration(value)

    @field_validator("pending")
    @classmethod
    def _pending(cls, value: str | None) -> str | None:
        return None if value is None else _check_duration(value)

    @field_validator("metric")
    @classmethod
    def _metric(cls, value: str) -> str:
        if value not in METRICS:
            raise ValueError(f"unknown metric {value!r}; known: {', '.join(sorted(METRICS))}")
        return value

    @field_validator("labels")
    @classmethod
    def _labels(cls, value: dict[str, str]) -> dict[str, str]:
        for key in value:
            if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", key) or key.startswith("__"):
                raise ValueError(f"label name {key!r} must match [A-Za-z_][A-Za-z0-9_]* and not start with __")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Rule:
        if (self.above is None) == (self.below is None):
            raise ValueError("give exactly one of above or below")
        metric = METRICS[self.metric]
        for i, dim in enumerate(self.group_by):
            if dim not in metric.dimensions:
                raise _Located(("group_by", i), f"{dim!r} is not a dimension of {self.metric} "
                                                f"(it has: {', '.join(metric.dimensions)})")  # fmt: skip
        for dim in self.filters:
            if dim not in metric.dimensions:
                raise _Located(("filters", dim), f"{dim!r} is not a dimension of {self.metric} "
                                                 f"(it has: {', '.join(metric.dimensions)})")  # fmt: skip
        if metric.evaluator_param == "required" and not self.evaluator:
            raise _Located(("evaluator",), f"{self.metric} needs the evaluator whose scores it watches")
        if metric.evaluator_param == "none" and self.evaluator:
            raise _Located(("evaluator",), f"{self.metric} is not about evaluators")
        if self.quantile is not None and not metric.quantile:
            raise _Located(("quantile",), f"{self.metric} has no quantile")
        return self

    @property
    def threshold(self) -> float:
        return self.above if self.above is not None else self.below  # type: ignore[return-value]

    @property
    def op(self) -> str:
        return ">" if self.above is not None else "<"

    def fires(self, value: float | None) -> bool:
        """True when ``value`` crosses the threshold (no value never fires)."""
        if value is None or value != value:  # None or NaN
            return False
        return value > self.threshold if self.above is not None else value < self.threshold


class _Located(ValueError):
    """A rule error that belongs to one field of the rule (its path inside the rule)."""

    def __init__(self, path: tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.path = path


class ContactPoint(_Strict):
    name: str = Field(min_length=1, max_length=190)
    type: str = Field(min_length=1)
    """Grafana integration type: email, webhook, slack, pagerduty, opsgenie, teams ..."""
    settings: dict[str, Any] = Field(default_factory=dict)
    disable_resolve_message: bool = False


class Route(_Strict):
    receiver: str
    matchers: dict[str, str] = Field(default_factory=dict)
    """Label → value the alert must carry (equality)."""
    group_by: list[str] | None = None
    continue_matching: bool = Field(False, alias="continue")


class NotificationPolicy(_Strict):
    """Grafana's notification policy tree (replaces the whole tree when set)."""

    receiver: str
    group_by: list[str] = Field(default_factory=lambda: ["grafana_folder", "alertname"])
    group_wait: str = "30s"
    group_interval: str = "5m"
    repeat_interval: str = "4h"
    routes: list[Route] = Field(default_factory=list)


class AlertsFile(_Strict):
    version: int = Field(1, ge=1, le=1)
    rule_group: str = Field("glassbox", min_length=1, max_length=190)
    """Grafana rule group of every rule."""
    evaluation_interval: str = "1m"
    """How often Grafana evaluates the group."""
    defaults: Defaults = Field(default_factory=Defaults)
    contact_points: list[ContactPoint] = Field(default_factory=list)
    notification_policy: NotificationPolicy | None = None
    rules: list[Rule] = Field(default_factory=list)

    @field_validator("evaluation_interval")
    @classmethod
    def _interval(cls, value: str) -> str:
        return _check_duration(value)

    @model_validator(mode="after")
    def _references(self) -> AlertsFile:
        names = [r.name for r in self.rules]
        for i, name in enumerate(names):
            if name in names[:i]:
                raise _Located(("rules", i, "name"), f"duplicate rule name {name!r}")
        known = {c.name for c in self.contact_points}
        for i, rule in enumerate(self.rules):
            point = rule.contact_point or self.defaults.contact_point
            if point and known and point not in known:
                raise _Located(("rules", i, "contact_point"), f"contact point {point!r} is not declared")
        return self

    def pending(self, rule: Rule) -> str:
        return rule.pending or self.defaults.pending

    def severity(self, rule: Rule) -> Severity:
        return rule.severity or self.defaults.severity

    def contact_point(self, rule: Rule) -> str | None:
        return rule.contact_point or self.defaults.contact_point

    def no_data(self, rule: Rule) -> NoData:
        return rule.no_data or self.defaults.no_data


def parse_alerts(doc: Any, source: str = "alerts file") -> AlertsFile:
    """Validate a parsed YAML document."""
    try:
        return AlertsFile.model_validate(doc if doc is not None else {})
    except ValidationError as exc:
        raise AlertsConfigError(_describe(exc, doc, source)) from None


def load_alerts(path: Path | str | None = None) -> AlertsFile:
    """Read and validate an alerts file (default: the rules shipped with Glassbox)."""
    file = Path(path) if path else DEFAULT_PATH
    try:
        doc = yaml.safe_load(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise AlertsConfigError(f"{file}: cannot read: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise AlertsConfigError(f"{file}: not valid YAML: {exc}") from None
    return parse_alerts(doc, str(file))


def _describe(exc: ValidationError, doc: Any, source: str) -> str:
    lines = [f"{source}: invalid alerts configuration:"]
    for err in exc.errors(include_url=False):
        loc: list[str | int] = list(err["loc"])
        message = err["msg"]
        cause = (err.get("ctx") or {}).get("error")
        if isinstance(cause, _Located):
            loc += list(cause.path)
            message = str(cause)
        elif message.startswith("Value error, "):
            message = message.removeprefix("Value error, ")
        lines.append(f"  {_path(loc, doc)}: {message}")
    return "\n".join(lines)


def _path(loc: list[str | int], doc: Any) -> str:
    """``rules[2].group_by[0]`` from pydantic's location; a rule's name is added when the file gives one."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    if len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int) and isinstance(doc, dict):
        rules = doc.get("rules")
        rule = rules[loc[1]] if isinstance(rules, list) and loc[1] < len(rules) else None
        if isinstance(rule, dict) and isinstance(rule.get("name"), str):
            out += f" (rule {rule['name']!r})"
    return out or "(file)"
