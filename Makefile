# The one entry point. `make help` lists the targets.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

# Pinned tool versions, installed into the git-ignored .tools folder (nothing global).
CDK_CLI_VERSION   := 2.1148.1
VERSITYGW_VERSION := v1.8.0
MINIO_VERSION     := v0.0.0-20260212201848-7aac2a2c5b7c
LOCAL_SQS_VERSION := 2.0.2

TOOLS := $(CURDIR)/.tools
CDK   := $(TOOLS)/node_modules/.bin/cdk
GO_TEST_FLAGS ?=
SOAK_FLAGS ?=

.PHONY: help
help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

# ---- tools ---------------------------------------------------------------------------------
$(CDK):
	npm install --prefix $(TOOLS) --no-audit --no-fund --save-exact aws-cdk@$(CDK_CLI_VERSION)

$(TOOLS)/bin/versitygw:
	GOBIN=$(TOOLS)/bin go install github.com/versity/versitygw/cmd/versitygw@$(VERSITYGW_VERSION)

$(TOOLS)/bin/minio:
	GOBIN=$(TOOLS)/bin go install github.com/minio/minio@$(MINIO_VERSION)

$(TOOLS)/sqs/node_modules/local-aws-sqs:
	npm install --prefix $(TOOLS)/sqs --no-audit --no-fund --save-exact local-aws-sqs@$(LOCAL_SQS_VERSION)

lambda/edge/node_modules: lambda/edge/package-lock.json
	npm ci --prefix lambda/edge --no-audit --no-fund
	@touch $@

.PHONY: tools
tools: $(CDK) $(TOOLS)/bin/versitygw $(TOOLS)/sqs/node_modules/local-aws-sqs lambda/edge/node_modules ## Install the CDK CLI and the local stand-ins into .tools
	go mod download

.PHONY: bench-tools
bench-tools: tools $(TOOLS)/bin/minio
	@command -v rclone >/dev/null || { apt-get update -qq && apt-get install -y -qq rclone; } || { echo "the benchmark needs rclone 1.60 (Debian): apt-get install -y rclone"; exit 1; }

# ---- build and synth -----------------------------------------------------------------------
.PHONY: build
build: ## Build the transfer Lambda (linux/arm64) into build/transfer/bootstrap
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 go build -trimpath -tags lambda.norpc -ldflags "-s -w" -o build/transfer/bootstrap ./lambda/transfer

.PHONY: cli
cli: ## Build the backtoorigin command (verify, backfill, redrive) into build/backtoorigin
	go build -trimpath -o build/backtoorigin ./cmd/backtoorigin

.PHONY: synth
synth: build $(CDK) ## Synthesize both stacks into cdk.out (no AWS credentials needed)
	$(CDK) synth --quiet

.PHONY: deploy
deploy: build $(CDK) ## Deploy both stacks: make deploy GCS_BUCKET=name
	@test -n "$${GCS_BUCKET:-}" || { echo "usage: make deploy GCS_BUCKET=<public GCS bucket name>"; exit 2; }
	$(CDK) deploy --all --parameters BackToOrigin:gcsBucketName=$(GCS_BUCKET)

.PHONY: destroy
destroy: $(CDK) ## Remove both stacks (the bucket and its objects are kept)
	$(CDK) destroy --all

# ---- tests ---------------------------------------------------------------------------------
.PHONY: test
test: tools build lint synth test-go test-edge e2e ## Every test: synth, Go (stacks, engine, Lambda), edge (node), end to end

.PHONY: test-go
test-go: tools build
	go test $(GO_TEST_FLAGS) -count=1 $$(go list ./... | grep -v /local/)

.PHONY: test-edge
test-edge: lambda/edge/node_modules $(TOOLS)/bin/versitygw
	npm test --prefix lambda/edge
	node --test lambda/viewer-request/test/*.test.mjs

.PHONY: e2e
e2e: tools ## The whole flow on stand-ins: front + edge + queue + transfer + S3
	go test $(GO_TEST_FLAGS) -count=1 ./local/...

.PHONY: lint
lint: ## go vet, gofmt, and a build for macOS (Linux-only process code stays behind build tags)
	go vet ./...
	GOOS=darwin go build ./...
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

# ---- bench and demo ------------------------------------------------------------------------
.PHONY: bench
bench: bench-edge bench-transfer bench-small bench-list ## Every benchmark: edge handler latency, large and small copies, list + diff, each vs rclone and the ceiling

.PHONY: bench-edge
bench-edge: lambda/edge/node_modules
	npm run bench --prefix lambda/edge
	node lambda/viewer-request/bench/bench.mjs

.PHONY: bench-transfer
bench-transfer: bench-tools
	go run ./bench $(BENCH_FLAGS)

.PHONY: soak
soak: tools ## The whole flow under seeded faults for about 5 minutes; replay with SOAK_FLAGS='-seed N'
	go run ./local/cmd/soak $(SOAK_FLAGS)

.PHONY: bench-list
bench-list: tools ## backtoorigin verify (list + diff, 100,000 keys) vs rclone check --one-way and the bare listings; its memory at 10k-1M synthetic keys
	@command -v rclone >/dev/null || { apt-get update -qq && apt-get install -y -qq rclone; } || { echo "the benchmark needs rclone 1.60 (Debian): apt-get install -y rclone"; exit 1; }
	env -u AWS_CA_BUNDLE go run ./bench/listdiff $(BENCH_LIST_FLAGS)

.PHONY: bench-small
bench-small: bench-tools ## 2,000 small objects through the Lambda's handler vs rclone copy and the stand-ins' ceiling
	go run ./bench -small $(BENCH_FLAGS)

.PHONY: demo
demo: tools ## Run the whole flow on 127.0.0.1 and print what happens; Ctrl-C stops everything
	go run ./local/cmd/demo

.PHONY: demo-migrate
demo-migrate: tools ## A backfill of never-requested objects (progress), the copies, and a verify report, on 127.0.0.1
	go run ./local/cmd/demomigrate $(DEMO_FLAGS)

.PHONY: clean
clean: ## Remove build outputs (keeps .tools)
	rm -rf build cdk.out
