# Set-up and entry points. Every target creates the environment from nothing if needed.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: venv test demo bench clean

$(STAMP): requirements.txt setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade 'pip>=24' 'setuptools>=77' wheel
	$(PY) -m pip install --quiet -r requirements.txt
	# basicsr 1.4.2 is an sdist that needs torch at build time and pins tb-nightly: build it against
	# the torch above and take its other requirements from requirements.txt (stable tensorboard).
	$(PY) -m pip install --quiet --no-build-isolation --no-deps basicsr==1.4.2
	$(PY) -m pip install --quiet --no-build-isolation --no-deps -e .
	touch $(STAMP)

venv: $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -q tests

demo: $(STAMP)
	$(PY) tools/demo.py

bench: $(STAMP)
	$(PY) bench/search_step.py

clean:
	rm -rf $(VENV) experiments results tb_logger datasets
