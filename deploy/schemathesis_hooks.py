"""Hooks for deploy/schemathesis.

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
    if case.method.upper() == "POST" and case.headers and "Idempotency-Key" in case.headers:
        case.headers["Idempotency-Key"] = str(uuid.uuid4())
