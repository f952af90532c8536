"""The one exception type that means "the user's input is wrong", not "the code is wrong"."""


class AnalysisError(Exception):
    """Bad input for the whole analysis (no runs, unknown key, unwritable folder).

    analyze.py turns it into a single ``analyze.py: error: ...`` line and exit status 2; problems
    with individual runs are warnings instead, so one broken run never hides the others.
    """
