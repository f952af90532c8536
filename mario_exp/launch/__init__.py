"""A command of several jobs: short job folder names, and each job's outcome for the summary
printed once the launcher returns."""
