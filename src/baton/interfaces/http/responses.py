"""The JSON bodies every route of ``baton serve`` answers with: bytes already encoded
(by pydantic, or a ``TypeAdapter`` for lists) sent as they are, so no route pays for
FastAPI's re-validation of a ``response_model`` on the way out."""

from __future__ import annotations

from fastapi.responses import Response
from pydantic import BaseModel


def json_response(body: bytes, status: int = 200) -> Response:
    return Response(body, status_code=status, media_type="application/json")


def model_response(value: BaseModel) -> Response:
    return json_response(value.model_dump_json().encode())
