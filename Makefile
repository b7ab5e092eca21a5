# make demo : create .venv, install ocdr, run the demo on the embedded synthetic data
# make test : create/update .venv, run the test suite
# make bench-deps : also the Debian peers bench/compare.py measures against (tesseract-ocr)
# The venv is rebuilt only when pyproject.toml (where every pin lives) changes.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Debian fonts for the synthetic generator (handwriting-like and print); best effort, root only.
FONTS  := fonts-dkg-handwriting fonts-humor-sans fonts-breip fonts-femkeklaver fonts-dancingscript fonts-comic-neue fonts-dejavu-core fonts-kristi

.PHONY: demo test fonts bench-deps clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -e '.[test]'
	$(BIN)/pip install -q --no-deps $$($(BIN)/python scripts/peers.py pip)
	touch $(STAMP)

fonts:
	@bash scripts/install_fonts.sh $(FONTS)

demo: $(STAMP) fonts
	$(BIN)/ocdr demo

test: $(STAMP) fonts
	@bash scripts/install_fonts.sh $$($(BIN)/python scripts/peers.py test_apt)
	$(BIN)/python -m pytest -q

bench-deps: $(STAMP)
	@bash scripts/install_fonts.sh $$($(BIN)/python scripts/peers.py apt)

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info
