"""Commission settlement: split engine, ledger, order lifecycle, the SettlementService."""
