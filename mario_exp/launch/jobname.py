"""The folder name of a sweep's job: `<job number>_<its overrides>`, as Hydra's
`${hydra.job.num}_${hydra.job.override_dirname}` would give, but short enough to be a file name.

A realistic sweep of 17 overrides makes a name of 400+ bytes, and most file systems refuse
names over 255 (`OSError: File name too long`). A longer name keeps its first bytes, so it
still reads as its overrides, and ends in a hash of all of them, so two jobs never share a
folder. The full overrides are in the job's `.hydra/overrides.yaml` either way.
"""
from __future__ import annotations

import hashlib

from omegaconf import OmegaConf

RESOLVER = "mario_exp.job_dirname"
# Room under 255 bytes for what tools add beside a name (a ".tmp" copy, an archive suffix).
MAX_NAME_BYTES = 200
_HASH_CHARS = 12


def job_dirname(num: int, override_dirname: str) -> str:
    """`<num>_<override_dirname>`, cut to MAX_NAME_BYTES with a hash of the whole when longer."""
    name = f"{num}_{override_dirname}"
    encoded = name.encode()
    if len(encoded) <= MAX_NAME_BYTES:
        return name
    digest = hashlib.sha256(encoded).hexdigest()[:_HASH_CHARS]
    head = encoded[:MAX_NAME_BYTES - _HASH_CHARS - 1].decode("utf-8", "ignore")  # whole characters only
    return f"{head}_{digest}"


def register() -> None:
    """Make ${mario_exp.job_dirname:...} (conf/hydra/default.yaml) resolvable in this process."""
    if not OmegaConf.has_resolver(RESOLVER):
        OmegaConf.register_new_resolver(RESOLVER, job_dirname)
