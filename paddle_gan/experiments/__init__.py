"""Experiments over many runs: the loss comparison, the reproduction of the README's quality
tables and the 2-D mode-coverage benchmark. They train (paddle_gan.train) and score
(paddle_gan.evaluation); nothing below imports them."""
