#!/usr/bin/env python3
"""Prints which tests ctest skipped, and fails on skips that the policy forbids.

    skip_report.py JUNIT_XML TESTS_JSON [--strict-labels mail,e2e,lua]

JUNIT_XML is `ctest --output-junit` output; TESTS_JSON is
`ctest --show-only=json-v1`, for each test's labels. A test skips only when
the component it needs is absent (issue 16); with --strict-labels, any skip of
a test carrying one of those labels is a failure (exit status 1), because a
machine that runs CI must have every component installed.
"""

import argparse
import json
import sys
import xml.etree.ElementTree as ET


def labels_by_test(tests_json):
    with open(tests_json, encoding="utf-8") as f:
        data = json.load(f)
    out = {}
    for test in data.get("tests", []):
        labels = []
        for prop in test.get("properties", []):
            if prop.get("name") == "LABELS":
                labels = list(prop.get("value") or [])
        out[test.get("name")] = labels
    return out


def own_reason(output):
    """The test's own words for its skip, from its output.

    GoogleTest prints "FILE:LINE: Skipped" and the reason on the next line;
    tests/lua/run.sh prints "skip  WHAT: WHY".
    """
    lines = [line.strip() for line in output.splitlines()]
    for i, line in enumerate(lines):
        if line.endswith(": Skipped") and i + 1 < len(lines) and lines[i + 1]:
            return lines[i + 1]
    for line in lines:
        if line.startswith("skip "):
            return line
    return ""


def skipped_tests(junit_xml):
    """(name, reason) of every test ctest reports as not run (skipped)."""
    out = []
    for case in ET.parse(junit_xml).getroot().iter("testcase"):
        skipped = case.find("skipped")
        if case.get("status") == "notrun" or skipped is not None:
            reason = ""
            if skipped is not None:
                reason = skipped.get("message") or (skipped.text or "")
            said = own_reason(case.findtext("system-out") or "")
            if said:
                reason = said
            out.append((case.get("name"), reason.strip()))
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("junit_xml")
    parser.add_argument("tests_json")
    parser.add_argument("--strict-labels", default="")
    args = parser.parse_args()

    strict = {label for label in args.strict_labels.split(",") if label}
    labels = labels_by_test(args.tests_json)
    skipped = skipped_tests(args.junit_xml)
    forbidden = 0
    print(f"== skipped: {len(skipped)} test(s)")
    for name, reason in skipped:
        test_labels = labels.get(name, [])
        bad = bool(strict.intersection(test_labels))
        forbidden += bad
        mark = "  NOT ALLOWED" if bad else ""
        print(f"   {name} [{','.join(test_labels)}]: {reason or '(no reason given)'}{mark}")
    if forbidden:
        print(
            f"== {forbidden} skipped test(s) in labels {','.join(sorted(strict))}: "
            "under CI every component they need must be installed and working"
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
