"""The worker image's tag digest: what the build context sends, read from .dockerignore as
Docker reads it, and a digest that moves with the build's inputs and only with them."""

from __future__ import annotations

from pathlib import Path

from conftest import REPO
from wove_batch.resources.build_context import context_digest, context_files


def tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def test_dockerignore_as_docker_reads_it(tmp_path: Path) -> None:
    root = tree(tmp_path, {
        ".dockerignore": "# allow-list\n*\n!src/\n!keep.txt\nsrc/**/*.pyc\n!src/special.pyc\n",
        "keep.txt": "", "drop.txt": "", "src/a.py": "", "src/deep/b.pyc": "", "src/special.pyc": "",
        ".venv/lib/x.py": "",
    })
    assert list(context_files(root)) == ["keep.txt", "src/a.py", "src/special.pyc"]


def test_the_project_context_is_the_package_and_the_image_folder() -> None:
    files = list(context_files(REPO))
    assert "pyproject.toml" in files and "worker_image/Dockerfile" in files and "components/spec.py" in files
    assert not [f for f in files if f.startswith((".venv/", "tests/", ".git/")) or "__pycache__" in f]


def test_the_digest_moves_with_the_inputs_only(tmp_path: Path) -> None:
    root = tree(tmp_path, {"Dockerfile": "FROM scratch\n", "app.py": "print(1)\n"})
    dockerfile = root / "Dockerfile"
    first = context_digest(root, dockerfile, {"PYTHON_VERSION": "3.11"}, "linux/amd64")
    assert first == context_digest(root, dockerfile, {"PYTHON_VERSION": "3.11"}, "linux/amd64")
    assert len(first) == 16
    changed = {
        context_digest(root, dockerfile, {"PYTHON_VERSION": "3.12"}, "linux/amd64"),
        context_digest(root, dockerfile, {"PYTHON_VERSION": "3.11"}, "linux/arm64"),
    }
    (root / "app.py").write_text("print(2)\n")
    changed.add(context_digest(root, dockerfile, {"PYTHON_VERSION": "3.11"}, "linux/amd64"))
    assert first not in changed and len(changed) == 3
