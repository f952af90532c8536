"""mario-exp's Hydra plugins: Hydra instantiates a sweeper or launcher only from the
hydra_plugins namespace, and imports every module in it at each start (keep them light)."""
