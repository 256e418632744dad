"""Allows `python -m ldapdiag`."""

from ldapdiag.entry import main

if __name__ == "__main__":
    main()
