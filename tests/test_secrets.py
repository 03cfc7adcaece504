"""Secrets never leave the process that holds them: a whole run through a real ``baton
serve`` and a real worker process, with fake secrets in the environment, in a task
input marked secret, echoed back by the model endpoint's error body (the request's
Authorization header) and raised and returned by an agent — then everything the run
wrote is searched for them: the database files, both processes' logs, HTTP responses,
the CLI's output."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from baton import SyncBoard, TaskState
from baton.model.redaction import REDACTED, Redactor, resolve_secrets, secret_names
from tests.helpers import plan, task
from tests.http_door import start_serve_process
from tests.llm_server import ScriptedLLM, echo_auth_error, output

OPENAI_KEY = "sk-test-FAKE0123456789abcdefghij"  # a shape: known to every redactor
PAYMENTS_KEY = "pay_live_9f8e7d6c5b4a3f2e1d0c"  # no known shape: redacted by its env name
CARD = "4111-2222-3333-4444-SECRETCARD"  # a task input marked secret, in CARD_NUMBER
INLINE = "sk-inline-plan-SECRET-0000111122"  # pasted into a plan by mistake
ALL = (OPENAI_KEY, PAYMENTS_KEY, CARD, INLINE)

TEAM = """
import hashlib, os
from baton import FunctionAgent
from baton.runtime.agents.llm import LLMAgent

attempts = {"n": 0}

def pay(ctx):
    card = ctx.input["card"]
    attempts["n"] += 1
    if attempts["n"] == 1:
        raise RuntimeError(f"card {card} declined using key {os.environ['PAYMENTS_API_KEY']}")
    return {"charged": ctx.input["amount"], "receipt": f"paid with {card}",
            "card_sha256": hashlib.sha256(card.encode()).hexdigest()}

