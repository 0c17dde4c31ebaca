# Two commands from a fresh clone: `make run` (the embedded default end to end) and `make test`.
# Both bootstrap .venv when it is missing or older than pyproject.toml; a second call installs nothing.
PYTHON ?= python3.11
VENV   := .venv
STAMP  := $(VENV)/.installed
CORES  ?= all
SNAKEMAKE_ARGS ?=

.PHONY: run test lint dry-run tables clean-results setup

setup: $(STAMP)

# The last step keeps the SLURM plugin from probing `scontrol` on every snakemake start (src/robust3d/slurm_probe.py).
$(STAMP): pyproject.toml src/robust3d/slurm_probe.py src/robust3d/slurm_probe_hook.py
	@command -v $(PYTHON) >/dev/null || { echo "robust3d needs Python 3.11 ($(PYTHON) not found; set PYTHON=...)"; exit 1; }
	@[ -x $(VENV)/bin/python ] || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e .
	$(VENV)/bin/python -m robust3d.slurm_probe install
	@touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/snakemake --cores $(CORES) $(SNAKEMAKE_ARGS)

test: $(STAMP)
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/snakemake --lint

dry-run: $(STAMP)
	$(VENV)/bin/snakemake -n $(SNAKEMAKE_ARGS)

clean-results:
	rm -rf results logs benchmarks
