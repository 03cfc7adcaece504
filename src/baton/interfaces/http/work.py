"""The work routes of ``baton serve``: claims, the lease-fenced writes on a task
(heartbeat, submit, fail, block, release), reviews, cancel and usage, the reaper, and
the singleton duties. Each translates one request into one Board call acting as the
caller — the participant named in the body defaults to the caller — and the Board
decides: a stale token is 409 ``LeaseLost``, a broken output contract 422
``ContractViolation`` (:mod:`.problems`).

``/tasks/{id:path}`` takes ids with a slash (a task's id is ``<run id>/<key>``), so
these routes are included after the shared-work routes, whose ``/tasks/{id}/
reservations/release`` it would otherwise swallow.
"""

from __future__ import annotations

from typing import cast

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import TypeAdapter

from baton.board import Board
from baton.interfaces.http import wire
from baton.interfaces.http.callers import As, Fresh, Key
from baton.interfaces.http.responses import json_response, model_response
from baton.model import Duty, Handoff, Lease, Task

router = APIRouter()

_TASKS = TypeAdapter(list[Task])
_LEASE = TypeAdapter(Lease | None)
_DUTY = TypeAdapter(Duty | None)


def me(b: Board, name: str | None) -> str:
    return name if name is not None else b.principal.id


@router.post("/claims", response_model=Lease | None, tags=["work"])
async def claim(body: wire.ClaimRequest, b: As, key: Key = None) -> Response:
    lease = await b.claim(
        me(b, body.participant),
        body.roles,
        run_id=body.run_id,
        lease_s=body.lease_s,
        idempotency_key=key,
    )
    return json_response(_LEASE.dump_json(lease))


@router.get("/tasks/{task_id:path}", response_model=Task, tags=["tasks"])
async def get_task(task_id: str, b: As) -> Response:
    return model_response(await b.get_task(task_id))


@router.post("/tasks/{task_id:path}/heartbeat", response_model=Lease, tags=["work"])
async def heartbeat(task_id: str, body: wire.Heartbeat, b: As, key: Key = None) -> Response:
    lease = await b.heartbeat(
        task_id, body.token, me(b, body.participant), lease_s=body.lease_s,
        idempotency_key=key,
    )  # fmt: skip
    return model_response(lease)


@router.post("/tasks/{task_id:path}/submit", response_model=Task, tags=["work"])
async def submit(task_id: str, body: wire.Submit, b: As, key: Key = None) -> Response:
    task = await b.submit(
        task_id, body.token, body.output, participant=me(b, body.participant),
        idempotency_key=key,
    )  # fmt: skip
    return model_response(task)


@router.post("/tasks/{task_id:path}/submit-and-claim", response_model=Handoff, tags=["work"])
async def submit_and_claim(
    task_id: str, body: wire.SubmitAndClaim, b: As, key: Key = None
) -> Response:
    handoff = await b.submit_and_claim(
        task_id, body.token, body.output, participant=me(b, body.participant),
        roles=body.roles, run_id=body.run_id, lease_s=body.lease_s, idempotency_key=key,
    )  # fmt: skip
    return model_response(handoff)


@router.post("/tasks/{task_id:path}/fail", response_model=Task, tags=["work"])
async def fail(task_id: str, body: wire.Fail, b: As, key: Key = None) -> Response:
    task = await b.fail(
        task_id, body.token, body.error, participant=me(b, body.participant),
        retryable=body.retryable, idempotency_key=key,
    )  # fmt: skip
    return model_response(task)


@router.post("/tasks/{task_id:path}/block", response_model=Task, tags=["work"])
async def block(task_id: str, body: wire.Block, b: As, key: Key = None) -> Response:
    task = await b.block(
        task_id, body.token, body.reason, participant=me(b, body.participant),
        idempotency_key=key,
    )  # fmt: skip
    return model_response(task)


