#!/usr/bin/env python3
"""Validates scenario files as an editor would: the raw YAML (before ${VAR}
interpolation) against scenarios/scenario.schema.json. Prints one line per
file, `ok` or the first problem; exits 1 if any file fails.
  check_editor_schema.py FILE...
"""
import json
import os
import sys

import jsonschema
import yaml

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
with open(os.path.join(root, "scenarios", "scenario.schema.json")) as f:
    validator = jsonschema.Draft202012Validator(json.load(f))
failed = 0
for path in sys.argv[1:]:
    with open(path) as f:
        doc = yaml.safe_load(f)
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
    if errors:
        failed += 1
        e = errors[0]
        print(f"{path}: {'/'.join(map(str, e.absolute_path))}: {e.message[:200]}")
    else:
        print(f"{path}: ok")
sys.exit(1 if failed else 0)
