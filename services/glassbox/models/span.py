"""The span event: the contract between instrumented apps and the pipeline.

One span event describes one finished unit of work. Common fields live in
:class:`SpanBase` (the envelope); each ``kind`` adds a typed ``payload``.
Payload fields serialise under the OpenTelemetry GenAI semantic-convention
names where one exists (``gen_ai.request.model``, ``gen_ai.usage.input_tokens``,
``gen_ai.tool.call.arguments`` ...) and under ``glassbox.*`` names otherwise, so
the JSON on the wire reads like OTel attributes to anyone who knows them.

A Kafka message on the spans topic carries either one span event (a JSON
object) or a batch of span events of the same trace (a JSON array); see
:mod:`glassbox.models.messages`.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal, TypeAlias

from pydantic import BaseModel, ConfigDict, Field, JsonValue, TypeAdapter, field_validator, model_validator

from glassbox.models.ids import SpanId, TraceId

SCHEMA_VERSION = 1
"""Major version of the span event contract. Consumers dead-letter versions they do not know."""

# Wall-clock bounds a timestamp must fall in: 2000-01-01 .. 2100-01-01 (nanoseconds).
MIN_TIME_NS = 946_684_800_000_000_000
MAX_TIME_NS = 4_102_444_800_000_000_000
MAX_DURATION_NS = 31 * 24 * 3600 * 1_000_000_000
"""A span longer than 31 days is treated as a clock error."""

MAX_ATTRIBUTES = 256
"""Hard cap on attributes per span accepted by the pipeline (the SDK's default cap is lower)."""
MAX_TAGS = 64
MAX_NAME_LENGTH = 1024

TRUNCATED_MARKER = "glassbox.truncated"
"""Key of the object that replaces a value cut by a size or depth cap (see :class:`TruncatedValue`)."""


class _Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        use_attribute_docstrings=True,
        ser_json_inf_nan="strings",
    )


class SpanKind(StrEnum):
    """What a span describes; selects the payload type."""

    SPAN = "span"
    GENERATION = "generation"
    RETRIEVAL = "retrieval"
    TOOL = "tool"
    AGENT = "agent"
    EMBEDDING = "embedding"
    GUARDRAIL = "guardrail"


class StatusCode(StrEnum):
    UNSET = "unset"
    OK = "ok"
    ERROR = "error"


class Status(_Model):
    code: StatusCode = StatusCode.UNSET
    """unset, ok or error (OTel status codes)."""
    message: str | None = None
    """Human-readable error description when code is error."""


class Resource(_Model):
    """Where the span was produced (OTel resource attributes)."""

    service_name: str = Field("unknown_service", alias="service.name", max_length=256)
    """Logical service name."""
    environment: str | None = Field(None, alias="deployment.environment.name", max_length=256)
    """Deployment environment: production, staging, development ..."""
    release: str | None = Field(None, alias="service.version", max_length=256)
    """Release tag or version of the service."""
    sdk_name: str | None = Field(None, alias="telemetry.sdk.name", max_length=128)
    """Name of the SDK that produced the span."""
    sdk_version: str | None = Field(None, alias="telemetry.sdk.version", max_length=64)
    """Version of that SDK."""


class SpanEventRecord(_Model):
    """A timestamped event inside a span (OTel span event); exceptions use name='exception'."""

    name: str = Field(max_length=MAX_NAME_LENGTH)
    time_unix_nano: int = Field(ge=MIN_TIME_NS, lt=MAX_TIME_NS)
    attributes: dict[str, JsonValue] = Field(default_factory=dict)
    """For exceptions: exception.type, exception.message, exception.stacktrace."""


class Score(_Model):
    """A score attached by the application itself (user feedback, a heuristic)."""

    name: str = Field(min_length=1, max_length=256)
    value: float
    comment: str | None = None


class Truncation(_Model):
    """Records that a captured value was cut; the value itself holds a TruncatedValue marker."""

    path: str = Field(max_length=512)
    """Where the value was: input, output, payload field name, attribute key."""
    original_bytes: int = Field(ge=0)
    """Size of the value's JSON before it was cut."""
    reason: Literal["size", "depth", "cycle", "unserializable"] = "size"


