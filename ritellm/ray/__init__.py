"""Completion jobs on Ray Data (the optional extra ``ritellm[ray]``): ``map_completions``
turns a Dataset of conversations into one of answers on a pool of Ray actors, each running
ritellm's fan-out on its own event loop, paced by one limiter for the whole cluster;
``write_completions`` writes them to a directory of Parquet or JSONL files, resumably.

ray is imported when one of these is called; ``import ritellm`` never imports this module.
"""

from __future__ import annotations

from ._job import map_completions
from ._output import JobSummary, finished_ids, write_completions

__all__ = ["JobSummary", "finished_ids", "map_completions", "write_completions"]
