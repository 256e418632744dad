"""`ldapdiag lint`: mistakes found from the configuration alone, and with --server from the schema.

Layout (after yamllint): `problem.py` the LintProblem value; `rules/` one small module per rule
(CODES, SERVER, DESCRIPTION, check(ctx)); `context.py` what the rules look at (the settings each
component really uses, with where they were written); `server.py` the root DSE, schema and sample
addresses read as postfix reads the directory; `runner.py` runs the rules; `output.py` renders
standard, parsable, github and json; `command.py` is the command. Exit codes: 0 clean, 1 an error
(or a warning with --strict), 2 something could not be checked.
"""
