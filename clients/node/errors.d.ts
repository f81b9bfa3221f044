// Types of errors.js (kept by hand; `npm run typecheck` checks them).

/** `ErrorInfo.domain` of every error xiaodian raises: "xiaodian". */
export declare const ERROR_DOMAIN: string;

/** One broken rule: `field` is a dotted path into the request (`profile.title_weight`). */
export interface FieldViolation {
  field: string;
  description: string;
}

/** What google.rpc.ErrorInfo says: why (`reason`, UPPER_SNAKE_CASE), who (`domain`), and more. */
export interface ErrorInfo {
  reason: string;
  domain: string;
  metadata: Record<string, string>;
}

/**
 * The field violations of every google.rpc.BadRequest detail of a failed call (a ConnectError;
 * any other value has none), in order; empty when there are none.
 */
export declare function fieldViolations(err: unknown): FieldViolation[];

/** How many rules the request broke: ErrorInfo's `violation_count` when the list was cut, else the list's length. */
export declare function violationCount(err: unknown): number;

/** The first google.rpc.ErrorInfo detail of a failed call; undefined when there is none. */
export declare function errorInfo(err: unknown): ErrorInfo | undefined;

/** The delay of the first google.rpc.RetryInfo detail of a failed call, in milliseconds; undefined when there is none. */
export declare function retryDelayMs(err: unknown): number | undefined;
