-- ccproxy:optional — servers without the full-text `text` index (before 25.x) skip this migration; the
-- tokenbf_v1 and ngrambf_v1 indexes of 0002 still serve search there.
-- The `text` index is ClickHouse's successor to tokenbf_v1: an exact inverted index instead of a bloom
-- filter, so a rare word reads only the granules that hold it.

ALTER TABLE conversation_contents ADD INDEX IF NOT EXISTS idx_prompt_text lower(prompt) TYPE text(tokenizer = splitByNonAlpha);
ALTER TABLE conversation_contents ADD INDEX IF NOT EXISTS idx_completion_text lower(completion) TYPE text(tokenizer = splitByNonAlpha);