class TruncatedValue(_Model):
    """The JSON object that replaces a value cut by a cap (key ``glassbox.truncated`` is always true)."""

    truncated: Literal[True] = Field(True, alias=TRUNCATED_MARKER)
    original_bytes: int = Field(ge=0)
    reason: Literal["size", "depth", "cycle", "unserializable"] = "size"
    preview: str = ""
    """The start of the value's JSON (or repr), up to the cap."""


# --------------------------------------------------------------------------- payloads


class Message(BaseModel):
    """A chat message. Provider-specific keys (tool_calls, name, ...) are kept as they come."""

    model_config = ConfigDict(extra="allow", ser_json_inf_nan="strings")

    role: str = Field(max_length=64)
    """system, user, assistant, tool ..."""
    content: JsonValue = None
    """Text, or a list of content parts."""


class GenerationPayload(_Model):
    """An LLM call: chat or text completion."""

    operation: str = Field("chat", alias="gen_ai.operation.name")
    """chat, text_completion or generate_content."""
    provider: str | None = Field(None, alias="gen_ai.provider.name")
    """openai, anthropic, azure.ai.openai, aws.bedrock, ollama ..."""
    request_model: str | None = Field(None, alias="gen_ai.request.model")
    response_model: str | None = Field(None, alias="gen_ai.response.model")
    input_messages: list[Message] | None = Field(None, alias="gen_ai.input.messages")
    """Chat messages sent to the model (system prompt included)."""
    prompt: JsonValue = Field(None, alias="glassbox.prompt")
    """The prompt of a text completion, when there are no messages."""
    output_messages: list[Message] | None = Field(None, alias="gen_ai.output.messages")
    """Messages the model returned."""
    completion: JsonValue = Field(None, alias="glassbox.completion")
    """The generated text (convenience copy of the first output message's content)."""
    output_type: str | None = Field(None, alias="gen_ai.output.type")
    """Requested output type: text, json, image, speech. 'json' makes JSON validity checkable."""
    response_format: JsonValue = Field(None, alias="glassbox.request.response_format")
    """The response_format / JSON Schema requested, when any."""
    tool_definitions: JsonValue = Field(None, alias="gen_ai.tool.definitions")
    """Tools offered to the model."""
    temperature: float | None = Field(None, alias="gen_ai.request.temperature")
    top_p: float | None = Field(None, alias="gen_ai.request.top_p")
    top_k: float | None = Field(None, alias="gen_ai.request.top_k")
    max_tokens: int | None = Field(None, alias="gen_ai.request.max_tokens")
    stop_sequences: list[str] | None = Field(None, alias="gen_ai.request.stop_sequences")
    seed: int | None = Field(None, alias="gen_ai.request.seed")
    frequency_penalty: float | None = Field(None, alias="gen_ai.request.frequency_penalty")
    presence_penalty: float | None = Field(None, alias="gen_ai.request.presence_penalty")
    parameters: dict[str, JsonValue] = Field(default_factory=dict, alias="glassbox.request.parameters")
    """Other request parameters, as given."""
    input_tokens: int | None = Field(None, ge=0, alias="gen_ai.usage.input_tokens")
    output_tokens: int | None = Field(None, ge=0, alias="gen_ai.usage.output_tokens")
    cached_input_tokens: int | None = Field(None, ge=0, alias="gen_ai.usage.cache_read.input_tokens")
    reasoning_tokens: int | None = Field(None, ge=0, alias="gen_ai.usage.reasoning.output_tokens")
    cost_usd: float | None = Field(None, ge=0, alias="glassbox.usage.cost_usd")
    """Cost of the call in US dollars (from litellm's price map when captured automatically)."""
    time_to_first_token_ms: float | None = Field(None, ge=0, alias="glassbox.response.time_to_first_token_ms")
    """Milliseconds from the request to the first streamed token."""
    streamed: bool = Field(False, alias="glassbox.response.streamed")
    finish_reasons: list[str] | None = Field(None, alias="gen_ai.response.finish_reasons")
    response_id: str | None = Field(None, alias="gen_ai.response.id")
    prompt_name: str | None = Field(None, alias="glassbox.prompt.name")
    """Name of the managed prompt this call rendered."""
    prompt_version: str | None = Field(None, alias="glassbox.prompt.version")
    """Version of that prompt."""


class Document(_Model):
    id: str | None = Field(None, max_length=1024)
    score: float | None = None
    content: JsonValue = None
    metadata: dict[str, JsonValue] = Field(default_factory=dict)


