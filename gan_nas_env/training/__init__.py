"""GAN losses, the training step, proxy training, full retraining and checkpoint scoring."""
