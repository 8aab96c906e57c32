# The README's commands. Each installs what is missing (scripts/install-deps.sh), then builds.
BUILD ?= build
SANITIZE_BUILD ?= build-sanitize
FUZZ_BUILD ?= build-fuzz
COVERAGE_BUILD ?= build-coverage
FUZZ_SECONDS ?= 60
JOBS ?= 2
PREFIX ?= /usr/local
CMAKE_FLAGS ?=

.PHONY: all deps build demo test bench bench-torch sanitize fuzz mutants coverage install clean

all: build

deps:
	@bash scripts/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

# A short run of the Fashion-MNIST classifier (a minute or two on 2 cores); the full run is
# $(BUILD)/examples/classify --epochs 5.
demo: build
	@$(BUILD)/examples/classify --steps 300 --epochs 1 --out out/demo
	@echo "outputs in out/demo: metrics.csv, checkpoint.safetensors, predictions.png"

test: build
	@cd $(BUILD) && ctest --output-on-failure --timeout 1200

bench:
	@bash scripts/install-deps.sh --bench
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)
	@bash scripts/run-bench.sh $(BUILD)

bench-torch:
	@bash scripts/install-deps.sh --bench --torch
	@bash scripts/run-bench.sh $(BUILD) --torch

# The tests under AddressSanitizer + UndefinedBehaviorSanitizer (no examples or benchmarks; no CUDA:
# ASan and the CUDA runtime's reserved address ranges do not mix).
# allocator_may_return_null: a request larger than ASan's heap (a user asking for terabytes) returns
# null as glibc's allocator does, so the test that it becomes ember's "out of CPU memory" error holds
# under ASan too, instead of ASan aborting the process.
sanitize: deps
	@cmake -S . -B $(SANITIZE_BUILD) -DCMAKE_BUILD_TYPE=None -DCMAKE_CXX_FLAGS="-O1 -g" \
	  -DEMBER_SANITIZE=address,undefined -DEMBER_BUILD_EXAMPLES=OFF -DEMBER_BUILD_BENCH=OFF -DEMBER_CUDA=OFF >/dev/null
	@cmake --build $(SANITIZE_BUILD) -j$(JOBS)
	@cd $(SANITIZE_BUILD) && ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --output-on-failure --timeout 1800

# libFuzzer on the safetensors loader for FUZZ_SECONDS, under ASan + UBSan (clang). New inputs that
# reach new code are kept in $(FUZZ_BUILD)/corpus; a crash leaves crash-* in the current folder.
fuzz:
	@bash scripts/install-deps.sh --fuzz
	@cmake -S . -B $(FUZZ_BUILD) -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=None -DCMAKE_CXX_FLAGS="-O1 -g" \
	  -DEMBER_SANITIZE=address,undefined,fuzzer-no-link -DEMBER_FUZZ=ON -DEMBER_CUDA=OFF -DEMBER_ONEDNN=OFF \
	  -DEMBER_BUILD_TESTS=OFF -DEMBER_BUILD_EXAMPLES=OFF -DEMBER_BUILD_BENCH=OFF >/dev/null
	@cmake --build $(FUZZ_BUILD) -j$(JOBS) --target fuzz_safetensors
	@mkdir -p $(FUZZ_BUILD)/corpus
	@ASAN_OPTIONS=detect_leaks=1 $(FUZZ_BUILD)/tests/fuzz/fuzz_safetensors -max_total_time=$(FUZZ_SECONDS) \
	  -max_len=4096 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 -dict=tests/fuzz/safetensors.dict \
	  $(FUZZ_BUILD)/corpus tests/fuzz/seeds

# Mutation testing (not in CI: a build of a copy of the tree, then per mutant an incremental build and
# ctest): every plausible bug listed in scripts/mutants.txt must make a test fail. MUTANTS=id1,id2
# runs a subset; the copy and its build stay in $(BUILD)/mutants for the next run.
mutants: deps
	@MUTANTS_DIR=$(abspath $(BUILD))/mutants JOBS=$(JOBS) bash scripts/mutants.sh

# Line coverage of the CPU library by the whole test suite (unit tests and the trainers' script
# tests), gcov instrumentation at -O0 so that lines map to code. The report counts the library's
# own sources only: tests, examples, benchmarks and the CUDA backend (not built here) are left out.
# A failing test does not stop the report. ccache is used when CMAKE_CXX_COMPILER_LAUNCHER is set
# in the environment; gcovr gets no --object-directory because ccache's base_dir makes the source
# paths in the .gcno files relative to each target's build folder, which gcovr finds by walking up
# from each .gcda file.
coverage:
	@bash scripts/install-deps.sh --coverage
	@cmake -S . -B $(COVERAGE_BUILD) -DCMAKE_BUILD_TYPE=None -DCMAKE_CXX_FLAGS="-O0 --coverage" \
	  -DEMBER_CUDA=OFF -DEMBER_BUILD_BENCH=OFF $(if $(CMAKE_CXX_COMPILER_LAUNCHER),-DCMAKE_CXX_COMPILER_LAUNCHER=$(CMAKE_CXX_COMPILER_LAUNCHER)) >/dev/null
	@cmake --build $(COVERAGE_BUILD) -j$(JOBS)
	@find $(COVERAGE_BUILD) -name '*.gcda' -delete
	-@cd $(COVERAGE_BUILD) && ctest --output-on-failure --timeout 1800
	@gcovr --root . -j $(JOBS) \
	  --filter 'core/' --filter 'ops/' --filter 'backends/' --filter 'nn/' --filter 'optim/' \
	  --filter 'io/' --filter 'data/' --exclude 'backends/cuda/' \
	  --print-summary --sort-percentage --txt $(COVERAGE_BUILD)/coverage.txt $(COVERAGE_BUILD) \
	  | tee $(COVERAGE_BUILD)/coverage-summary.txt
	@awk '/^lines:/ {sub("%", "", $$2); print "coverage: " $$2 "% of library lines"; found = 1} END {exit !found}' $(COVERAGE_BUILD)/coverage-summary.txt

install: build
	@cmake --install $(BUILD) --prefix $(PREFIX)

clean:
	rm -rf $(BUILD) $(SANITIZE_BUILD) $(FUZZ_BUILD) $(COVERAGE_BUILD)
