# make test / make app create the environment (.venv) when it is missing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: venv test app lab reports lint clean-venv

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[all]'
	$(PY) -m ipykernel install --sys-prefix --name gsasrec --display-name "Python (gsasrec)" >/dev/null
	touch $(STAMP)

venv: $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -q

app: $(STAMP)
	$(VENV)/bin/streamlit run app/main.py

lab: $(STAMP)
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks $$([ "$$(id -u)" = 0 ] && echo --allow-root)

reports: $(STAMP)
	$(PY) scripts/run_notebooks.py --mode full --out reports

lint: $(STAMP)
	$(VENV)/bin/ruff check gsasrec app tests benchmarks scripts

clean-venv:
	rm -rf $(VENV)
