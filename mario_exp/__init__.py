"""mario-exp: Hydra experiment sweeps of Double DQN on Super Mario Bros."""
