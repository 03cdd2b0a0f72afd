"""Spools: where batches wait until the server has acknowledged them."""

from fleetmon_agent.spool.base import Batch, Spool, SpoolError, WirePoint, new_batch_id
from fleetmon_agent.spool.files import FileSpool
from fleetmon_agent.spool.memory import MemorySpool

__all__ = [
    "Batch",
    "FileSpool",
    "MemorySpool",
    "Spool",
    "SpoolError",
    "WirePoint",
    "new_batch_id",
]
