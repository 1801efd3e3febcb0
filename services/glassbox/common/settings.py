"""Typed configuration, declared once.

Every setting has a type, a default, an environment variable and a description.
Each section is its own ``BaseSettings`` class with its own prefix, so a process
reads only what it needs (the SDK never touches ClickHouse settings) and the
environment names stay flat (``GLASSBOX_KAFKA_BOOTSTRAP_SERVERS``).

Invalid values fail at start-up with :class:`ConfigError`, whose message names
the environment variable and what is wrong with it.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ConfigError(ValueError):
    """A setting has an invalid value; the message names the environment variable."""


class DropPolicy(StrEnum):
    """What the SDK drops when its buffer is full."""

    DROP_NEWEST = "drop_newest"
    DROP_OLDEST = "drop_oldest"


class Compression(StrEnum):
    GZIP = "gzip"
    LZ4 = "lz4"
    ZSTD = "zstd"
    NONE = "none"


def _section(prefix: str) -> SettingsConfigDict:
    return SettingsConfigDict(
        env_prefix=prefix,
        extra="ignore",
        validate_default=True,
        use_attribute_docstrings=True,
        env_ignore_empty=True,
    )


class KafkaSettings(BaseSettings):
    """Kafka connection, shared by the SDK producer and every stream processor."""

    model_config = _section("GLASSBOX_KAFKA_")

    bootstrap_servers: str = "127.0.0.1:9092"
    """Comma-separated host:port list of Kafka brokers."""
    security_protocol: str = "PLAINTEXT"
    """PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL."""
    sasl_mechanism: str | None = None
    """PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER when SASL is used."""
    sasl_username: str | None = None
    """SASL user name."""
    sasl_password: str | None = None
    """SASL password."""
    ssl_cafile: Path | None = None
    """CA bundle used to verify the brokers' certificates."""
    ssl_certfile: Path | None = None
    """Client certificate for mutual TLS."""
    ssl_keyfile: Path | None = None
    """Client private key for mutual TLS."""
    client_id: str = "glassbox"
    """Client id reported to the brokers."""
    topic_prefix: str = ""
    """Prefix put in front of every topic name (for shared clusters)."""
    fetch_max_wait_ms: int = Field(100, ge=1, le=30_000)
    """Longest a consumer's fetch may wait at the broker for data. Tansu holds it this long even when data arrives."""

    @field_validator("security_protocol")
    @classmethod
    def _protocol(cls, value: str) -> str:
        allowed = {"PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"}
        if value.upper() not in allowed:
            raise ValueError(f"must be one of {sorted(allowed)}")
        return value.upper()

    @model_validator(mode="after")
    def _sasl_complete(self) -> KafkaSettings:
        if self.security_protocol.startswith("SASL") and not self.sasl_mechanism:
            raise ValueError("sasl_mechanism is required when security_protocol is SASL_*")
        return self

    @property
    def servers(self) -> list[str]:
        return [s.strip() for s in self.bootstrap_servers.split(",") if s.strip()]

    def kafka_python_options(self) -> dict[str, Any]:
        """Security options in kafka-python's spelling."""
        opts: dict[str, Any] = {"security_protocol": self.security_protocol, "client_id": self.client_id}
        if self.sasl_mechanism:
            opts["sasl_mechanism"] = self.sasl_mechanism
            opts["sasl_plain_username"] = self.sasl_username
            opts["sasl_plain_password"] = self.sasl_password
        for name in ("ssl_cafile", "ssl_certfile", "ssl_keyfile"):
            value = getattr(self, name)
            if value is not None:
                opts[name] = str(value)
        return opts


