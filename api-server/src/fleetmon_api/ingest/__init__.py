"""Ingest: wire models, body reading with limits, validation, and line-protocol parsing."""
