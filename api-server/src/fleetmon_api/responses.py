"""A JSON response rendered with orjson (FastAPI's own ORJSONResponse is deprecated)."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import JSONResponse


class JSON(JSONResponse):
    """JSON via orjson: fast, and datetimes/dataclasses render without adapters.

    UTC datetimes end in ``Z``, as pydantic renders them in the rest of the API.
    """

    def render(self, content: Any) -> bytes:
        """Serialize with orjson."""
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS | orjson.OPT_UTC_Z)