class SdkSettings(BaseSettings):
    """The tracing SDK inside instrumented applications."""

    model_config = _section("GLASSBOX_SDK_")

    enabled: bool = True
    """Master switch; when false the decorators are no-ops and nothing is exported."""
    service_name: str = "unknown_service"
    """service.name resource attribute of every span."""
    environment: str = "development"
    """deployment.environment.name resource attribute."""
    release: str | None = None
    """service.version resource attribute (a release tag or git sha)."""
    sample_rate: float = Field(1.0, ge=0.0, le=1.0)
    """Head-sampling ratio decided from the trace id (1.0 keeps everything)."""
    always_keep_errors: bool = True
    """Export traces with an error span even when the ratio sampler dropped them."""
    capture_io: bool = True
    """Capture function inputs and outputs (can be overridden per decorator)."""
    max_queue_spans: int = Field(20_000, ge=1)
    """Bound of the in-memory buffer between the app and the exporter thread."""
    drop_policy: DropPolicy = DropPolicy.DROP_NEWEST
    """What is dropped when the buffer is full: the new span, or the oldest queued one."""
    export_batch_spans: int = Field(512, ge=1)
    """The exporter thread wakes up early when this many spans are queued."""
    export_interval_ms: int = Field(200, ge=1)
    """The exporter thread sends what is queued at least this often."""
    max_value_bytes: int = Field(32_768, ge=64)
    """Cap in bytes on one captured value (input, output, message, attribute); longer ones are cut with a marker."""
    max_attributes: int = Field(128, ge=1)
    """Cap on attributes per span; extra ones are counted in dropped_attributes_count."""
    max_depth: int = Field(20, ge=1)
    """Deepest nesting kept when capturing values; deeper parts become a marker."""
    compression: Compression = Compression.GZIP
    """Producer compression. gzip is readable by every consumer; lz4 and zstd need cramjam on the consumers."""
    linger_ms: int = Field(20, ge=0)
    """kafka-python linger.ms: how long the producer waits to fill a batch."""
    max_block_ms: int = Field(2_000, ge=0)
    """Longest the exporter thread waits for broker metadata before counting a batch as dropped."""
    delivery_timeout_ms: int = Field(30_000, ge=1)
    """How long kafka-python keeps retrying a message before it is reported undeliverable."""
    buffer_memory_bytes: int = Field(32 * 1024 * 1024, ge=1024 * 1024)
    """Bytes sent to the broker but not yet acknowledged; above it spans wait in the SDK's buffer."""
    shutdown_timeout_s: float = Field(5.0, ge=0.0)
    """How long the atexit hook waits for queued spans to be delivered."""
    redact_builtin: str = "email,phone,card,secret"
    """Comma-separated built-in redactors applied to every captured value (empty to disable)."""
    redact_fields: str = ""
    """Comma-separated field or key names whose values are replaced entirely (e.g. password,ssn)."""
    drop_warning_interval_s: float = Field(10.0, gt=0)
    """At most one 'spans dropped' warning per this many seconds."""

    @model_validator(mode="after")
    def _timeouts(self) -> SdkSettings:
        if self.delivery_timeout_ms <= self.linger_ms + 500:
            raise ValueError("GLASSBOX_SDK_DELIVERY_TIMEOUT_MS must exceed GLASSBOX_SDK_LINGER_MS by more than 500 ms")
        return self


class ClickHouseSettings(BaseSettings):
    """Storage. One URL picks the backend: http(s)://host:port for a server, chdb:///path for the embedded engine."""

    model_config = _section("GLASSBOX_CLICKHOUSE_")

    url: str = "http://127.0.0.1:8123"
    """http(s)://host:port for a ClickHouse server, chdb:///absolute/path for the embedded engine."""
    database: str = "glassbox"
    """Database holding Glassbox's tables."""
    username: str = "default"
    """User for writes (sink, migrations) on a server."""
    password: str = ""
    """Password of that user."""
    read_username: str | None = None
    """Read-only user for the CLI's queries (defaults to username)."""
    read_password: str | None = None
    """Password of the read-only user."""
    verify_tls: bool = True
    """Verify the server certificate for https URLs."""
    ca_cert: Path | None = None
    """CA bundle for https URLs."""
    retention_days: int = Field(30, ge=1)
    """TTL of spans, traces and evaluations."""
    dead_letter_retention_days: int = Field(90, ge=1)
    """TTL of dead letters."""

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if value.startswith("chdb://"):
            if not (value == "chdb://memory" or value.startswith("chdb:///")):
                raise ValueError("chdb URLs must be chdb:///absolute/path (or chdb://memory)")
            return value
        if value.startswith(("http://", "https://")):
            return value
        raise ValueError("must start with http://, https:// or chdb:///")

    @property
    def is_embedded(self) -> bool:
        return self.url.startswith("chdb://")

    @property
    def chdb_path(self) -> Path | None:
        if self.url.startswith("chdb:///"):
            return Path(self.url[len("chdb://") :])
        return None


