"""A plan right after apply shows no changes: no perpetual diff anywhere in the stack."""

from tools.stack import run_terraform


def test_second_plan_after_apply_shows_no_changes(settings, outputs):
    result = run_terraform(
        settings,
        ["plan", "-detailed-exitcode", "-input=false", "-no-color", "-lock=false", "-parallelism=20"],
        capture=True,
    )
    assert result.returncode == 0, "plan after apply is not empty:\n" + "\n".join(
        line for line in result.stdout.splitlines() if line.strip().startswith(("#", "~", "+", "-"))
    )
    assert "No changes." in result.stdout
