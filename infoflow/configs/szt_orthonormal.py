"""SZT tanh with orthonormality regularisation of the hidden kernels.

Where each setting comes from: the regularisation step W <- W - alpha (W W^T
W - W) after every update, the paper (docs/method.md, section 7); alpha =
1e-3 per step, our choice (the paper gives none): with 13 steps an epoch it
keeps the kernels close to orthonormal over 10,000 epochs without slowing
the fit. Everything else, including the 'uniform_fan_in' initialisation (the
authors' code), as `szt` (see its docstring).
"""

from infoflow.configs import szt


def get_config():
  c = szt.get_config()
  c.name = 'szt_orthonormal'
  c.orthonormal_alpha = 1e-3
  return c
