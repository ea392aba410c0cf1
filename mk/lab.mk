# mk/lab.mk: the lab's targets (issue 5): the article's tables, sweeps with MPI,
# the HTML report and the regression gate. Included by the top-level Makefile.
#   make reproduce        both sweeps and both article tables from scratch (fresh
#                         database), then results/article.html: the article's tables
#                         beside gpenlab's figures, then every experiment and sweep
#   make regress          canonical experiments at fixed seeds against experiments/baselines/
#                         (JUNIT=FILE.xml also writes the verdicts as JUnit XML)
#   make regress-update   rewrite the baselines (commit the diff for review)
#   make gpenlab-mpi      the MPI variant of the program (only when mpicc exists)

REPRO_DB ?= results/article.db
REPRO_JOBS ?= 2

.PHONY: reproduce regress regress-update gpenlab-mpi

reproduce: $(BUILD)/gpenlab
	@mkdir -p results
	rm -f $(REPRO_DB) $(REPRO_DB)-wal $(REPRO_DB)-shm
	$(BUILD)/gpenlab sweep experiments/sweep_gpen_rule.yaml -j $(REPRO_JOBS) --db $(REPRO_DB) \
	    --csv results/sweep_gpen_rule.csv --plot results/sweep_gpen_rule-pareto | tee results/sweep_gpen_rule.txt
	$(BUILD)/gpenlab sweep experiments/sweep_hpa_lhs.yaml -j $(REPRO_JOBS) --db $(REPRO_DB) \
	    --csv results/sweep_hpa_lhs.csv --plot results/sweep_hpa_lhs-pareto | tee results/sweep_hpa_lhs.txt
	$(BUILD)/gpenlab reproduce --db $(REPRO_DB) --html results/article.html \
	    --assets results/article-plots | tee results/article_tables.txt

# The MPI variant: the libraries as usual (gcc), the command line (cli/) and sweep_mpi.c
# through mpicc with GPENLAB_MPI. Only built on request and only when mpicc exists
# (libopenmpi-dev).
MPICC ?= mpicc
gpenlab-mpi: $(BUILD)/libgpenlab-drive.a $(BUILD)/libgpenlab.a
	@command -v $(MPICC) >/dev/null 2>&1 || { echo "gpenlab-mpi: $(MPICC) not found (apt-get install libopenmpi-dev openmpi-bin)" >&2; exit 1; }
	$(MPICC) $(CFLAGS_ALL) $(NO_LTO) $(DRIVE_CFLAGS) -DGPENLAB_MPI -o $(BUILD)/gpenlab-mpi $(wildcard cli/*.c) lab/sweep_mpi.c \
	    $(BUILD)/libgpenlab-drive.a $(BUILD)/libgpenlab.a $(LDLIBS_ALL) $(DRIVE_LDLIBS)
	@echo "built $(BUILD)/gpenlab-mpi: mpirun -np N $(BUILD)/gpenlab-mpi sweep FILE.yaml"

# The regression gate: canonical experiments at fixed seeds against experiments/baselines/.
regress: $(BUILD)/gpenlab
	$(BUILD)/gpenlab regress --dir experiments/baselines $(if $(JUNIT),--junit $(JUNIT))

regress-update: $(BUILD)/gpenlab
	$(BUILD)/gpenlab regress --dir experiments/baselines --update
