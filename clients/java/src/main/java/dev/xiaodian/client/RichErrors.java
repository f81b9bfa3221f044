package dev.xiaodian.client;

import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import com.google.rpc.BadRequest;
import com.google.rpc.ErrorInfo;
import com.google.rpc.RetryInfo;
import com.google.rpc.Status;
import io.grpc.protobuf.StatusProto;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Typed access to the error details a xiaodian server attaches to a failed call (the
 * {@code google.rpc.Status} in the {@code grpc-status-details-bin} trailer).
 *
 * <p>Bad input fails with {@code INVALID_ARGUMENT} and a {@link BadRequest} naming each broken
 * field; refusals carry an {@link ErrorInfo} with a machine-readable reason; overload and
 * temporary failures may carry a {@link RetryInfo}. Pass the exception a blocking stub threw
 * (a {@link io.grpc.StatusRuntimeException}) or an async stub's {@link io.grpc.StatusException}:
 *
 * <pre>{@code
 * try {
 *   settlement.recordOrder(request);
 * } catch (StatusRuntimeException e) {
 *   for (BadRequest.FieldViolation v : RichErrors.fieldViolations(e)) {
 *     System.err.println(v.getField() + ": " + v.getDescription());
 *   }
 * }
 * }</pre>
 *
 * <p>Each method returns nothing (an empty list or {@link Optional}) when the throwable is not a
 * gRPC error or carries no such detail.
 */
public final class RichErrors {
  private RichErrors() {}

  /** The rich status of {@code error}: code, message and details, if it carries one. */
  public static Optional<Status> status(Throwable error) {
    return Optional.ofNullable(StatusProto.fromThrowable(error));
  }

  /** Every detail of type {@code type} in {@code error}'s rich status, in order. */
  public static <T extends Message> List<T> details(Throwable error, Class<T> type) {
    List<T> found = new ArrayList<>();
    for (Any detail : status(error).map(Status::getDetailsList).orElse(List.of())) {
      if (detail.is(type)) {
        try {
          found.add(detail.unpack(type));
        } catch (InvalidProtocolBufferException e) {
          throw new IllegalArgumentException("malformed " + type.getSimpleName() + " error detail", e);
        }
      }
    }
    return found;
  }

  /** The field violations of every {@link BadRequest} detail of {@code error}, in order. */
  public static List<BadRequest.FieldViolation> fieldViolations(Throwable error) {
    List<BadRequest.FieldViolation> violations = new ArrayList<>();
    for (BadRequest badRequest : details(error, BadRequest.class)) {
      violations.addAll(badRequest.getFieldViolationsList());
    }
    return violations;
  }

  /** The first {@link ErrorInfo} detail of {@code error} (reason, domain, metadata). */
  public static Optional<ErrorInfo> errorInfo(Throwable error) {
    return details(error, ErrorInfo.class).stream().findFirst();
  }

  /** How long the server asks the caller to wait before retrying, from a {@link RetryInfo}. */
  public static Optional<Duration> retryDelay(Throwable error) {
    return details(error, RetryInfo.class).stream()
        .filter(RetryInfo::hasRetryDelay)
        .findFirst()
        .map(info -> Duration.ofSeconds(info.getRetryDelay().getSeconds(), info.getRetryDelay().getNanos()));
  }
}