class PipelineSettings(BaseSettings):
    """Stream processors: assembler, sink and their batching."""

    model_config = _section("GLASSBOX_PIPELINE_")

    spans_partitions: int = Field(6, ge=1)
    """Partitions of the spans topic (and of every topic keyed by trace id)."""
    replication_factor: int = Field(1, ge=1)
    """Replication factor for topics created by `glassbox topics`."""
    trace_grace_s: float = Field(2.0, ge=0.0)
    """A trace is complete when its root span ended and no span arrived for this long."""
    trace_inactivity_timeout_s: float = Field(300.0, gt=0.0)
    """A trace without an ended root is emitted as incomplete after this long without spans."""
    late_span_window_s: float = Field(600.0, ge=0.0)
    """How long an emitted trace is kept so late spans produce a new version of it."""
    assembler_batch: int = Field(2_000, ge=1)
    """Messages the assembler takes from the stream at once."""
    assembler_batch_within_s: float = Field(0.2, gt=0.0)
    """Longest the assembler waits to fill a batch."""
    assembler_checkpoint_s: float = Field(10.0, gt=0.0)
    """Longest an open trace lives only in memory (offsets uncommitted, a restart re-reads it) before a checkpoint."""
    max_message_bytes: int = Field(4 * 1024 * 1024, ge=1024)
    """Messages larger than this are dead-lettered unread."""
    max_trace_message_bytes: int = Field(900_000, ge=10_000)
    """Assembled traces above this size carry truncated span payloads."""
    sink_batch_rows: int = Field(20_000, ge=1)
    """The sink inserts when this many rows are pending for a table..."""
    sink_batch_seconds: float = Field(1.0, gt=0.0)
    """...or when the oldest pending row is this old, less the time the table's recent writes took (at most half)."""
    sink_max_backoff_s: float = Field(30.0, gt=0.0)
    """Longest pause between retries while ClickHouse is unavailable."""
    assembler_group: str = "glassbox-assembler"
    """Consumer group (faust app id) of the assembler."""
    sink_group: str = "glassbox-sink"
    """Consumer group of the sink."""
    session_timeout_s: float = Field(30.0, gt=0.0)
    """Consumer group session timeout: how soon a dead worker's partitions move to another."""
    metrics_interval_s: float = Field(10.0, gt=0.0)
    """How often each stage reports its own figures (throughput, lag, batch latency) to pipeline_metrics."""


class EmbeddedSettings(BaseSettings):
    """The one-machine stack started by `glassbox up` and `glassbox demo`."""

    model_config = _section("GLASSBOX_EMBEDDED_")

    data_dir: Path = Path(".glassbox")
    """Directory holding the embedded ClickHouse data, the lock file and logs."""
    kafka_port: int = Field(0, ge=0, le=65535)
    """Loopback port of the embedded broker (0 picks a free one)."""
    query_port: int = Field(0, ge=0, le=65535)
    """Loopback port of the read-only ClickHouse HTTP endpoint (0 picks a free one)."""


