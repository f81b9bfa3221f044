"""Server assembly and what every service shares: config, database, idempotency, errors on the wire."""