class RetrievalPayload(_Model):
    """A retrieval from a vector store, search index or database."""

    query: JsonValue = Field(None, alias="glassbox.retrieval.query")
    top_k: int | None = Field(None, ge=0, alias="glassbox.retrieval.top_k")
    documents: list[Document] = Field(default_factory=list, alias="glassbox.retrieval.documents")
    data_source: str | None = Field(None, alias="gen_ai.data_source.id")
    """Which index or store was queried."""
    embedding_model: str | None = Field(None, alias="glassbox.retrieval.embedding_model")


class ToolPayload(_Model):
    """A tool (function) call made by an agent."""

    name: str = Field(alias="gen_ai.tool.name", min_length=1, max_length=256)
    call_id: str | None = Field(None, alias="gen_ai.tool.call.id")
    description: str | None = Field(None, alias="gen_ai.tool.description")
    tool_type: str | None = Field(None, alias="gen_ai.tool.type")
    """function, extension or datastore."""
    arguments: JsonValue = Field(None, alias="gen_ai.tool.call.arguments")
    json_schema: JsonValue = Field(None, alias="glassbox.tool.json_schema")
    """JSON Schema of the tool's arguments, so argument validity can be checked."""
    result: JsonValue = Field(None, alias="gen_ai.tool.call.result")
    error: str | None = Field(None, alias="glassbox.tool.error")
    """Error the tool returned or raised."""


class AgentPayload(_Model):
    """One step (iteration) of an agent loop, or a whole agent invocation."""

    agent_name: str | None = Field(None, alias="gen_ai.agent.name")
    agent_id: str | None = Field(None, alias="gen_ai.agent.id")
    iteration: int | None = Field(None, ge=0, alias="glassbox.agent.iteration")
    max_iterations: int | None = Field(None, ge=0, alias="glassbox.agent.max_iterations")
    thought: JsonValue = Field(None, alias="glassbox.agent.thought")
    action: JsonValue = Field(None, alias="glassbox.agent.action")


class EmbeddingPayload(_Model):
    provider: str | None = Field(None, alias="gen_ai.provider.name")
    request_model: str | None = Field(None, alias="gen_ai.request.model")
    input_count: int | None = Field(None, ge=0, alias="glassbox.embeddings.input_count")
    dimensions: int | None = Field(None, ge=0, alias="gen_ai.embeddings.dimension.count")
    input_tokens: int | None = Field(None, ge=0, alias="gen_ai.usage.input_tokens")
    cost_usd: float | None = Field(None, ge=0, alias="glassbox.usage.cost_usd")


class GuardrailPayload(_Model):
    name: str = Field(alias="glassbox.guardrail.name", min_length=1, max_length=256)
    passed: bool = Field(alias="glassbox.guardrail.passed")
    action: str | None = Field(None, alias="glassbox.guardrail.action")
    """What the guardrail did: allow, block, redact, warn."""
    score: float | None = Field(None, alias="glassbox.guardrail.score")
    reason: str | None = Field(None, alias="glassbox.guardrail.reason")


# --------------------------------------------------------------------------- envelope


