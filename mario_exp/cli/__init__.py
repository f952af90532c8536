"""The commands: train (Hydra), analyze and play, and the one-line error handling they share.
The checkout's train.py and analyze.py, and the mario-* console scripts, call these."""
