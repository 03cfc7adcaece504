"""Request and response bodies of the HTTP API, shared by the server and the remote
Board. Each mirrors one Board method's arguments; the Board validates the values (a
plan, an output, a budget), so that HTTP and Python callers get the same errors.

``actor`` / ``participant`` fields are optional: the door fills in the authenticated
participant's id, and the Board refuses a name that is not the caller's own.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from baton.model.participants import Grant, Participant, ParticipantKind, Principal, hash_token

#: The response header carrying the board's clock, so that a remote Board compares
#: lease expiry against the server's idea of now.
CLOCK_HEADER = "baton-clock"
#: The response header naming how far an event page read (its filters may have
#: skipped events after the last one returned): the next page's ``after``.
CURSOR_HEADER = "baton-cursor"
#: The longest a long-poll request (``wait``, ``timeout``) is held open; clients loop.
MAX_WAIT_S = 25.0


#: Numbers and flags are strict: ``"5"`` or ``true`` for a number is refused, as the
#: Board refuses them, rather than coerced.
Num = Annotated[float, Field(strict=True)]
Int = Annotated[int, Field(strict=True)]
Flag = Annotated[bool, Field(strict=True)]


class Body(BaseModel):
    """A request body: unknown fields are refused (a misspelt field is a 422, not
    silently ignored)."""

    model_config = ConfigDict(extra="forbid")


class NewRun(Body):
    plan: dict[str, Any] = Field(description="A plan: see the Plan schema and docs/plans.md.")
    run_id: str | None = None
    actor: str | None = None


class NewGoalRun(Body):
    goal: str
    roles: list[str]
    planner_role: str = "planner"
    budget: dict[str, Any] | None = None
    max_planning_attempts: Int = 3
    run_id: str | None = None
    actor: str | None = None


class NewTasks(Body):
    tasks: list[dict[str, Any]]
    actor: str | None = None


class Reason(Body):
    reason: str = ""
    actor: str | None = None


class Resume(Body):
    budget: dict[str, Any] | None = None
    actor: str | None = None


class NewEscalation(Body):
    kind: str
    reason: str
    evidence: dict[str, Any] | None = None
    task_id: str | None = None
    actor: str | None = None


class NewMessage(Body):
    kind: str
    body: dict[str, Any]
    to: str | None = None
    task_id: str | None = None
    sender: str | None = None


class Usage(Body):
    model: str
    input_tokens: Int | Num  # a fraction or NaN is the Board's to refuse
    output_tokens: Int | Num
    cost_usd: Num = 0.0
    role: str | None = None
    actor: str | None = None


class ClaimRequest(Body):
    roles: str | list[str]
    participant: str | None = None
    run_id: str | None = None
    lease_s: Num | None = None


class Heartbeat(Body):
    token: Int
    participant: str | None = None
    lease_s: Num | None = None


class Submit(Body):
    token: Int
    output: Any = None
    participant: str | None = None


class SubmitAndClaim(Body):
    token: Int
    output: Any = None
    participant: str | None = None
    roles: str | list[str]
    run_id: str | None = None
    lease_s: Num | None = None


class KeyBody(Body):
    public_key: str


class SignaturesBody(Body):
    participant: str
    signatures: list[tuple[Int, str]]


class PolicyBody(Body):
    policy: dict[str, Any]
    actor: str | None = None


class PolicyCheckBody(Body):
    plan: dict[str, Any]


class EffectStartBody(Body):
    token: Int
    step: str
    participant: str | None = None
    repeat_safe: Flag = False


class EffectRecordBody(Body):
    token: Int
    step: str
    result: Any = None
    participant: str | None = None


class Fail(Body):
    token: Int
    error: str | dict[str, Any]
    retryable: Flag = True
    participant: str | None = None


class Block(Body):
    token: Int
    reason: str
    participant: str | None = None


class Release(Body):
    token: Int
    participant: str | None = None


class ArtifactWriteBody(Body):
    name: str
    content: Any = Field(description="Text, or a JSON value (or an RFC 7386 patch).")
    base: Int | None = Field(None, description="The version the writer read; none creates.")
    scope: str | None = Field(None, description="A task id; none for the run's scope.")
    kind: str | None = None
    strategy: str | None = None
    patch: bool = False
    task_id: str | None = None
    token: Int | None = None
    author: str | None = None


class ReserveBody(Body):
    token: Int
    resources: list[str]
    mode: str = "exclusive"
    wait_s: Num | None = None
    participant: str | None = None


class ReleaseReservations(Body):
    token: Int
    resources: list[str] | None = None
    participant: str | None = None


class ContextRecord(Body):
    token: Int
    assembly: dict[str, Any]
    participant: str | None = None


class Diff(BaseModel):
    diff: str


class AbandonReview(Body):
    token: Int
    error: dict[str, Any]
    participant: str | None = None


class Actor(Body):
    actor: str | None = None


class Approve(Body):
    token: Int | None = None
    comment: str = ""
    actor: str | None = None


class Reject(Body):
    feedback: str | list[str]
    token: Int | None = None
    actor: str | None = None


class Reap(Body):
    limit: Int = 1000
    actor: str | None = None


class Forget(Body):
    older_than_s: Num = 7 * 86400


class Backup(Body):
    destination: str


class NewParticipant(Body):
    id: str
    kind: ParticipantKind
    name: str | None = None
    roles: list[str] = []
    grants: list[Grant] = []
    runs: list[str] = []


class TokenCheck(Body):
    token: str


class DutyClaim(Body):
    lease_s: Num
    participant: str | None = None


class DutyRenew(Body):
    token: Int
    lease_s: Num
    participant: str | None = None


class DutyRelease(Body):
    token: Int
    participant: str | None = None


# --- responses that are not a model of their own ----------------------------------


class IssuedToken(BaseModel):
    """A participant and its token: the only time the token is shown."""

    participant: Participant
    token: str


class Who(BaseModel):
    """The authenticated participant, as the server sees it."""

    id: str
    kind: ParticipantKind
    roles: list[str]
    grants: list[Grant]
    runs: list[str]
    owner: bool = False

    @classmethod
    def of(cls, principal: Principal) -> Who:
        return cls(
            id=principal.id,
            kind=principal.kind,
            roles=sorted(principal.roles),
            grants=sorted(principal.grants),
            runs=sorted(principal.runs),
            owner=principal.owner,
        )

    def as_principal(self, token: str) -> Principal:
        """The principal this stands for, holding ``token``'s hash (the server checks
        the token; the client only carries it)."""
        return Principal(
            id=self.id,
            kind=self.kind,
            roles=frozenset(self.roles),
            grants=frozenset(self.grants),
            runs=frozenset(self.runs),
            token_hash=hash_token(token),
            owner=self.owner,
        )


class Count(BaseModel):
    count: int


class Seq(BaseModel):
    seq: int


class Changed(BaseModel):
    changed: bool


class Progress(BaseModel):
    seq: int
    at: Num


class Ids(BaseModel):
    ids: list[str]


class Snapshot(BaseModel):
    tables: dict[str, list[list[Any]]]


class ServerLimits(BaseModel):
    max_json_bytes: int
    max_depth: int
    max_text: int
    max_tasks: int
    max_duration_s: Num
    max_body_bytes: int


class Problem(BaseModel):
    """An error (RFC 9457 problem details) with Baton's error code and its fields."""

    type: str
    title: str
    status: int
    detail: str
    code: str
    fields: dict[str, Any] = {}
    offending_ids: list[str] | None = None
