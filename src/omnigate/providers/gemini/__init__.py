"""Backend for Google's Gemini API (`generateContent` / `streamGenerateContent`).

`request`, `response` and `stream` are pure translators between OpenAI's chat shapes and Gemini's
REST JSON; `client` does the HTTP; `errors` turns Google's error bodies into gateway failures.
"""
