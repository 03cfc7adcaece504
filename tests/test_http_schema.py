"""schemathesis against the OpenAPI document ``baton serve`` serves, over a real socket,
authenticated as the store's owner on a board with a run in it: a bounded number of
generated requests per operation, and none may answer 5xx or break the document (a
response the document does not describe, a wrong content type, a body that does not fit
its schema)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from baton import SyncBoard
from tests.http_door import OWNER_TOKEN, Door, served

PLAN: dict[str, Any] = {
    "goal": "g",
    "roles": ["worker"],
    "tasks": [{"id": "a", "role": "worker"}, {"id": "b", "role": "worker", "depends_on": ["a"]}],
}


@pytest.fixture(scope="module")
def door(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Door]:
    where = Path(tmp_path_factory.mktemp("schema"))
    db = str(where / "board.db")
    with SyncBoard.open(db) as owner:
        owner.create_run(PLAN, run_id="r1")
    # generated POST /backup requests name relative paths: keep them in the temp dir
    previous = os.getcwd()
    os.chdir(where)
    try:
        with served(db) as d:
            yield d
    finally:
        os.chdir(previous)


@pytest.fixture(scope="module")
def api_schema(door: Door) -> Any:
    return schemathesis.openapi.from_url(f"{door.url}/openapi.json")


def test_no_generated_request_gets_a_5xx_or_breaks_the_spec(api_schema: Any) -> None:
    headers = {"Authorization": f"Bearer {OWNER_TOKEN}"}
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) > 40
    failures: list[str] = []
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=4,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def check(case: Any) -> None:
            # The document types bodies; the Board validates values (an id's pattern, a
            # plan's graph), so a schema-valid body may still be a 422: not a failure.
            case.call_and_validate(
                headers=headers, timeout=30, excluded_checks=[positive_data_acceptance]
            )

        try:
            check()
        except Exception as error:  # collect every operation's failure, then report
            failures.append(f"{operation.label}: {str(error)[:600]}")
    assert not failures, "\n\n".join(failures)
