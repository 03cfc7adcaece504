"""The shared-work routes of ``baton serve``: artifacts (versioned shared context),
reservations, and the record of an attempt's assembled context. Each translates one
request into one Board call, acting as the caller; the Board decides (scopes, leases,
merges, reservations) and its errors become statuses through :mod:`.problems` (an
unmergeable write is 409 ``ArtifactConflict`` with the hunks, a held reservation 409
``ReservationConflict`` naming the holder)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import TypeAdapter

from baton.interfaces.http import wire
from baton.interfaces.http.callers import As, Key
from baton.interfaces.http.responses import json_response
from baton.model import Event
from baton.model.artifacts import Artifact, ArtifactContent, ArtifactVersion, ArtifactWrite
from baton.model.reservations import Reservation

router = APIRouter()

_ARTIFACTS = TypeAdapter(list[Artifact])
_VERSIONS = TypeAdapter(list[ArtifactVersion])
_RESERVATIONS = TypeAdapter(list[Reservation])
Name = Annotated[str, Query(description="The artifact's name (path-like: src/api/x.py).")]
Scope = Annotated[str | None, Query(description="A task id; absent for the run's scope.")]
Acting = Annotated[str | None, Query(description="The task the caller acts for.")]


@router.post("/runs/{run_id}/artifacts", response_model=ArtifactWrite, tags=["artifacts"])
async def write_artifact(
    run_id: str, body: wire.ArtifactWriteBody, b: As, key: Key = None
) -> Response:
    written = await b.write_artifact(
        run_id,
        body.name,
        body.content,
        base=body.base,
        scope=body.scope,
        kind=body.kind,
        strategy=body.strategy,
        patch=body.patch,
        task_id=body.task_id,
        token=body.token,
        author=body.author,
        idempotency_key=key,
    )
    return json_response(written.model_dump_json().encode())


@router.get("/runs/{run_id}/artifacts", response_model=list[Artifact], tags=["artifacts"])
async def artifacts(run_id: str, b: As, task_id: Acting = None) -> Response:
    return json_response(_ARTIFACTS.dump_json(await b.artifacts(run_id, task_id=task_id)))


@router.get("/runs/{run_id}/artifact", response_model=ArtifactContent, tags=["artifacts"])
async def read_artifact(
    run_id: str,
    name: Name,
    b: As,
    scope: Scope = None,
    version: Annotated[int | None, Query(ge=1)] = None,
    task_id: Acting = None,
) -> Response:
    found = await b.read_artifact(run_id, name, scope=scope, version=version, task_id=task_id)
    return json_response(found.model_dump_json().encode())


@router.get(
    "/runs/{run_id}/artifact/history", response_model=list[ArtifactVersion], tags=["artifacts"]
)
async def artifact_history(
    run_id: str, name: Name, b: As, scope: Scope = None, task_id: Acting = None
) -> Response:
    versions = await b.artifact_history(run_id, name, scope=scope, task_id=task_id)
    return json_response(_VERSIONS.dump_json(versions))


@router.get("/runs/{run_id}/artifact/diff", response_model=wire.Diff, tags=["artifacts"])
async def diff_artifact(
    run_id: str,
    name: Name,
    b: As,
    from_version: Annotated[int, Query(ge=1, alias="from")],
    to_version: Annotated[int | None, Query(ge=1, alias="to")] = None,
    scope: Scope = None,
    task_id: Acting = None,
) -> Response:
    text = await b.diff_artifact(
        run_id, name, from_version, to_version, scope=scope, task_id=task_id
    )
    return json_response(wire.Diff(diff=text).model_dump_json().encode())


@router.post(
    "/tasks/{task_id:path}/reservations", response_model=list[Reservation], tags=["reservations"]
)
async def reserve(task_id: str, body: wire.ReserveBody, b: As, key: Key = None) -> Response:
    taken = await b.reserve(
        task_id,
        body.token,
        body.resources,
        participant=body.participant or b.principal.id,
        mode=body.mode,
        wait_s=body.wait_s,
        idempotency_key=key,
    )
    return json_response(_RESERVATIONS.dump_json(taken))


@router.post(
    "/tasks/{task_id:path}/reservations/release",
    response_model=list[Reservation],
    tags=["reservations"],
)
async def release_reservations(
    task_id: str, body: wire.ReleaseReservations, b: As, key: Key = None
) -> Response:
    gone = await b.release_reservations(
        task_id,
        body.token,
        body.resources,
        participant=body.participant or b.principal.id,
        idempotency_key=key,
    )
    return json_response(_RESERVATIONS.dump_json(gone))


@router.post("/tasks/{task_id:path}/context", response_model=Event, tags=["work"])
async def record_context(
    task_id: str, body: wire.ContextRecord, b: As, key: Key = None
) -> Response:
    event = await b.record_context(
        task_id,
        body.token,
        body.assembly,
        participant=body.participant or b.principal.id,
        idempotency_key=key,
    )
    return json_response(event.model_dump_json().encode())


@router.get("/reservations", response_model=list[Reservation], tags=["reservations"])
async def reservations(b: As, run_id: Annotated[str | None, Query()] = None) -> Response:
    return json_response(_RESERVATIONS.dump_json(await b.reservations(run_id)))
