"""Pydantic documents returned by every job (STYLE.md: outputs)."""
