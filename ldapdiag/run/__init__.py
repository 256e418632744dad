"""`ldapdiag run`: expectation files (docs/expect-format.md) checked against a configuration."""
