"""History of generated images (Shrivastava et al.): the discriminator sees older fakes too.

Same policy as the reference ``util/image_pool.py``: until full, every new image is stored and
returned; afterwards, with probability 1/2 a stored image is returned and replaced by the new one.
Randomness comes from an explicit ``torch.Generator`` and the pool has a state dict, so a resumed
training continues exactly as an uninterrupted one.
"""

from __future__ import annotations

import torch
from torch import Tensor


class ImagePool:
    def __init__(self, pool_size: int, generator: torch.Generator | None = None):
        self.pool_size = int(pool_size)
        self.generator = generator if generator is not None else torch.Generator()
        self.images: list[Tensor] = []

    def query(self, images: Tensor) -> Tensor:
        """``(B, C, H, W)`` new fakes -> ``(B, C, H, W)`` fakes for the discriminator (detached)."""
        if self.pool_size == 0:
            return images
        out = []
        for image in images.detach():
            image = image.unsqueeze(0)
            if len(self.images) < self.pool_size:
                self.images.append(image.clone())
                out.append(image)
            elif torch.rand((), generator=self.generator).item() > 0.5:
                idx = int(torch.randint(0, self.pool_size, (), generator=self.generator).item())
                out.append(self.images[idx].clone())
                self.images[idx] = image.clone()
            else:
                out.append(image)
        return torch.cat(out, 0)

    def state_dict(self) -> dict[str, Tensor]:
        state = {"rng": self.generator.get_state()}
        if self.images:
            state["images"] = torch.cat(self.images, 0).cpu()
        return state

    def load_state_dict(self, state: dict[str, Tensor], device: torch.device | str = "cpu") -> None:
        self.generator.set_state(state["rng"])
        images = state.get("images")
        self.images = [] if images is None else [im.unsqueeze(0).to(device) for im in images]
