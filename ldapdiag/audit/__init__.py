"""`ldapdiag audit`: every address the configuration could accept, resolved and checked.

enumerate.py finds the addresses (the postfix tables' filters, the key made a wildcard, read in
RFC 2696 pages), engine.py runs each through the postfix and dovecot engines (one transaction per
address, tables and connections shared, caches bounded), checks/ turns outcomes into findings
(one module per fault kind), command.py streams and sums them up; report/audit_report.py renders.
"""
