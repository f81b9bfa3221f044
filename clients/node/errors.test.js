// Unit tests of @xiaodian/client/errors (no server): details as the gRPC transport leaves them
// on a ConnectError (type name and undecoded bytes, from the grpc-status-details-bin trailer).
import assert from "node:assert/strict";
import { test } from "node:test";

import { create, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@xiaodian/client";
import { errorInfo, fieldViolations, retryDelayMs, violationCount } from "@xiaodian/client/errors";
import { BadRequestSchema, ErrorInfoSchema, RetryInfoSchema } from "@xiaodian/client/google/rpc/error_details_pb";

/** A ConnectError as received: each detail is { type, value } with the message's bytes. */
function received(code, ...details) {
  const incoming = details.map(([schema, init]) => ({
    type: schema.typeName,
    value: toBinary(schema, create(schema, init)),
  }));
  const err = new ConnectError("failed", code);
  err.details.push(...incoming);
  return err;
}

test("field violations of every BadRequest, in order, as plain {field, description}", () => {
  const err = received(
    Code.InvalidArgument,
    [ErrorInfoSchema, { reason: "INVALID_ARGUMENT", domain: "xiaodian", metadata: { violation_count: "23" } }],
    [BadRequestSchema, { fieldViolations: [{ field: "order.order_id", description: "is required" }] }],
    [BadRequestSchema, { fieldViolations: [{ field: "order.lines", description: "must hold 1-500 lines", reason: "X" }] }],
  );
  assert.deepEqual(fieldViolations(err), [
    { field: "order.order_id", description: "is required" },
    { field: "order.lines", description: "must hold 1-500 lines" },
  ]);
  assert.equal(violationCount(err), 23, "the server cut the list; ErrorInfo counts them all");
  assert.deepEqual(errorInfo(err), {
    reason: "INVALID_ARGUMENT",
    domain: "xiaodian",
    metadata: { violation_count: "23" },
  });
  assert.equal(retryDelayMs(err), undefined);
});

test("RetryInfo's delay in milliseconds", () => {
  const err = received(Code.Unavailable, [RetryInfoSchema, { retryDelay: { seconds: 2n, nanos: 500_000_000 } }]);
  assert.equal(retryDelayMs(err), 2_500);
  assert.deepEqual(fieldViolations(err), []);
  assert.equal(violationCount(err), 0);
  assert.equal(errorInfo(err), undefined);
});

test("anything that is not a ConnectError has no details", () => {
  for (const value of [new Error("boom"), "text", undefined, null, 42]) {
    assert.deepEqual(fieldViolations(value), []);
    assert.equal(errorInfo(value), undefined);
    assert.equal(retryDelayMs(value), undefined);
  }
});
