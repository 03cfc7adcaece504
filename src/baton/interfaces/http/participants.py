"""The participant routes of ``baton serve``: register, list, read, rotate a token,
revoke, and check a token — each one Board call acting as the caller, who needs the
grant for it (the Board decides; :mod:`baton.board.participants`)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import TypeAdapter

from baton.interfaces.http import wire
from baton.interfaces.http.callers import As
from baton.interfaces.http.responses import json_response, model_response
from baton.model.participants import Participant

router = APIRouter()

_PARTICIPANTS = TypeAdapter(list[Participant])


@router.post("/participants", response_model=wire.IssuedToken, status_code=201,
          tags=["participants"])  # fmt: skip
async def add_participant(body: wire.NewParticipant, b: As) -> Response:
    participant, token = await b.add_participant(
        body.id,
        kind=body.kind,
        name=body.name,
        roles=body.roles,
        grants=body.grants,
        runs=body.runs,
    )
    issued = wire.IssuedToken(participant=participant, token=token)
    return json_response(issued.model_dump_json().encode(), 201)


@router.get("/participants", response_model=list[Participant], tags=["participants"])
async def list_participants(b: As) -> Response:
    return json_response(_PARTICIPANTS.dump_json(await b.participants()))


@router.get("/participants/{participant_id}", response_model=Participant,
         tags=["participants"])  # fmt: skip
async def get_participant(participant_id: str, b: As) -> Response:
    return model_response(await b.get_participant(participant_id))


@router.post("/participants/{participant_id}/rotate", response_model=wire.IssuedToken,
          tags=["participants"])  # fmt: skip
async def rotate(participant_id: str, b: As) -> Response:
    token = await b.rotate_token(participant_id)
    issued = wire.IssuedToken(participant=await b.get_participant(participant_id), token=token)
    return model_response(issued)


@router.post("/participants/{participant_id}/revoke", response_model=Participant,
          tags=["participants"])  # fmt: skip
async def revoke(participant_id: str, b: As) -> Response:
    return model_response(await b.revoke_participant(participant_id))


@router.post("/authenticate", response_model=wire.Who, tags=["participants"])
async def authenticate(body: wire.TokenCheck, b: As) -> Response:
    return model_response(wire.Who.of(await b.authenticate(body.token)))
