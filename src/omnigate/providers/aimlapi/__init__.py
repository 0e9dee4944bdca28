"""The service's own API as an upstream (AI/ML API, or another Omnigate)."""
