package dev.xiaodian.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Where the token comes from (no server needed). */
class XiaodianTest {
  @Test
  void takesTheTokenVariableFirst(@TempDir Path dataDir) throws IOException {
    Files.writeString(dataDir.resolve("admin.token"), "from-file\n");
    Map<String, String> environment =
        Map.of("XIAODIAN_TOKEN", " from-variable\n", "XIAODIAN_SERVER_DATA_DIR", dataDir.toString());
    assertEquals("from-variable", Xiaodian.token(environment));
  }

  @Test
  void elseReadsTheDataDirectorysAdminToken(@TempDir Path dataDir) throws IOException {
    Files.writeString(dataDir.resolve("admin.token"), "from-file\n");
    assertEquals("from-file", Xiaodian.token(Map.of("XIAODIAN_SERVER_DATA_DIR", dataDir.toString())));
  }

  @Test
  void failsWithoutAToken() {
    IllegalStateException error = assertThrows(IllegalStateException.class, () -> Xiaodian.token(Map.of()));
    assertEquals(
        "no token: set XIAODIAN_TOKEN, or XIAODIAN_SERVER_DATA_DIR to a local server's data directory",
        error.getMessage());
  }

  @Test
  void refusesATokenThatCannotBeAHeaderValue() {
    assertThrows(IllegalArgumentException.class, () -> Xiaodian.bearerToken(""));
    assertThrows(IllegalArgumentException.class, () -> Xiaodian.bearerToken("two words"));
  }
}
