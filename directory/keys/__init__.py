"""API keys: hashed, scoped, revocable."""
