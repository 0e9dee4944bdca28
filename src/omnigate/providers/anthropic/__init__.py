"""Anthropic Messages API adapter: OpenAI-shaped chat bodies in, OpenAI-shaped answers out."""
