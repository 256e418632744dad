"""Allows `python -m ldapdiag`."""

from ldapdiag.cli import main

if __name__ == "__main__":
    main()