@router.post("/tasks/{task_id:path}/release", response_model=Task, tags=["work"])
async def release(task_id: str, body: wire.Release, b: As, key: Key = None) -> Response:
    task = await b.release(
        task_id, body.token, participant=me(b, body.participant), idempotency_key=key
    )
    return model_response(task)


@router.post("/tasks/{task_id:path}/unblock", response_model=Task, tags=["work"])
async def unblock(task_id: str, body: wire.Actor, b: As, key: Key = None) -> Response:
    return model_response(await b.unblock(task_id, actor=me(b, body.actor), idempotency_key=key))


@router.post("/tasks/{task_id:path}/approve", response_model=Task, tags=["review"])
async def approve(task_id: str, body: wire.Approve, b: As, key: Key = None) -> Response:
    task = await b.approve(
        task_id, actor=me(b, body.actor), token=body.token, comment=body.comment,
        idempotency_key=key,
    )  # fmt: skip
    return model_response(task)


@router.post("/tasks/{task_id:path}/reject", response_model=Task, tags=["review"])
async def reject(task_id: str, body: wire.Reject, b: As, key: Key = None) -> Response:
    task = await b.reject(
        task_id, body.feedback, actor=me(b, body.actor), token=body.token,
        idempotency_key=key,
    )  # fmt: skip
    return model_response(task)


@router.post("/tasks/{task_id:path}/abandon-review", response_model=Task, tags=["review"])
async def abandon_review(
    task_id: str, body: wire.AbandonReview, b: As, key: Key = None
) -> Response:
    task = await b.abandon_review(
        task_id, body.token, body.error, participant=me(b, body.participant),
        idempotency_key=key,
    )  # fmt: skip
    return model_response(task)


@router.post("/tasks/{task_id:path}/cancel", response_model=Task, tags=["tasks"])
async def cancel_task(task_id: str, body: wire.Reason, b: As, key: Key = None) -> Response:
    task = await b.cancel_task(
        task_id, actor=me(b, body.actor), reason=body.reason, idempotency_key=key
    )
    return model_response(task)


@router.post("/tasks/{task_id:path}/usage", response_model=Task, tags=["tasks"])
async def record_usage(task_id: str, body: wire.Usage, b: As, key: Key = None) -> Response:
    task = await b.record_usage(
        task_id,
        model=body.model,
        # a fraction is passed on for the Board to refuse, as it refuses it locally
        input_tokens=cast(int, body.input_tokens),
        output_tokens=cast(int, body.output_tokens),
        cost_usd=body.cost_usd,
        actor=me(b, body.actor),
        role=body.role,
        idempotency_key=key,
    )
    return model_response(task)


@router.post("/reap", response_model=list[Task], tags=["work"])
async def reap(body: wire.Reap, b: As, key: Key = None) -> Response:
    reaped = await b.reap_expired(actor=body.actor, limit=body.limit, idempotency_key=key)
    return json_response(_TASKS.dump_json(reaped))


# --- duties -------------------------------------------------------------------------
@router.post("/duties/{name}/claim", response_model=Duty | None, tags=["duties"])
async def claim_duty(name: str, body: wire.DutyClaim, b: As) -> Response:
    duty = await b.claim_duty(name, me(b, body.participant), lease_s=body.lease_s)
    return json_response(_DUTY.dump_json(duty))


@router.post("/duties/{name}/renew", response_model=Duty, tags=["duties"])
async def renew_duty(name: str, body: wire.DutyRenew, b: As) -> Response:
    duty = await b.renew_duty(name, body.token, me(b, body.participant), lease_s=body.lease_s)
    return model_response(duty)


@router.post("/duties/{name}/release", status_code=204, tags=["duties"])
async def release_duty(name: str, body: wire.DutyRelease, b: As) -> Response:
    await b.release_duty(name, body.token, me(b, body.participant))
    return Response(status_code=204)


@router.get("/duties/{name}", response_model=Duty | None, tags=["duties"])
async def get_duty(name: str, b: Fresh) -> Response:
    return json_response(_DUTY.dump_json(await b.get_duty(name)))
