"""What a run is asked to do: the typed schema of every key (default, range, one-line doc) and
the preflight that composes and checks every job of a command line before any starts."""
