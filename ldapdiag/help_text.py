"""`ldapdiag --help` as click renders it 78 columns wide: entry.py prints it without importing click.

Written by `LDAPDIAG_UPDATE_HELP=1 .venv/bin/pytest -q tests/unit/test_cli_config.py`; a test there
fails when it differs from what click renders.
"""

MAIN_HELP = """\
Usage: ldapdiag [OPTIONS] COMMAND [ARGS]...

  Predict what postfix, dovecot and saslauthd of a docker-mailserver do with
  your LDAP directory.

Options:
  --version   Show the version and exit.
  -h, --help  Show this message and exit.

Commands:
  audit    Check every address the directory holds: what is broken.
  check    Connect, TLS, bind and base check per component.
  config   Show the files DMS would write, with each value's source.
  demo     Serve a scenario on a throwaway slapd and try ldapdiag.
  lint     Find broken filters and settings before they break mail.
  login    Predict IMAP login and SMTP AUTH for a user.
  lookup   Query a postfix map like postmap -q.
  resolve  Predict RCPT replies and final recipients.
  run      Check expectation files (smoke tests) against the directory.
  send-as  Predict whether a login may send as an address.
  user     The userdb lookup of dovecot LMTP (doveadm user).
"""
