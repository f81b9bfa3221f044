package xiaodian

import (
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/status"
)

// details are the google.rpc.Status details of err; none when err is nil or carries no status.
func details(err error) []any {
	if err == nil {
		return nil
	}
	st, ok := status.FromError(err)
	if !ok {
		return nil
	}
	return st.Details()
}

// FieldViolations returns the field violations of err's BadRequest details: one per invalid
// field, each with the field's path ("profile.title_weight", "products[2].price_fen") and what
// is wrong with it. It returns nil when err is nil, is not a gRPC status error, or has none.
// The server sends at most a bounded number; ErrorInfo(err).GetMetadata()["violation_count"]
// holds the total.
func FieldViolations(err error) []*errdetails.BadRequest_FieldViolation {
	var violations []*errdetails.BadRequest_FieldViolation
	for _, detail := range details(err) {
		if bad, ok := detail.(*errdetails.BadRequest); ok {
			violations = append(violations, bad.GetFieldViolations()...)
		}
	}
	return violations
}

// ErrorInfo returns the ErrorInfo detail of err: its Reason (UPPER_SNAKE_CASE, stable: branch
// on it rather than on the message), Domain ("xiaodian") and Metadata. It returns nil when
// there is none; the getters of a nil *ErrorInfo return zero values, so
// ErrorInfo(err).GetReason() is safe.
func ErrorInfo(err error) *errdetails.ErrorInfo {
	for _, detail := range details(err) {
		if info, ok := detail.(*errdetails.ErrorInfo); ok {
			return info
		}
	}
	return nil
}

// RetryDelay returns how long the server asks the caller to wait before retrying (its RetryInfo
// detail, sent with Unavailable), and whether it asked at all.
func RetryDelay(err error) (time.Duration, bool) {
	for _, detail := range details(err) {
		if info, ok := detail.(*errdetails.RetryInfo); ok && info.GetRetryDelay() != nil {
			return info.GetRetryDelay().AsDuration(), true
		}
	}
	return 0, false
}
