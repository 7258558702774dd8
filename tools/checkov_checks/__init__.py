"""checkov custom checks (CKV_TAP_*), loaded by `checkov --external-checks-dir tools/checkov_checks`."""
