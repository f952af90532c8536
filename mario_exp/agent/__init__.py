"""The learner: the Q-network and its Double DQN update, the replay buffer and its priorities,
and the background thread that runs updates while the loop plays."""
