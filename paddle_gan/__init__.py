"""paddle_gan: the classic GANs reproduced in PaddlePaddle 3.x.

Importing the package applies the CPU settings that must precede Paddle's own import
(see :mod:`paddle_gan.runtime`); it does not import Paddle itself.
"""
from paddle_gan.runtime import configure_cpu_env

configure_cpu_env()

__version__ = "0.1.0"
