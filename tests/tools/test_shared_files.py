"""tools/shared_files.py: files every suffix shares are replaced whole, and their writers take turns."""

import threading

import pytest

from tools.shared_files import locked, replace_text


def test_a_replaced_file_holds_the_new_text_and_no_partial_file_is_left(tmp_path):
    target = tmp_path / "outputs" / "flat-outputs.json"
    replace_text(target, "first")
    replace_text(target, "second")
    assert target.read_text() == "second"
    assert [path.name for path in target.parent.iterdir()] == ["flat-outputs.json"]


def test_a_failed_write_keeps_the_old_file(tmp_path):
    target = tmp_path / "flat-outputs.json"
    replace_text(target, "kept")
    with pytest.raises(TypeError):
        replace_text(target, b"not text")  # type: ignore[arg-type]  # the failure under test
    assert target.read_text() == "kept"
    assert [path.name for path in tmp_path.iterdir()] == ["flat-outputs.json"]


def test_a_second_writer_says_it_waits_and_runs_after_the_first(tmp_path, capsys):
    lock = tmp_path / "locks" / "shared.lock"
    order: list[str] = []
    first_holds, second_tried = threading.Event(), threading.Event()

    def second_writer() -> None:
        first_holds.wait()
        second_tried.set()
        with locked(lock, waiting="waiting for the first writer"):
            order.append("second")

    writer = threading.Thread(target=second_writer)
    writer.start()
    with locked(lock):
        first_holds.set()
        second_tried.wait()
        writer.join(timeout=0.5)  # it cannot finish while the lock is held
        order.append("first")
    writer.join()
    assert order == ["first", "second"]
    assert "waiting for the first writer" in capsys.readouterr().out