class EvaluatorSettings(BaseSettings):
    """The evaluator workers: sampler and evaluator agents, LLM judges."""

    model_config = _section("GLASSBOX_EVAL_")

    config: Path | None = None
    """Evaluator bindings file (YAML); unset: the default shipped with the package (deploy/evaluators.yaml)."""
    group: str = "glassbox-evaluator"
    """Consumer group (faust app id) of `glassbox evaluator`."""
    judge_model: str = "openai/gpt-4o-mini"
    """litellm model of judges that name none."""
    judge_api_base: str | None = None
    """API base of judges that name none (an OpenAI-compatible or self-hosted server)."""
    judge_concurrency: int = Field(8, ge=1, le=1024)
    """LLM judge calls in flight at once per worker, across all judges."""
    max_inflight: int = Field(1000, ge=1)
    """Evaluation requests in flight at once (their judges running or waiting for a slot); above it the
    worker stops fetching requests until some finish. Delayed requests wait parked, outside this bound."""
    sampler_batch: int = Field(1000, ge=1)
    """Traces the sampler takes from the stream at once."""
    batch_within_s: float = Field(0.2, gt=0.0)
    """Longest the agents wait to fill a batch."""
    done_ttl_s: float = Field(86_400.0, gt=0.0)
    """How long finished evaluation ids are remembered (a replay within it calls no judge again)."""
    skip_log_interval_s: float = Field(10.0, gt=0.0)
    """At most one log line per this many seconds about skipped (budget, rate limit) evaluations."""
    keep_not_applicable: bool = False
    """Also publish 'skipped' results of evaluators that found nothing to evaluate (no JSON asked for,
    no tool calls ...); by default only budget, rate-limit and configuration skips are stored."""
    judge_api_key_env: str | None = "OPENAI_API_KEY"
    """Environment variable holding the API key of judges that name none (not needed with an api_base)."""


class GrafanaSettings(BaseSettings):
    """The Grafana that `glassbox alerts sync` writes alert rules (and folder, contact points, policy) to."""

    model_config = _section("GLASSBOX_GRAFANA_")

    url: str = "http://127.0.0.1:3000"
    """Base URL of Grafana (a sub-path such as https://example.com/grafana works)."""
    token: str | None = None
    """Service account token (preferred over user and password)."""
    user: str | None = None
    """Basic-auth user when no token is set."""
    password: str | None = None
    """Basic-auth password."""
    org_id: int = Field(1, ge=1)
    """Organization the folder, rules and contact points belong to."""
    folder: str = "Glassbox alerts"
    """Title of the folder holding Glassbox's alert rules (the dashboards live in "Glassbox")."""
    folder_uid: str = Field("glassbox", pattern=r"^[A-Za-z0-9_-]{1,40}$")
    """Stable uid of that folder."""
    datasource_uid: str = Field("glassbox-clickhouse", pattern=r"^[A-Za-z0-9_-]{1,40}$")
    """Uid of the ClickHouse data source (grafana-clickhouse-datasource) the rules and dashboards query."""
    verify_tls: bool = True
    """Verify Grafana's certificate for https URLs."""
    timeout_s: float = Field(10.0, gt=0.0)
    """HTTP timeout of one Grafana API call."""

    @field_validator("url")
    @classmethod
    def _http(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")


class AlertSettings(BaseSettings):
    """Threshold alert rules: `glassbox alerts check` and `glassbox alerts sync`."""

    model_config = _section("GLASSBOX_ALERTS_")

    config: Path | None = None
    """Alert rules file (YAML); unset: the default shipped with the package (deploy/alerts.yaml)."""


S = TypeVar("S", bound=BaseSettings)


def load(cls: type[S], **overrides: Any) -> S:
    """Instantiate a settings class, turning validation errors into a ConfigError naming the variables."""
    try:
        return cls(**overrides)
    except ValidationError as exc:
        raise ConfigError(describe_errors(cls, exc)) from None


def describe_errors(cls: type[BaseSettings], exc: ValidationError) -> str:
    prefix = str(cls.model_config.get("env_prefix", ""))
    lines = [f"invalid configuration ({cls.__name__}):"]
    for err in exc.errors():
        loc = [str(p) for p in err["loc"]]
        field = loc[0] if loc else ""
        env = f"{prefix}{field}".upper() if field else f"{prefix}*"
        value = err.get("input")
        shown = "" if isinstance(value, dict) else f" (got {value!r})"
        lines.append(f"  {env}: {err['msg']}{shown}")
    return "\n".join(lines)


ALL_SECTIONS: tuple[type[BaseSettings], ...] = (
    KafkaSettings,
    SdkSettings,
    ClickHouseSettings,
    PipelineSettings,
    EmbeddedSettings,
    EvaluatorSettings,
    GrafanaSettings,
    AlertSettings,
)
