"""The AI search model (bagoodex/bagoodex-search-v1): search backends, the chat backend that
answers with them, and what each search found, kept for the follow-up routes."""
