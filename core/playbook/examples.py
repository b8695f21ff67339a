"""The example playbooks shipped in the package (``crisiscast.examples``: the playbooks/ folder).

They are package data, so ``crisiscast demo`` and ``crisiscast init`` find them after any
install (a wheel, ``pip install -e .`` in either editable mode), from any working directory.

example_names()                 their file names, e.g. ``regional-flood.yaml``
find_example(name)              the packaged file a bare name such as ``regional-flood`` means
copy_examples(folder, force=)   write them into a folder to edit (``crisiscast init``)
"""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from crisiscast.errors import CrisiscastError

PACKAGE = "crisiscast.examples"


def _examples() -> dict[str, Traversable]:
    """File name -> packaged example, for the YAML files only."""
    folder = resources.files(PACKAGE)
    return {e.name: e for e in folder.iterdir() if e.name.endswith(".yaml") and e.is_file()}


def example_names() -> list[str]:
    """The example playbooks' file names, sorted."""
    return sorted(_examples())


def find_example(name: str) -> Path | None:
    """The packaged example ``name`` means (``regional-flood`` or ``regional-flood.yaml``).

    None when no example has that name, or when the package is not unpacked on disk (a zip).
    """
    entry = _examples().get(name if name.endswith(".yaml") else f"{name}.yaml")
    return entry if isinstance(entry, Path) else None


def copy_examples(folder: Path, *, force: bool = False) -> list[Path]:
    """Write every example playbook into ``folder`` (created if missing); return the files.

    Without ``force`` nothing is written when any of them is already there. Raises
    ``CrisiscastError`` naming the folder when it cannot be written.
    """
    if folder.exists() and not folder.is_dir():
        raise CrisiscastError(f"{folder} is a file, not a folder: give a folder to write into")
    targets = {folder / name: entry for name, entry in sorted(_examples().items())}
    there = [str(path) for path in targets if path.exists()]
    if there and not force:
        raise CrisiscastError(
            f"already there: {', '.join(there)}; nothing was written. Pass --force to "
            "overwrite them, or give another folder"
        )
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for path, entry in targets.items():
            path.write_bytes(entry.read_bytes())
    except OSError as exc:
        raise CrisiscastError(
            f"cannot write the example playbooks into {folder}: {exc.strerror or exc}; "
            "give a folder you can write to"
        ) from None
    return list(targets)
