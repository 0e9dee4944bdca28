"""Backend for Cohere's v2 Chat API (`POST /v2/chat`): OpenAI chat bodies in and out."""
