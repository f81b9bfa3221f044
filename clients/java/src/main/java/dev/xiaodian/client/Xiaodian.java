package dev.xiaodian.client;

import io.grpc.CallCredentials;
import io.grpc.ChannelCredentials;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.TlsChannelCredentials;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.Executor;

/**
 * Channels to a xiaodian server and the bearer token its calls carry.
 *
 * <p>Typical use, with the generated stubs of {@code dev.xiaodian.v1}:
 *
 * <pre>{@code
 * ManagedChannel channel = Xiaodian.channel("127.0.0.1:50051");
 * SearchServiceGrpc.SearchServiceBlockingStub search =
 *     SearchServiceGrpc.newBlockingStub(channel).withCallCredentials(Xiaodian.bearerToken());
 * SearchResponse page = search.search(SearchRequest.newBuilder().setQuery("手机壳").build());
 * channel.shutdown();
 * }</pre>
 *
 * <p>Every call needs a token, sent as the metadata {@code authorization: Bearer <token>}. The
 * token is the value of {@code XIAODIAN_TOKEN}, else the {@code admin.token} file in the server's
 * data directory {@code XIAODIAN_SERVER_DATA_DIR} (the rule of the Python, Go and Node clients).
 */
public final class Xiaodian {
  /** Environment variable holding the bearer token. */
  public static final String TOKEN_VARIABLE = "XIAODIAN_TOKEN";

  /** Environment variable naming a local server's data directory, whose admin.token is read. */
  public static final String DATA_DIR_VARIABLE = "XIAODIAN_SERVER_DATA_DIR";

  /** Name of the admin token's file in a server's data directory. */
  public static final String ADMIN_TOKEN_FILE = "admin.token";

  /** The {@code authorization} metadata key. */
  public static final Metadata.Key<String> AUTHORIZATION =
      Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

  private Xiaodian() {}

  /**
   * A plaintext channel to {@code address} ("host:port"). Tokens travel in clear text over it:
   * use it for a server on this machine (127.0.0.1, localhost, [::1]) and {@link #tlsChannel}
   * for any other. Shut the channel down when done.
   */
  public static ManagedChannel channel(String address) {
    return Grpc.newChannelBuilder(address, InsecureChannelCredentials.create()).build();
  }

  /**
   * A TLS channel to {@code address} ("host:port") that trusts the CA certificate(s) in the PEM
   * file {@code caCertificate} (the server's own certificate when it is self-signed).
   */
  public static ManagedChannel tlsChannel(String address, Path caCertificate) {
    ChannelCredentials credentials;
    try {
      credentials = TlsChannelCredentials.newBuilder().trustManager(caCertificate.toFile()).build();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the CA certificate " + caCertificate, e);
    }
    return Grpc.newChannelBuilder(address, credentials).build();
  }

  /**
   * The token from the environment: {@code XIAODIAN_TOKEN}, else the file {@code admin.token} in
   * {@code XIAODIAN_SERVER_DATA_DIR}.
   *
   * @throws IllegalStateException when neither is set
   * @throws UncheckedIOException when the token file cannot be read
   */
  public static String token() {
    return token(System.getenv());
  }

  /** {@link #token()} with the given environment instead of the process's. */
  static String token(Map<String, String> environment) {
    String fromVariable = environment.getOrDefault(TOKEN_VARIABLE, "").strip();
    if (!fromVariable.isEmpty()) {
      return fromVariable;
    }
    String dataDir = environment.getOrDefault(DATA_DIR_VARIABLE, "").strip();
    if (!dataDir.isEmpty()) {
      return readToken(Path.of(dataDir, ADMIN_TOKEN_FILE));
    }
    throw new IllegalStateException(
        "no token: set " + TOKEN_VARIABLE + ", or " + DATA_DIR_VARIABLE + " to a local server's data directory");
  }

  /**
   * The token in {@code file} (its text without surrounding whitespace).
   *
   * @throws UncheckedIOException when the file cannot be read
   * @throws IllegalArgumentException when it is empty
   */
  public static String readToken(Path file) {
    String text;
    try {
      text = Files.readString(file, StandardCharsets.UTF_8).strip();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the token file " + file, e);
    }
    if (text.isEmpty()) {
      throw new IllegalArgumentException("the token file " + file + " is empty");
    }
    return text;
  }

  /** Call credentials sending the token of {@link #token()}. */
  public static CallCredentials bearerToken() {
    return bearerToken(token());
  }

  /**
   * Call credentials sending {@code authorization: Bearer <token>} on every call; attach them
   * with {@code stub.withCallCredentials(...)}.
   *
   * @throws IllegalArgumentException when the token is empty or contains whitespace
   */
  public static CallCredentials bearerToken(String token) {
    if (token.isEmpty() || token.chars().anyMatch(c -> Character.isWhitespace(c) || c < 0x21 || c > 0x7e)) {
      throw new IllegalArgumentException("a token is non-empty printable ASCII without spaces");
    }
    return new BearerToken("Bearer " + token);
  }

  private static final class BearerToken extends CallCredentials {
    private final String value;

    BearerToken(String value) {
      this.value = value;
    }

    @Override
    public void applyRequestMetadata(RequestInfo requestInfo, Executor appExecutor, MetadataApplier applier) {
      Metadata headers = new Metadata();
      headers.put(AUTHORIZATION, value);
      applier.apply(headers);
    }
  }
}
