"""What a run folder holds and who writes it: file names, CSV columns, TensorBoard tags and
statuses (contract.py, read by the analysis too), atomic writes, the one-writer lock, the
logbook that writes the files, the console progress lines, the final window, and which config
changes a run folder survives (resumable.py)."""
