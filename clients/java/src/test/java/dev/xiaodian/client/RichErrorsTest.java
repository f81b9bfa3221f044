package dev.xiaodian.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.Any;
import com.google.rpc.BadRequest;
import com.google.rpc.Code;
import com.google.rpc.ErrorInfo;
import com.google.rpc.RetryInfo;
import com.google.rpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/** RichErrors on errors made here, as a server would send them (no server needed). */
class RichErrorsTest {
  private static BadRequest.FieldViolation violation(String field, String description) {
    return BadRequest.FieldViolation.newBuilder().setField(field).setDescription(description).build();
  }

  @Test
  void readsEveryKindOfDetail() {
    Status status = Status.newBuilder()
        .setCode(Code.INVALID_ARGUMENT_VALUE)
        .setMessage("2 field violations")
        .addDetails(Any.pack(ErrorInfo.newBuilder().setReason("INVALID_ORDER").setDomain("xiaodian.dev").build()))
        .addDetails(Any.pack(BadRequest.newBuilder()
            .addFieldViolations(violation("order.order_id", "is required"))
            .addFieldViolations(violation("order.lines", "needs 1-500 lines"))
            .build()))
        .addDetails(Any.pack(RetryInfo.newBuilder()
            .setRetryDelay(com.google.protobuf.Duration.newBuilder().setSeconds(1).setNanos(500_000_000))
            .build()))
        .build();
    StatusRuntimeException error = StatusProto.toStatusRuntimeException(status);

    assertEquals(status, RichErrors.status(error).orElseThrow());
    assertEquals(
        List.of(violation("order.order_id", "is required"), violation("order.lines", "needs 1-500 lines")),
        RichErrors.fieldViolations(error));
    assertEquals("INVALID_ORDER", RichErrors.errorInfo(error).orElseThrow().getReason());
    assertEquals(Duration.ofMillis(1_500), RichErrors.retryDelay(error).orElseThrow());
  }

  @Test
  void findsNothingWithoutDetails() {
    StatusRuntimeException plain = io.grpc.Status.NOT_FOUND.withDescription("no such order").asRuntimeException();
    assertTrue(RichErrors.fieldViolations(plain).isEmpty());
    assertTrue(RichErrors.errorInfo(plain).isEmpty());
    assertTrue(RichErrors.retryDelay(plain).isEmpty());

    RuntimeException notGrpc = new IllegalStateException("not a gRPC error");
    assertTrue(RichErrors.status(notGrpc).isEmpty());
    assertTrue(RichErrors.fieldViolations(notGrpc).isEmpty());
  }
}
