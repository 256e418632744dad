"""`--explain`: the LDAP queries each component sends, rebuilt from what the engines recorded.

Nothing here sends a query: every fact comes from the engines' own records of their searches
(postfix QueryStep/Step, dovecot DovecotSearch, saslauthd LakOutcome) and the trace event each
search left (`Directory.last_search`). Rendering is in ldapdiag/report/explain_report.py.
"""
