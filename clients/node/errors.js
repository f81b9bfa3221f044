// @xiaodian/client/errors: what a failed xiaodian call says, read from its google.rpc details.
//
// The server answers a failed call with a google.rpc.Status in the `grpc-status-details-bin`
// trailer: the code and message, one ErrorInfo (reason, domain "xiaodian", metadata), a
// BadRequest with one field violation per broken rule when the code is INVALID_ARGUMENT, and a
// RetryInfo when it is UNAVAILABLE with a known delay. Connect's ConnectError keeps those details
// undecoded; these helpers decode them with the google.rpc types shipped in this package
// (`@xiaodian/client/google/rpc/error_details_pb`). Each takes the caught value as it is (a
// ConnectError, or anything else, which has no details).
//
//     try { await xiaodian.search.getRankingProfile({ name: "" }); }
//     catch (err) { for (const { field, description } of fieldViolations(err)) … }
import { ConnectError } from "@connectrpc/connect";

import { BadRequestSchema, ErrorInfoSchema, RetryInfoSchema } from "./rpc/google/rpc/error_details_pb.js";

/** `ErrorInfo.domain` of every error xiaodian raises. */
export const ERROR_DOMAIN = "xiaodian";

const details = (err, schema) => (err instanceof ConnectError ? err.findDetails(schema) : []);

/**
 * The field violations of every BadRequest detail, in order: `field` is a dotted path into the
 * request (`profile.title_weight`), `description` says which rule it broke. Empty when there
 * are none. The server sends at most 20; {@link violationCount} counts them all.
 */
export function fieldViolations(err) {
  return details(err, BadRequestSchema).flatMap((bad) =>
    bad.fieldViolations.map(({ field, description }) => ({ field, description })),
  );
}

/** How many rules the request broke: ErrorInfo's `violation_count` when the list was cut, else the list's length. */
export function violationCount(err) {
  const listed = fieldViolations(err).length;
  const counted = Number.parseInt(errorInfo(err)?.metadata.violation_count ?? "", 10);
  return Number.isNaN(counted) ? listed : Math.max(counted, listed);
}

/** The first ErrorInfo: `reason` (UPPER_SNAKE_CASE), `domain`, `metadata`; undefined when there is none. */
export function errorInfo(err) {
  const [info] = details(err, ErrorInfoSchema);
  return info ? { reason: info.reason, domain: info.domain, metadata: { ...info.metadata } } : undefined;
}

/** How long to wait before retrying, from the first RetryInfo, in milliseconds; undefined when there is none. */
export function retryDelayMs(err) {
  const [info] = details(err, RetryInfoSchema);
  const delay = info?.retryDelay;
  if (!delay) return undefined;
  return Number(delay.seconds) * 1000 + Math.round(delay.nanos / 1_000_000);
}