class SpanBase(_Model):
    """Fields every span event carries, whatever its kind."""

    schema_version: Literal[1] = 1
    """Major version of this contract."""
    trace_id: TraceId
    span_id: SpanId
    parent_span_id: SpanId | None = None
    """None for the root span of a trace."""
    name: str = Field(min_length=1, max_length=MAX_NAME_LENGTH)
    start_time_unix_nano: int = Field(ge=MIN_TIME_NS, lt=MAX_TIME_NS)
    end_time_unix_nano: int = Field(ge=MIN_TIME_NS, lt=MAX_TIME_NS)
    status: Status = Field(default_factory=Status)
    resource: Resource = Field(default_factory=Resource)
    session_id: str | None = Field(None, max_length=256)
    """Groups traces of one conversation (gen_ai.conversation.id)."""
    user_id: str | None = Field(None, max_length=256)
    cohort: str | None = Field(None, max_length=256)
    """Tenant, customer tier or any user cohort to break costs and quality down by."""
    tags: list[str] = Field(default_factory=list, max_length=MAX_TAGS)
    metadata: dict[str, JsonValue] = Field(default_factory=dict)
    """Free-form application metadata."""
    attributes: dict[str, JsonValue] = Field(default_factory=dict)
    """Extra OTel-style attributes."""
    input: JsonValue = None
    """Captured input of the work (function arguments, user question)."""
    output: JsonValue = None
    """Captured output (return value, answer)."""
    events: list[SpanEventRecord] = Field(default_factory=list)
    scores: list[Score] = Field(default_factory=list)
    dropped_attributes_count: int = Field(0, ge=0)
    """Attributes dropped by the SDK's cap."""
    truncations: list[Truncation] = Field(default_factory=list)
    """Values cut by the SDK's caps; each cut value holds a TruncatedValue marker."""

    @field_validator("schema_version", mode="before")
    @classmethod
    def _version_is_a_number(cls, value: Any) -> Any:
        if isinstance(value, bool):  # True == 1 in Python: without this check a boolean passes as version 1
            raise ValueError("schema_version must be a number, not a boolean")
        return value

    @model_validator(mode="after")
    def _check_times(self) -> SpanBase:
        if self.end_time_unix_nano < self.start_time_unix_nano:
            raise ValueError("end_time_unix_nano is before start_time_unix_nano")
        if self.end_time_unix_nano - self.start_time_unix_nano > MAX_DURATION_NS:
            raise ValueError("span lasts more than 31 days (clock error?)")
        if len(self.attributes) > MAX_ATTRIBUTES:
            raise ValueError(f"more than {MAX_ATTRIBUTES} attributes")
        if self.parent_span_id == self.span_id:
            raise ValueError("span is its own parent")
        return self

    @property
    def duration_ns(self) -> int:
        return self.end_time_unix_nano - self.start_time_unix_nano

    @property
    def is_error(self) -> bool:
        return self.status.code == StatusCode.ERROR


class PlainSpan(SpanBase):
    """A span with no AI-specific payload (a pipeline step, an HTTP handler, ...)."""

    kind: Literal[SpanKind.SPAN] = SpanKind.SPAN


class GenerationSpan(SpanBase):
    kind: Literal[SpanKind.GENERATION] = SpanKind.GENERATION
    payload: GenerationPayload = Field(default_factory=GenerationPayload)


class RetrievalSpan(SpanBase):
    kind: Literal[SpanKind.RETRIEVAL] = SpanKind.RETRIEVAL
    payload: RetrievalPayload = Field(default_factory=RetrievalPayload)


class ToolSpan(SpanBase):
    kind: Literal[SpanKind.TOOL] = SpanKind.TOOL
    payload: ToolPayload


class AgentSpan(SpanBase):
    kind: Literal[SpanKind.AGENT] = SpanKind.AGENT
    payload: AgentPayload = Field(default_factory=AgentPayload)


class EmbeddingSpan(SpanBase):
    kind: Literal[SpanKind.EMBEDDING] = SpanKind.EMBEDDING
    payload: EmbeddingPayload = Field(default_factory=EmbeddingPayload)


class GuardrailSpan(SpanBase):
    kind: Literal[SpanKind.GUARDRAIL] = SpanKind.GUARDRAIL
    payload: GuardrailPayload


SpanEvent: TypeAlias = Annotated[
    PlainSpan | GenerationSpan | RetrievalSpan | ToolSpan | AgentSpan | EmbeddingSpan | GuardrailSpan,
    Field(discriminator="kind"),
]
"""Any span event, discriminated by ``kind``."""

SPAN_ADAPTER: TypeAdapter[SpanEvent] = TypeAdapter(SpanEvent)

PAYLOAD_TYPES: dict[SpanKind, type[_Model] | None] = {
    SpanKind.SPAN: None,
    SpanKind.GENERATION: GenerationPayload,
    SpanKind.RETRIEVAL: RetrievalPayload,
    SpanKind.TOOL: ToolPayload,
    SpanKind.AGENT: AgentPayload,
    SpanKind.EMBEDDING: EmbeddingPayload,
    SpanKind.GUARDRAIL: GuardrailPayload,
}


def parse_span(data: Any) -> SpanEvent:
    """Validate one decoded span event (a dict) into its typed model."""
    return SPAN_ADAPTER.validate_python(data)


def span_to_dict(span: SpanBase) -> dict[str, Any]:
    """The JSON-compatible wire form of a span (aliases, no None payload noise)."""
    return span.model_dump(mode="json", by_alias=True, exclude_none=True)
