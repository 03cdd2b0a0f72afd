"""Ingest: the wire schema (wire), body limits (body), decoding (decode: agent batches on
their fast, deferred and strict paths; line protocol), the checks (validate, fastpath) and
the line-protocol parser (lineproto)."""
