"""The governance routes of ``baton serve``: proving the audit chain. Each translates one
request into one Board call, acting as the caller; the Board decides who may."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from baton.interfaces.http.callers import As
from baton.model.audit import AuditReport

router = APIRouter()

RunQuery = Annotated[str | None, Query(description="One run; absent for the whole log.")]


@router.get("/audit/verify", response_model=AuditReport, tags=["audit"])
async def verify_audit(b: As, run: RunQuery = None) -> Response:
    """Walk the audit chain and name the first bad seq (200 either way: a broken chain
    is a finding, not an error of the request)."""
    report = await b.verify_audit(run)
    return Response(report.model_dump_json().encode(), media_type="application/json")
