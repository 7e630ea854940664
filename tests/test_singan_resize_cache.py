"""The cached resize matrices are shared by inference (harmonize) and training (autograd)."""

from __future__ import annotations

import torch

from nodeflow.nodes.singan.imresize import imresize


def test_a_matrix_first_made_in_inference_mode_can_be_trained_through():
    # The editor's session harmonizes (inference mode), then a changed param retrains in the same process.
    with torch.inference_mode():
        imresize(torch.rand(1, 3, 23, 19), size=(15, 11))
    y = torch.rand(1, 3, 23, 19, requires_grad=True)
    imresize(y, size=(15, 11)).square().sum().backward()
    assert y.grad is not None and float(y.grad.abs().sum()) > 0
