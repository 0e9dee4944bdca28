"""OpenAI's Responses API served over chat completions: translation, streaming and storage."""
