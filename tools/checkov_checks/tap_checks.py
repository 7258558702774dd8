"""The deploy-readiness rules of tools/deploy_readiness.py as checkov checks (CKV_TAP_1..5).

checkov loads this file from `--external-checks-dir` inside its own virtualenv; the rules need the whole
synthesized document (they span resources), so each check reads the file checkov is scanning.
"""

from __future__ import annotations

import json
import os
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any

from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck

PROJECT_ROOT = Path(__file__).resolve().parents[2]
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

from tools.deploy_readiness import CHECKS, Check  # noqa: E402 - after the project is importable


@lru_cache(maxsize=8)
def _document(path: str) -> dict[str, Any]:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def _scanned_file(entity_path: str) -> str:
    """checkov names the scanned file relative to its working directory, with a leading slash."""
    scanned = entity_path.rsplit(":", 2)[0]
    for candidate in (scanned, os.path.join(os.getcwd(), scanned.lstrip("/"))):
        if os.path.isfile(candidate):
            return candidate
    raise FileNotFoundError(f"cannot find the scanned file {scanned!r}")


class DeployReadinessCheck(BaseResourceCheck):
    def __init__(self, check: Check) -> None:
        self.rule = check.rule
        super().__init__(
            name=check.name,
            id=check.id,
            categories=[CheckCategories.GENERAL_SECURITY],
            supported_resources=list(check.resource_types),
        )

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        _, resource_type, name = self.entity_path.rsplit(":", 2)
        reason = self.rule(_document(_scanned_file(self.entity_path)), resource_type, name)
        if reason:
            self.details.append(reason)
            return CheckResult.FAILED
        return CheckResult.PASSED


checks = [DeployReadinessCheck(check) for check in CHECKS]
