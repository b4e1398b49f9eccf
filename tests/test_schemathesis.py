"""The spec and the behaviour agree: schemathesis drives every operation of the real app
(generated from /openapi.json) on the demo directory, with and without an admin key, on
SQLite and PostgreSQL, with a bounded number of cases each.

Checked on every response: no server error, a status code, content type, headers and body
that the spec documents, and schema-invalid requests refused. Left out: key revocation (it
would revoke the key the run uses), and the operations that reach the network (a feed
refresh, a test event, a redelivery: the loopback tests cover them). Not checked: that every
schema-valid request is accepted, since a string may be well formed for the spec and still not
be a postcode or a place; the spec says so in words where it cannot in JSON Schema.
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.config import SchemathesisConfig
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from api.auth import SECURITY_SCHEME
from tests.conftest import bearer

# Cases per operation and mode; HYPERLOCAL_SCHEMATHESIS_CASES raises it for a longer run.
CASES = int(os.environ.get("HYPERLOCAL_SCHEMATHESIS_CASES", "8"))
LEFT_OUT = (("DELETE", "/keys/{key_id}"), ("POST", "/feeds/{feed_id}/refresh"))
LEFT_OUT_ENDINGS = ("/test", "/redeliver")


def operations(app, secret: str | None):  # type: ignore[no-untyped-def]
    """The operations to drive; with ``secret``, schemathesis sends it as the bearer token
    (and knows it, so a case that leaves the token out on purpose really goes without)."""
    auth = {"auth": {"openapi": {SECURITY_SCHEME: {"bearer": secret}}}} if secret else {}
    config = SchemathesisConfig.from_dict(auth)
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app, config=config)
    for result in schema.get_all_operations():
        operation = result.ok()
        key = (operation.method.upper(), operation.path)
        if key in LEFT_OUT or operation.path.endswith(LEFT_OUT_ENDINGS):
            continue
        yield operation


@pytest.mark.parametrize("who", ["anonymous", "admin"])
def test_every_operation_keeps_to_the_spec(demo_directory, who):
    app = demo_directory
    secret = (
        bearer(app, "admin")["Authorization"].removeprefix("Bearer ") if who == "admin" else None
    )
    failures: dict[str, str] = {}
    statuses: dict[tuple[str, str], set[int]] = {}
    tried = 0
    for operation in operations(app, secret):
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @settings(max_examples=CASES, deadline=None, database=None, derandomize=True,
                      suppress_health_check=list(HealthCheck),
                      phases=[Phase.explicit, Phase.generate])  # fmt: skip
            @given(case=operation.as_strategy(generation_mode=mode))
            def run(case):  # type: ignore[no-untyped-def]
                response = case.call_and_validate(excluded_checks=[positive_data_acceptance])
                statuses.setdefault((case.method.upper(), case.path), set()).add(
                    response.status_code
                )

            try:
                run()
            except Unsatisfiable:
                continue  # nothing to make invalid (an operation without parameters)
            except BaseException as exc:  # a FailureGroup: keep going, report them all
                failures[f"{operation.method.upper()} {operation.path} ({mode})"] = str(exc)[:1500]
            tried += 1
    assert tried >= 60
    # The run really was anonymous, or really an admin's.
    assert (200 in statuses[("GET", "/keys")]) is (who == "admin"), statuses[("GET", "/keys")]
    assert failures == {}, "\n\n".join(f"{k}\n{v}" for k, v in failures.items())
