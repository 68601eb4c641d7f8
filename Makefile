# Thin wrappers over the CLI and scripts. `make help` lists them.
CARGO ?= cargo
BIN = $(CARGO) run --quiet --release --
SCENARIO ?= scenarios/ramp.yaml

.PHONY: help demo build test lint plan validate schema run run-offline dev-stack dev-stack-stop up down logs

help:
	@grep -E '^[a-z-]+:.*?## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

demo: ## fresh clone → build, install and start the loopback stack, run scenarios/ramp.yaml unchanged; exits with the run's code
	$(CARGO) build --release
	scripts/dev-stack install
	@env_file=$$(scripts/dev-stack start | tail -n 1) && set -a && . "$$env_file" && set +a && \
	  $(BIN) run scenarios/ramp.yaml --teardown

build: ## build the release binary
	$(CARGO) build --release

test: ## start the loopback stack if it is not up, then the README's test command
	scripts/dev-stack install
	@env_file=$$(scripts/dev-stack start | tail -n 1) && \
	  MBS_STACK_ENV="$$env_file" $(CARGO) test --locked

lint: ## rustfmt + clippy, as CI runs them
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --locked --all-targets -- -D warnings

validate: ## validate every example scenario
	$(BIN) validate scenarios/*.yaml

plan: ## print the plan of SCENARIO
	$(BIN) plan $(SCENARIO) --per-second

schema: ## regenerate scenarios/scenario.schema.json
	$(BIN) schema > scenarios/scenario.schema.json

run: ## run SCENARIO against the loopback stack's endpoints (stack.env)
	@env_file=$$(scripts/dev-stack start | tail -n 1) && set -a && . "$$env_file" && set +a && \
	  $(BIN) run $(SCENARIO)

run-offline: ## run SCENARIO without infrastructure (file sink under /tmp/mbs-out)
	$(BIN) run $(SCENARIO) --sink file:/tmp/mbs-out --no-setup

dev-stack: ## install and start Kafka 4.4 (KRaft), LocalStack SQS, Apicurio Schema Registry and Kafka Connect 4.4 on loopback
	scripts/dev-stack install
	scripts/dev-stack start

dev-stack-stop: ## stop the loopback stack
	scripts/dev-stack stop

up: ## docker compose stack (Kafka KRaft, Schema Registry, Connect + SQS sink, LocalStack)
	docker compose up -d --wait

down: ## stop the docker compose stack and drop its volumes
	docker compose down -v

logs: ## follow the docker compose stack's logs
	docker compose logs -f --tail=100
