-- The prompt registry (glassbox prompt ..., glassbox.datasets.prompts.get_prompt): versioned templates.
--
-- A prompt version is immutable: Template is the JSON list of chat messages ({role, content} with
-- {{variable}} placeholders), Model and Parameters (JSON object: temperature, max_tokens, ...) the
-- model settings it was written for. Versions are numbered 1, 2, ... per name. Generations made with
-- a registered prompt carry its name and version (PromptName / PromptVersion in spans), so queries
-- and dashboards compare versions.
CREATE TABLE IF NOT EXISTS {database}.prompts
(
    Name LowCardinality(String),
    Version UInt32,
    Template String CODEC(ZSTD(3)),
    Model String,
    Parameters String,
    Variables Array(String),
    Description String,
    CreatedAt DateTime64(3)
)
ENGINE = ReplacingMergeTree(CreatedAt)
ORDER BY (Name, Version);

-- Movable labels (production, staging, ...): the latest UpdatedAt per (Name, Label) wins.
CREATE TABLE IF NOT EXISTS {database}.prompt_labels
(
    Name LowCardinality(String),
    Label LowCardinality(String),
    Version UInt32,
    UpdatedAt DateTime64(3)
)
ENGINE = ReplacingMergeTree(UpdatedAt)
ORDER BY (Name, Label);
