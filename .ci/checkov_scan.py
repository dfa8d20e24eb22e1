"""The security scan: checkov over the planned AWS resources, with the skips of
security/checkov-skips.yaml (each with its reason). Fails on any other failed check and on a
skip that no longer matches a failure; prints the counts.

    python .ci/checkov_scan.py <checkov executable> <terraform plan JSON>
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

SKIPS = Path(__file__).resolve().parent.parent / "security" / "checkov-skips.yaml"


def main(checkov: str, plan: str) -> int:
    skips = yaml.safe_load(SKIPS.read_text())
    bad = [check for check, reason in skips.items() if not isinstance(reason, str) or len(reason.split()) < 8]
    if bad:
        print(f"{SKIPS}: give each skip its reason: {', '.join(bad)}")
        return 1
    # Every check runs; a failure listed in the skips counts as skipped (with its reason).
    result = subprocess.run(
        [checkov, "--file", plan, "--framework", "terraform_plan", "--skip-download", "--output", "json"],
        capture_output=True, text=True, check=False,
    )
    report = json.loads(result.stdout)
    summary = report["summary"]
    failures = report["results"]["failed_checks"]
    skipped = [check for check in failures if check["check_id"] in skips]
    failed = [check for check in failures if check["check_id"] not in skips]
    for check in skipped:
        print(f"skipped {check['check_id']} {check['resource']}: {' '.join(skips[check['check_id']].split()[:12])}…")
    for check in failed:
        print(f"FAILED {check['check_id']} {check['resource']}: {check['check_name']}")
    stale = sorted(set(skips) - {check["check_id"] for check in skipped})
    for check in stale:
        print(f"STALE skip {check}: it no longer fails; remove it from {SKIPS.name}")
    print(f"checkov {summary['checkov_version']}: {summary['passed']} passed, {len(skipped)} skipped with a reason "
          f"(security/{SKIPS.name}), {len(failed)} failed, {summary['resource_count']} resources")
    return 1 if failed or stale else 0


if __name__ == "__main__":
    raise SystemExit(main(*sys.argv[1:]))
