"""Changing experiment records: archive, unarchive, delete, rename, retag.

Queued and running experiments are never moved or deleted (their runner or worker
is still writing into the directory): cancel them first. Status is not editable here;
it changes only through the status machine (`yanex cancel` for a user).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from yanex.core.store import Metadata
from yanex.errors import UsageError
from yanex.results.experiment import Experiment


@dataclass
class Change:
    """What happened to one experiment: `done` (a verb phrase) or why it was `skipped`."""

    experiment: Experiment
    done: str | None = None
    skipped: str | None = None


@dataclass
class Update:
    """Edits for `update`: a new name or description, tags to add and to remove."""

    name: str | None = None
    description: str | None = None
    add_tags: Sequence[str] = field(default_factory=tuple)
    remove_tags: Sequence[str] = field(default_factory=tuple)

    def check(self) -> None:
        """Raise UsageError when there is nothing to do or a tag is both added and removed."""
        if (
            self.name is None
            and self.description is None
            and not (self.add_tags or self.remove_tags)
        ):
            raise UsageError(
                "nothing to update; give --set-name, --set-description, --add-tag or --remove-tag"
            )
        overlap = set(self.add_tags) & set(self.remove_tags)
        if overlap:
            raise UsageError(f"tag {sorted(overlap)[0]!r} is both added and removed; pick one")


def refuse_active(experiments: Sequence[Experiment], action: str) -> None:
    """Raise UsageError if any experiment is queued or running, naming `yanex cancel`."""
    active = [e for e in experiments if e.is_active]
    if not active:
        return
    ids = " ".join(e.id for e in active)
    raise UsageError(
        f"cannot {action} {len(active)} {_noun(len(active))} still queued or running "
        f"({', '.join(f'{e.id} {e.status}' for e in active[:5])}); "
        f"cancel first with `yanex cancel {ids}`, or leave them out"
    )


def archive(experiments: Sequence[Experiment]) -> list[Change]:
    """Move experiments under `<root>/archived/`."""
    refuse_active(experiments, "archive")
    changes = []
    for experiment in experiments:
        if experiment.archived:
            changes.append(Change(experiment, skipped="already archived"))
            continue
        experiment.store.archive(experiment.id)
        changes.append(Change(experiment, done="archived"))
    return changes


def unarchive(experiments: Sequence[Experiment]) -> list[Change]:
    """Move archived experiments back among the active ones."""
    changes = []
    for experiment in experiments:
        if not experiment.archived:
            changes.append(Change(experiment, skipped="not archived"))
            continue
        experiment.store.unarchive(experiment.id)
        changes.append(Change(experiment, done="unarchived"))
    return changes


def delete(experiments: Sequence[Experiment]) -> list[Change]:
    """Remove experiments and all their files for good."""
    refuse_active(experiments, "delete")
    for experiment in experiments:
        experiment.store.delete(experiment.id)
    return [Change(experiment, done="deleted") for experiment in experiments]


def update(experiments: Sequence[Experiment], edits: Update) -> list[Change]:
    """Rename, describe and retag experiments (under each record's lock)."""
    edits.check()
    changes = []
    for experiment in experiments:
        described: list[str] = []

        def change(metadata: Metadata, described: list[str] = described) -> None:
            described.extend(_apply(metadata, edits))

        experiment.metadata = experiment.store.update_metadata(experiment.id, change)
        if described:
            changes.append(Change(experiment, done="; ".join(described)))
        else:
            changes.append(Change(experiment, skipped="already as requested"))
    return changes


def _apply(metadata: Metadata, edits: Update) -> list[str]:
    """Apply `edits` in place; return what changed, in words."""
    described = []
    if edits.name is not None and metadata.get("name") != (edits.name or None):
        metadata["name"] = edits.name or None
        described.append(f"name -> {edits.name!r}" if edits.name else "name removed")
    if edits.description is not None and metadata.get("description") != edits.description:
        metadata["description"] = edits.description or None
        described.append("description set" if edits.description else "description removed")
    tags: list[Any] = list(metadata.get("tags") or [])
    added = [t for t in dict.fromkeys(edits.add_tags) if t not in tags]
    removed = [t for t in dict.fromkeys(edits.remove_tags) if t in tags]
    if added or removed:
        metadata["tags"] = [t for t in tags if t not in removed] + added
        described += [f"+tag {t}" for t in added] + [f"-tag {t}" for t in removed]
    return described


def _noun(count: int) -> str:
    return "experiment" if count == 1 else "experiments"
