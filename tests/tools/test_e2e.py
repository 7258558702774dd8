"""tools/e2e.py: the tracks that run beside the integration tests."""

import threading

from tools import e2e


def test_tracks_run_beside_the_caller_and_their_logs_and_failures_come_back(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(e2e, "LOG_DIR", tmp_path)
    everyone_running = threading.Barrier(3, timeout=10)  # both tracks and the caller, at the same time

    def passing(out):
        everyone_running.wait()
        out.write("second suffix: 7 passed\n")
        return []

    def failing(out):
        everyone_running.wait()
        out.write("BASE plan: exit 1\n")
        return ["BASE plan test"]

    meanwhile = e2e.Meanwhile({"e2e-second-suffix": passing, "e2e-base-plan": failing})
    everyone_running.wait()
    assert meanwhile.finish() == ["BASE plan test"]
    shown = capsys.readouterr().out
    assert "meanwhile: second-suffix; output in" in shown and "meanwhile: base-plan; output in" in shown
    assert shown.index("second suffix: 7 passed") < shown.index("BASE plan: exit 1")
    assert (tmp_path / "e2e-base-plan.log").read_text() == "BASE plan: exit 1\n"


def test_a_step_with_a_log_writes_its_title_and_output_there(tmp_path):
    log = tmp_path / "track.log"
    with log.open("w") as out:
        exit_code = e2e.step("a step", ["sh", "-c", "echo to stdout; echo to stderr >&2; exit 3"], {}, out=out)
    assert exit_code == 3
    assert log.read_text().splitlines() == ["", "=== a step ===", "to stdout", "to stderr"]
