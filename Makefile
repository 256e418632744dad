# Build targets. `make pyz`: the single-file build dist/ldapdiag.pyz (see README, "Where to run it").

PYTHON ?= .venv/bin/python
PYZ ?= dist/ldapdiag.pyz

.PHONY: pyz
pyz:
	$(PYTHON) tools/build_pyz.py $(PYZ)
