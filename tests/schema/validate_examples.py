"""Validates topology files against `topolab schema` with an independent
JSON Schema implementation (python-jsonschema), as an editor would.

usage: validate_examples.py SCHEMA.json FILE.yaml...   (exit 1 on the first failure)
"""
import json
import sys

import jsonschema
import yaml

schema = json.load(open(sys.argv[1]))
jsonschema.Draft202012Validator.check_schema(schema)
validator = jsonschema.Draft202012Validator(schema)
bad = 0
for path in sys.argv[2:]:
    doc = yaml.safe_load(open(path))
    for err in validator.iter_errors(doc):
        bad += 1
        print(f"{path}: {'/'.join(map(str, err.absolute_path))}: {err.message}")
sys.exit(1 if bad else 0)
