"""One run from start to end: the loop (play, store, learn, sync), its checkpoints and resume,
near-greedy evaluation, episode videos, and the two ways it stops early."""