agents = [
    FunctionAgent(pay, roles=["payer"]),
    LLMAgent(roles=["writer"], model=os.environ["TEST_MODEL"]),
]
"""


def _stop(proc: subprocess.Popen[str]) -> tuple[str, str]:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        return proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.communicate()


@pytest.mark.timeout(180)
def test_no_secret_reaches_anything_the_run_wrote(tmp_path: Path) -> None:
    (tmp_path / "team.py").write_text(TEAM)
    db = str(tmp_path / "board.db")
    secrets_env = {"OPENAI_API_KEY": OPENAI_KEY, "PAYMENTS_API_KEY": PAYMENTS_KEY}
    fast: dict[str, Any] = {"backoff_base_s": 0.01, "backoff_max_s": 0.02}
    with ScriptedLLM() as llm:
        llm.script(echo_auth_error(400), output({"text": "the summary"}))
        with SyncBoard.open(db) as owner:
            run = owner.create_run(
                plan(
                    task(
                        "pay",
                        "payer",
                        input={"card": {"$secret": "CARD_NUMBER"}, "amount": 5},
                        **fast,
                    ),
                    task(
                        "write",
                        "writer",
                        description=f"summarise; the key is {INLINE}",
                        output_contract={
                            "type": "object",
                            "properties": {"text": {"type": "string"}},
                            "required": ["text"],
                        },
                        **fast,
                    ),
                    roles=("payer", "writer"),
                )
            )
            _, token = owner.add_participant(
                "w1", kind="agent", roles=["payer", "writer"], runs=[run.id]
            )
        server, url = start_serve_process(db, env=secrets_env)
        try:
            env = {k: v for k, v in os.environ.items() if not k.startswith("BATON_")}
            worker = subprocess.Popen(
                [sys.executable, "-m", "baton", "worker", "--agents", "team:agents",
                 "--server", url, "--run", run.id, "--no-watchdog"],
                cwd=tmp_path,
                env={**env, **secrets_env, "CARD_NUMBER": CARD, "BATON_TOKEN": token,
                     "TEST_MODEL": llm.model_spec(), "PYTHONPATH": str(tmp_path),
                     "BATON_LOG_LEVEL": "INFO"},
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )  # fmt: skip
            worker_out, worker_err = worker.communicate(timeout=120)
            assert worker.returncode == 0, worker_err
            headers = {"Authorization": f"Bearer {token}"}
            responses = [
                httpx.get(f"{url}{path}", headers=headers, timeout=10).text
                for path in (
                    f"/runs/{run.id}/events",
                    f"/runs/{run.id}",
                    f"/runs/{run.id}/tasks",
                    f"/runs/{run.id}/escalations",
                    f"/tasks/{run.id}/pay",
                )
            ]
            # An error that quotes what the caller sent: the door's error body is redacted.
            refused = httpx.post(
                f"{url}/runs/{run.id}/messages",
                headers=headers,
                json={"kind": "nosuchkind", "body": {"text": OPENAI_KEY}, "sender": "w1"},
                timeout=10,
            )
            responses.append(refused.text)
        finally:
            server_out, server_err = _stop(server)
        # The model endpoint did receive the real key, and echoed it in its error body.
        assert llm.requests, "the LLM agent never called the model"
        # The agent really got the card: its output carries the card's hash.
        with SyncBoard.open(db) as owner:
            pay = owner.get_task(f"{run.id}/pay")
            write = owner.get_task(f"{run.id}/write")
            assert (pay.state, write.state) == (TaskState.DONE, TaskState.DONE)
            assert pay.output["card_sha256"] == hashlib.sha256(CARD.encode()).hexdigest()
            assert REDACTED in pay.output["receipt"]
            events = owner.events(run.id)
            retries = [e for e in events if e.kind == "task.retry"]
            assert len(retries) == 2  # the declined card, the echoed Authorization
            assert all(REDACTED in json.dumps(e.payload) for e in retries), retries
            assert pay.input["card"] == {"$secret": "CARD_NUMBER"}  # the reference only
        cli = subprocess.run(
            [sys.executable, "-m", "baton", "events", run.id, "--db", db, "--json"],
            capture_output=True,
            text=True,
            env={**os.environ},
            timeout=60,
        )
        assert cli.returncode == 0, cli.stderr
    written = {
        "cli": cli.stdout + cli.stderr,
        "worker log": worker_out + worker_err,
        "server log": server_out + server_err,
        **{f"http response {i}": r for i, r in enumerate(responses)},
    }
    for path in tmp_path.iterdir():
        if path.name.startswith("board.db"):
            written[path.name] = path.read_bytes().decode("latin-1")
    assert "Authorization" in worker_err or "Authorization" in json.dumps(
        [e.payload for e in retries]
    ), "the echoed header should be visible, its value redacted"
    for secret in ALL:
        for where, text in written.items():
            assert secret not in text, f"{secret!r} found in {where}"


def test_a_worker_without_the_secret_fails_the_attempt_naming_it(tmp_path: Path) -> None:
    from baton import Board, FunctionAgent, Worker

    seen: list[str] = []

    async def main() -> Any:
        board = Board.open(str(tmp_path / "b.db"))
        try:
            run = await board.create_run(
                plan(task("t", input={"k": {"$secret": "NOT_SET_ANYWHERE"}}, max_attempts=1))
            )
            agent = FunctionAgent(lambda ctx: seen.append("ran"), roles=["worker"])
            worker = Worker(board, [agent], name="w1", secrets={}, watchdog=False)
            await asyncio.wait_for(worker.run(run_id=run.id), 30)
            return await board.get_task(f"{run.id}/t")
        finally:
            await board.close()

    failed = asyncio.run(main())
    assert seen == []
    assert failed.state is TaskState.FAILED
    assert failed.last_error["kind"] == "secret_missing"
    assert "NOT_SET_ANYWHERE" in failed.last_error["message"]


def test_the_redactor_on_its_own() -> None:
    r = Redactor(["hunter2-long-password"])
    assert r.text("pw hunter2-long-password!") == f"pw {REDACTED}!"
    assert r.text("Authorization: Bearer abc.def.ghijkl") == f"Authorization: {REDACTED}"
    assert REDACTED in r.text("token baton_pt_abcdefghijklmnop")
    assert r.value({"api_key": "x-anything", "n": 1}) == {"api_key": REDACTED, "n": 1}
    clean = {"a": ["b", {"c": 1}]}
    assert r.value(clean) is clean  # nothing copied when nothing changed
    assert r.text("short 1") == "short 1"
    hint = "send Authorization: Bearer <token>"
    assert r.text(hint) == hint  # a help text's placeholder is not a secret
    assert Redactor(["1"]).text("1 2 3") == "1 2 3"  # too short to be a secret
    assert secret_names({"a": {"$secret": "X"}, "b": [{"$secret": "Y"}]}) == ["X", "Y"]
    assert resolve_secrets({"a": [{"$secret": "X"}]}, {"X": "v"}) == {"a": ["v"]}
