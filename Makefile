# Thin wrappers over the CLI and scripts. `make help` lists them.
CARGO ?= cargo
BIN = $(CARGO) run --quiet --release --
SCENARIO ?= scenarios/ramp.yaml

.PHONY: help build test lint plan validate schema run dev-stack dev-stack-stop up down logs

help:
	@grep -E '^[a-z-]+:.*?## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

build: ## build the release binary
	$(CARGO) build --release

test: ## run the test suite (the README's test command)
	$(CARGO) test --locked

lint: ## rustfmt + clippy, as CI runs them
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --locked --all-targets -- -D warnings

validate: ## validate every example scenario
	$(BIN) validate scenarios/*.yaml

plan: ## print the plan of SCENARIO
	$(BIN) plan $(SCENARIO) --per-second

schema: ## regenerate scenarios/scenario.schema.json
	$(BIN) schema > scenarios/scenario.schema.json

run: ## run SCENARIO (engine not built yet)
	$(BIN) run $(SCENARIO)

dev-stack: ## install and start Kafka 4.4 (KRaft), LocalStack SQS, Apicurio Schema Registry and Kafka Connect 4.4 on loopback
	scripts/dev-stack install
	scripts/dev-stack start

dev-stack-stop: ## stop the loopback stack
	scripts/dev-stack stop

up: ## docker compose stack (Kafka KRaft, Schema Registry, Connect + SQS sink, LocalStack)
	docker compose up -d --wait

down:
	docker compose down -v

logs:
	docker compose logs -f --tail=100
