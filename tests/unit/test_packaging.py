"""lib/packaging.py: deterministic zips with the shared modules at their root, and handlers that load."""

import io
import os
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from lib.lambda_imports import HandlerImportError, import_packaged_handler
from lib.packaging import SHARED_SOURCE, PackageClashError, build_package, zip_bytes

PROJECT_ROOT = Path(__file__).resolve().parents[2]
LAMBDA_ROOT = PROJECT_ROOT / "lib" / "lambda"
CUTOVER_MODULES = {"cutover_flow.py", "cutover_ops.py", "cutover_state.py", "cutover_store.py", "route53_weights.py"}
# The shared modules each function imports, directly or through another one: only these are in its zip.
SHARED_IN_ZIP = {
    "payment_api": {"lambda_support.py", "write_gate.py", "cutover_state.py"},
    "migration_validator": {"lambda_support.py"},
    "schema_migrations": {"lambda_support.py"},
    "traffic_shifter": {"lambda_support.py", *CUTOVER_MODULES},
    "rollback": {"lambda_support.py", *CUTOVER_MODULES},
}
FUNCTIONS = tuple(SHARED_IN_ZIP)


def test_zip_bytes_ignore_mtimes_and_caches(tmp_path):
    source = tmp_path / "fn"
    source.mkdir()
    (source / "handler.py").write_text("def handler(event, context):\n    return event\n")
    first = zip_bytes(source)
    (source / "__pycache__").mkdir()
    (source / "__pycache__" / "handler.cpython-312.pyc").write_bytes(b"cache")
    os.utime(source / "handler.py", (1_000_000, 1_000_000))
    assert zip_bytes(source) == first
    package = build_package(source, tmp_path / "build")
    assert package.path.read_bytes() == first


def files_under(folder):
    return {
        path.relative_to(folder).as_posix()
        for path in folder.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    }


@pytest.mark.parametrize("function", FUNCTIONS)
def test_every_zip_has_its_files_and_the_shared_modules_it_imports_at_its_root(function, tmp_path):
    source = LAMBDA_ROOT / function
    data = zip_bytes(source)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = archive.namelist()
        infos = archive.infolist()
    assert names == sorted(names)
    assert set(names) == files_under(source) | SHARED_IN_ZIP[function]
    assert SHARED_IN_ZIP[function] <= files_under(SHARED_SOURCE)
    assert "handler.py" in names
    assert not [name for name in names if "__pycache__" in name or name.endswith(".pyc")]
    assert {(info.date_time, info.external_attr) for info in infos} == {((1980, 1, 1, 0, 0, 0), 0o644 << 16)}
    assert zip_bytes(source) == data
    assert build_package(source, tmp_path).path.read_bytes() == data


def write_tree(root, files):
    """Creates root/<relative path> for each {relative path: text}; returns root."""
    for relative, text in files.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text)
    return root


def test_shared_modules_are_zipped_from_each_shared_folder_deterministically(tmp_path):
    function = write_tree(tmp_path / "fn", {"handler.py": "import helper\n"})
    shared = write_tree(
        tmp_path / "shared", {"helper.py": "VALUE = 1\n", "__pycache__/helper.cpython-312.pyc": "cache"}
    )
    data = zip_bytes(function, shared_dirs=(shared,))
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.namelist() == ["handler.py", "helper.py"]
    (shared / "helper.py").touch()
    assert zip_bytes(function, shared_dirs=(shared,)) == data
    assert zip_bytes(function, shared_dirs=()) != data


def test_only_the_shared_modules_the_function_reaches_are_zipped(tmp_path):
    function = write_tree(
        tmp_path / "fn",
        {"handler.py": "import json\nimport direct\n\ndef handler(event, context):\n    import late\n"},
    )
    shared = write_tree(
        tmp_path / "shared",
        {
            "direct.py": "from through import VALUE\n",
            "through.py": "VALUE = 1\n",
            "late.py": "",
            "unused.py": "import direct\n",
            "tools/__init__.py": "",
        },
    )
    with zipfile.ZipFile(io.BytesIO(zip_bytes(function, shared_dirs=(shared,)))) as archive:
        assert archive.namelist() == ["direct.py", "handler.py", "late.py", "through.py"]


def test_a_function_file_named_like_a_shared_module_is_an_error(tmp_path):
    function = write_tree(tmp_path / "fn", {"handler.py": "", "helper.py": "# the function's own\n"})
    shared = write_tree(tmp_path / "shared", {"helper.py": "# the shared one\n"})
    with pytest.raises(PackageClashError, match=r"fn: helper\.py is both .*rename"):
        zip_bytes(function, shared_dirs=(shared,))
    with pytest.raises(PackageClashError):
        build_package(function, tmp_path / "build", shared_dirs=(shared,))
    assert not (tmp_path / "build" / "fn.zip").exists()


def test_the_shared_folder_is_not_a_function_and_must_exist(tmp_path):
    with pytest.raises(FileNotFoundError, match="no handler.py"):
        zip_bytes(SHARED_SOURCE)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        zip_bytes(LAMBDA_ROOT / "rollback", shared_dirs=(tmp_path / "missing",))


@pytest.fixture(scope="module")
def handler_imports(tmp_path_factory):
    """Each function's handler imported from its unzipped package, the interpreters side by side."""
    workdir = tmp_path_factory.mktemp("imports")

    def imported(function):
        return import_packaged_handler(build_package(LAMBDA_ROOT / function, workdir / "build").path, workdir)

    with ThreadPoolExecutor(max_workers=len(FUNCTIONS)) as pool:
        return dict(zip(FUNCTIONS, pool.map(imported, FUNCTIONS), strict=True))


@pytest.mark.parametrize("function", FUNCTIONS)
def test_unzipped_handler_imports_without_boto3(handler_imports, function):
    # As in Lambda: the unzipped package alone is on sys.path, shared modules at its root.
    loaded = handler_imports[function].modules
    assert "boto3" not in loaded  # the first client imports it
    assert "lambda_support" in loaded


def test_a_handler_that_cannot_import_is_reported(tmp_path):
    function = write_tree(tmp_path / "broken", {"handler.py": "import psycopg2\n"})
    with pytest.raises(HandlerImportError, match="psycopg2"):
        import_packaged_handler(build_package(function, tmp_path / "build", shared_dirs=()).path, tmp_path)
