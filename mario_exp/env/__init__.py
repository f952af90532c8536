"""Mario as the agent sees it: the real NES emulator behind preprocessed frames, the frame
stacks, several envs stepped together (optionally in worker processes), and a gym.Env view."""
