"""The governance routes of ``baton serve``: proving the audit chain, and the effect
ledger of a task. Each translates one request into one Board call, acting as the caller;
the Board decides who may (a lease for effects, a visible run for the audit)."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import TypeAdapter

from baton.interfaces.http import wire
from baton.interfaces.http.callers import As, Key
from baton.interfaces.http.responses import json_response
from baton.model.audit import AuditReport
from baton.model.effects import Effect, EffectStart
from baton.model.policies import PolicyCheck, PolicyRecord
from baton.model.signatures import ParticipantKey

router = APIRouter()

RunQuery = Annotated[str | None, Query(description="One run; absent for the whole log.")]
_EFFECTS = TypeAdapter(list[Effect])


@router.get("/audit/verify", response_model=AuditReport, tags=["audit"])
async def verify_audit(b: As, run: RunQuery = None) -> Response:
    """Walk the audit chain and name the first bad seq (200 either way: a broken chain
    is a finding, not an error of the request)."""
    return json_response((await b.verify_audit(run)).model_dump_json().encode())


@router.post("/participants/{participant_id}/key", response_model=ParticipantKey,
             tags=["participants"])  # fmt: skip
async def register_key(participant_id: str, body: wire.KeyBody, b: As) -> Response:
    key = await b.register_key(participant_id, body.public_key)
    return json_response(key.model_dump_json().encode())


@router.post("/participants/{participant_id}/key/revoke", tags=["participants"])
async def revoke_key(participant_id: str, b: As) -> Response:
    await b.revoke_key(participant_id)
    return json_response(b"null")


@router.post("/signatures", response_model=int, tags=["audit"])
async def sign_events(body: wire.SignaturesBody, b: As) -> Response:
    stored = await b.sign_events(body.participant, body.signatures)
    return json_response(str(stored).encode())


@router.get("/runs/{run_id}/event-hashes", response_model=list[tuple[int, str, str]],
            tags=["audit"])  # fmt: skip
async def event_hashes(run_id: str, b: As, since: int = 0, limit: int = 1000) -> Response:
    found = await b.event_hashes(run_id, since=since, limit=limit)
    return json_response(json.dumps(found).encode())


@router.post("/policy", response_model=PolicyRecord, tags=["policy"])
async def set_policy(body: wire.PolicyBody, b: As) -> Response:
    return json_response(
        (await b.set_policy(body.policy, actor=body.actor)).model_dump_json().encode()
    )


@router.get("/policy", response_model=PolicyRecord | None, tags=["policy"])
async def policy(b: As) -> Response:
    record = await b.policy()
    return json_response(b"null" if record is None else record.model_dump_json().encode())


@router.post("/policy/check", response_model=PolicyCheck, tags=["policy"])
async def check_policy(body: wire.PolicyCheckBody, b: As) -> Response:
    return json_response((await b.check_policy(body.plan)).model_dump_json().encode())


@router.post("/tasks/{task_id:path}/effects/start", response_model=EffectStart, tags=["work"])
async def start_effect(
    task_id: str, body: wire.EffectStartBody, b: As, key: Key = None
) -> Response:
    started = await b.start_effect(
        task_id,
        body.token,
        body.step,
        participant=body.participant or b.principal.id,
        repeat_safe=body.repeat_safe,
        idempotency_key=key,
    )
    return json_response(started.model_dump_json().encode())


@router.post("/tasks/{task_id:path}/effects/record", response_model=Effect, tags=["work"])
async def record_effect(
    task_id: str, body: wire.EffectRecordBody, b: As, key: Key = None
) -> Response:
    recorded = await b.record_effect(
        task_id,
        body.token,
        body.step,
        body.result,
        participant=body.participant or b.principal.id,
        idempotency_key=key,
    )
    return json_response(recorded.model_dump_json().encode())


@router.get("/tasks/{task_id:path}/effects", response_model=list[Effect], tags=["tasks"])
async def effects(task_id: str, b: As) -> Response:
    return json_response(_EFFECTS.dump_json(await b.effects(task_id)))
