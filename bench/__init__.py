"""ldapdiag's benchmarks: `.venv/bin/python -m bench [--strict] [--repeat N] [TARGET...]` (see README.md)."""
