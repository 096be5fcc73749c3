"""Training: dataset → latents → loss → checkpoint → exported model folder."""
