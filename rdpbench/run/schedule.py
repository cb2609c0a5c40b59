"""The schedule: which (rate point, image, sampler) rows are still to do, and in which
batches. Pure functions of the run's lists and what is done; the image set a shard or a
torchrun rank evaluates is chosen before (:meth:`rdpbench.datasets.Dataset.sharded`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator


@dataclass(frozen=True)
class Task:
    """One image at one rate point, and the samplers still to decode it with."""

    image: str
    samplers: tuple[str, ...]


@dataclass(frozen=True)
class Batch:
    """Images of one size at one rate point, encoded and decoded together."""

    point: str
    tasks: tuple[Task, ...]

    @property
    def images(self) -> list[str]:
        return [task.image for task in self.tasks]

    def samplers(self) -> list[str]:
        """The samplers any of its images still needs, in the run's order of first use."""
        return list(dict.fromkeys(sampler for task in self.tasks for sampler in task.samplers))


def pending(points: list[str], images: list[str], samplers: list[str], sizes: dict[str, tuple[int, int]],
            done: set[tuple[str, str, str]]) -> list[Batch]:
    """Per rate point (in order) and image size (in order of first appearance), the images
    still to do, as one batch not yet cut to size; ``done`` holds the finished (point,
    sampler, image)."""
    groups = []
    for point in points:
        by_size: dict[tuple[int, int], list[Task]] = {}
        for image in images:
            todo = tuple(s for s in samplers if (point, s, image) not in done)
            if todo:
                by_size.setdefault(sizes[image], []).append(Task(image, todo))
        groups += [Batch(point, tuple(tasks)) for tasks in by_size.values()]
    return groups


def batches(groups: list[Batch], batch_size: Callable[[], int]) -> Iterator[Batch]:
    """The groups of :func:`pending` cut into batches of at most ``batch_size()`` images, asked
    anew before each batch (an automatic size is settled by the first decode)."""
    for group in groups:
        tasks = group.tasks
        while tasks:
            size = batch_size()
            yield Batch(group.point, tasks[:size])
            tasks = tasks[size:]
