"""Hooks for deploy/schemathesis.

Long polls on GET /v1/events wait at most a second (see before_call).

Every POST gets a fresh Idempotency-Key just before it is sent. Without this, the generator
reuses short keys ("0") across different bodies, and the server rightly answers 422 (a key
reused for another request), which schemathesis reads as a valid request rejected. The
idempotency rules themselves are tested in Tests/CareAPITests/ResourceTests.swift.
"""
import uuid

import schemathesis


def _tests_a_missing_parameter(case):
    data = getattr(getattr(case.meta, "phase", None), "data", None)
    return "MISSING" in str(getattr(data, "scenario", "")).upper()


@schemathesis.hook
def before_call(ctx, case, **kwargs):
    # Cases that test a missing header (Authorization, say) are sent exactly as generated.
    if _tests_a_missing_parameter(case):
        return
    # The feed's long poll may wait up to 60 s by its contract; a fuzzing run that waited that
    # long on every example would take hours, so valid waits are cut to at most one second
    # (invalid ones are sent as generated). Long polls are tested in FeedHTTPTests.swift.
    if case.path == "/v1/events" and isinstance(case.query, dict):
        wait = case.query.get("wait")
        if isinstance(wait, int) and not isinstance(wait, bool) and 1 < wait <= 60:
            case.query["wait"] = 1
    if case.method.upper() == "POST" and case.headers and "Idempotency-Key" in case.headers:
        case.headers["Idempotency-Key"] = str(uuid.uuid4())
