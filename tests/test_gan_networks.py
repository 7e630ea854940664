"""Networks and GAN parts against the reference (junyanz/pytorch-CycleGAN-and-pix2pix).

The key lists below are written down from the reference's ``models/networks.py`` structure (which
layer sits at which Sequential index), not produced by our modules, so a structural change on
our side fails here. Parameter counts are the ones the reference prints when it builds these
networks (``[Network G_A] Total number of parameters : 11.378 M`` etc.).
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from nodeflow.nodes.gan.discriminators import NLayerDiscriminator, PixelDiscriminator, define_D
from nodeflow.nodes.gan.image_pool import ImagePool
from nodeflow.nodes.gan.init import init_weights
from nodeflow.nodes.gan.lab import lab_norm_to_rgb, lightness_norm, rgb_to_lab_norm
from nodeflow.nodes.gan.losses import GANLoss, gradient_penalty
from nodeflow.nodes.gan.schedule import LinearDecay, linear_decay_scheduler
from nodeflow.nodes.pix2pix.networks import (
    GeneratorSpec,
    ResnetGenerator,
    UnetGenerator,
    infer_generator_spec,
)


def bn(prefix: str, c: int) -> list[tuple[str, tuple[int, ...]]]:
    """The five state-dict entries of a BatchNorm2d(c) at ``prefix``."""
    return [(f"{prefix}.weight", (c,)), (f"{prefix}.bias", (c,)), (f"{prefix}.running_mean", (c,)),
            (f"{prefix}.running_var", (c,)), (f"{prefix}.num_batches_tracked", ())]


# resnet_9blocks, instance norm (no affine, so convs carry biases), ngf 64, 3 -> 3: CycleGAN style_* files
RESNET_9BLOCKS_INSTANCE_NGF64 = [
    ("model.1.weight", (64, 3, 7, 7)), ("model.1.bias", (64,)),
    ("model.4.weight", (128, 64, 3, 3)), ("model.4.bias", (128,)),
    ("model.7.weight", (256, 128, 3, 3)), ("model.7.bias", (256,)),
    ("model.10.conv_block.1.weight", (256, 256, 3, 3)), ("model.10.conv_block.1.bias", (256,)),
    ("model.10.conv_block.5.weight", (256, 256, 3, 3)), ("model.10.conv_block.5.bias", (256,)),
    ("model.11.conv_block.1.weight", (256, 256, 3, 3)), ("model.11.conv_block.1.bias", (256,)),
    ("model.11.conv_block.5.weight", (256, 256, 3, 3)), ("model.11.conv_block.5.bias", (256,)),
    ("model.12.conv_block.1.weight", (256, 256, 3, 3)), ("model.12.conv_block.1.bias", (256,)),
    ("model.12.conv_block.5.weight", (256, 256, 3, 3)), ("model.12.conv_block.5.bias", (256,)),
    ("model.13.conv_block.1.weight", (256, 256, 3, 3)), ("model.13.conv_block.1.bias", (256,)),
    ("model.13.conv_block.5.weight", (256, 256, 3, 3)), ("model.13.conv_block.5.bias", (256,)),
    ("model.14.conv_block.1.weight", (256, 256, 3, 3)), ("model.14.conv_block.1.bias", (256,)),
    ("model.14.conv_block.5.weight", (256, 256, 3, 3)), ("model.14.conv_block.5.bias", (256,)),
    ("model.15.conv_block.1.weight", (256, 256, 3, 3)), ("model.15.conv_block.1.bias", (256,)),
    ("model.15.conv_block.5.weight", (256, 256, 3, 3)), ("model.15.conv_block.5.bias", (256,)),
    ("model.16.conv_block.1.weight", (256, 256, 3, 3)), ("model.16.conv_block.1.bias", (256,)),
    ("model.16.conv_block.5.weight", (256, 256, 3, 3)), ("model.16.conv_block.5.bias", (256,)),
    ("model.17.conv_block.1.weight", (256, 256, 3, 3)), ("model.17.conv_block.1.bias", (256,)),
    ("model.17.conv_block.5.weight", (256, 256, 3, 3)), ("model.17.conv_block.5.bias", (256,)),
    ("model.18.conv_block.1.weight", (256, 256, 3, 3)), ("model.18.conv_block.1.bias", (256,)),
    ("model.18.conv_block.5.weight", (256, 256, 3, 3)), ("model.18.conv_block.5.bias", (256,)),
    ("model.19.weight", (256, 128, 3, 3)), ("model.19.bias", (128,)),  # ConvTranspose2d: (in, out, k, k)
    ("model.22.weight", (128, 64, 3, 3)), ("model.22.bias", (64,)),
    ("model.26.weight", (3, 64, 7, 7)), ("model.26.bias", (3,)),
]

# unet_256 (8 levels), batch norm (convs without bias except the outermost up-conv), ngf 64, 3 -> 3
# (pix2pix facades_label2photo). Level prefixes, outermost to innermost:
P1 = "model.model.1.model."
P2 = "model.model.1.model.3.model."
P3 = "model.model.1.model.3.model.3.model."
P4 = "model.model.1.model.3.model.3.model.3.model."
P5 = "model.model.1.model.3.model.3.model.3.model.3.model."
P6 = "model.model.1.model.3.model.3.model.3.model.3.model.3.model."
P7 = "model.model.1.model.3.model.3.model.3.model.3.model.3.model.3.model."
UNET_256_BATCH_NGF64 = [
    ("model.model.0.weight", (64, 3, 4, 4)),
    (P1 + "1.weight", (128, 64, 4, 4)), *bn(P1 + "2", 128),
    (P2 + "1.weight", (256, 128, 4, 4)), *bn(P2 + "2", 256),
    (P3 + "1.weight", (512, 256, 4, 4)), *bn(P3 + "2", 512),
    (P4 + "1.weight", (512, 512, 4, 4)), *bn(P4 + "2", 512),
    (P5 + "1.weight", (512, 512, 4, 4)), *bn(P5 + "2", 512),
    (P6 + "1.weight", (512, 512, 4, 4)), *bn(P6 + "2", 512),
    (P7 + "1.weight", (512, 512, 4, 4)), (P7 + "3.weight", (512, 512, 4, 4)), *bn(P7 + "4", 512),
    (P6 + "5.weight", (1024, 512, 4, 4)), *bn(P6 + "6", 512),
    (P5 + "5.weight", (1024, 512, 4, 4)), *bn(P5 + "6", 512),
    (P4 + "5.weight", (1024, 512, 4, 4)), *bn(P4 + "6", 512),
    (P3 + "5.weight", (1024, 256, 4, 4)), *bn(P3 + "6", 256),
    (P2 + "5.weight", (512, 128, 4, 4)), *bn(P2 + "6", 128),
    (P1 + "5.weight", (256, 64, 4, 4)), *bn(P1 + "6", 64),
    ("model.model.3.weight", (128, 3, 4, 4)), ("model.model.3.bias", (3,)),
]

# unet_128 (7 levels: one 8*ngf middle level fewer), batch norm, ngf 64, 3 -> 3
UNET_128_BATCH_NGF64 = [
    ("model.model.0.weight", (64, 3, 4, 4)),
    (P1 + "1.weight", (128, 64, 4, 4)), *bn(P1 + "2", 128),
    (P2 + "1.weight", (256, 128, 4, 4)), *bn(P2 + "2", 256),
    (P3 + "1.weight", (512, 256, 4, 4)), *bn(P3 + "2", 512),
    (P4 + "1.weight", (512, 512, 4, 4)), *bn(P4 + "2", 512),
    (P5 + "1.weight", (512, 512, 4, 4)), *bn(P5 + "2", 512),
    (P6 + "1.weight", (512, 512, 4, 4)), (P6 + "3.weight", (512, 512, 4, 4)), *bn(P6 + "4", 512),
    (P5 + "5.weight", (1024, 512, 4, 4)), *bn(P5 + "6", 512),
    (P4 + "5.weight", (1024, 512, 4, 4)), *bn(P4 + "6", 512),
    (P3 + "5.weight", (1024, 256, 4, 4)), *bn(P3 + "6", 256),
    (P2 + "5.weight", (512, 128, 4, 4)), *bn(P2 + "6", 128),
    (P1 + "5.weight", (256, 64, 4, 4)), *bn(P1 + "6", 64),
    ("model.model.3.weight", (128, 3, 4, 4)), ("model.model.3.bias", (3,)),
]

# the reference colorization model: unet_256, batch norm, 1 (L) -> 2 (ab) channels
UNET_256_COLORIZATION = [("model.model.0.weight", (64, 1, 4, 4)), *UNET_256_BATCH_NGF64[1:-2],
                         ("model.model.3.weight", (128, 2, 4, 4)), ("model.model.3.bias", (2,))]

# basic PatchGAN of pix2pix: input A+B = 6 channels, batch norm, ndf 64
NLAYER_D_BASIC_BATCH_IN6 = [
    ("model.0.weight", (64, 6, 4, 4)), ("model.0.bias", (64,)),
    ("model.2.weight", (128, 64, 4, 4)), *bn("model.3", 128),
    ("model.5.weight", (256, 128, 4, 4)), *bn("model.6", 256),
    ("model.8.weight", (512, 256, 4, 4)), *bn("model.9", 512),
    ("model.11.weight", (1, 512, 4, 4)), ("model.11.bias", (1,)),
]

# pixel discriminator, instance norm (biases everywhere), 3 channels, ndf 64
PIXEL_D_INSTANCE_IN3 = [
    ("net.0.weight", (64, 3, 1, 1)), ("net.0.bias", (64,)),
    ("net.2.weight", (128, 64, 1, 1)), ("net.2.bias", (128,)),
    ("net.5.weight", (1, 128, 1, 1)), ("net.5.bias", (1,)),
]


def keys_and_shapes(net: nn.Module) -> list[tuple[str, tuple[int, ...]]]:
    return [(k, tuple(v.shape)) for k, v in net.state_dict().items()]


def n_params(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


def on_meta(build):
    with torch.device("meta"):
        return build()


def test_resnet_9blocks_instance_matches_reference_keys_and_size():
    net = on_meta(lambda: GeneratorSpec("resnet_9blocks", 3, 3, 64, "instance").build())
    assert keys_and_shapes(net) == RESNET_9BLOCKS_INSTANCE_NGF64
    assert n_params(net) == 11_378_179  # reference: "Total number of parameters : 11.378 M"


def test_unet_256_batch_matches_reference_keys_and_size():
    net = on_meta(lambda: GeneratorSpec("unet_256", 3, 3, 64, "batch", dropout=True).build())
    assert keys_and_shapes(net) == UNET_256_BATCH_NGF64
    assert n_params(net) == 54_413_955  # reference: "Total number of parameters : 54.414 M"


def test_unet_128_and_colorization_unet_match_reference_keys():
    net = on_meta(lambda: GeneratorSpec("unet_128", 3, 3, 64, "batch", dropout=True).build())
    assert keys_and_shapes(net) == UNET_128_BATCH_NGF64
    color = on_meta(lambda: GeneratorSpec("unet_256", 1, 2, 64, "batch", dropout=True).build())
    assert keys_and_shapes(color) == UNET_256_COLORIZATION
    assert infer_generator_spec(color.state_dict()) == GeneratorSpec("unet_256", 1, 2, 64, "batch")


def test_discriminators_match_reference_keys_and_size():
    d = on_meta(lambda: NLayerDiscriminator(6, 64, 3, "batch"))
    assert keys_and_shapes(d) == NLAYER_D_BASIC_BATCH_IN6
    assert n_params(d) == 2_768_705  # pix2pix D: 2.769 M
    d_inst = on_meta(lambda: NLayerDiscriminator(3, 64, 3, "instance"))
    assert n_params(d_inst) == 2_764_737  # CycleGAN D_A: 2.765 M
    assert keys_and_shapes(on_meta(lambda: PixelDiscriminator(3, 64, "instance"))) == PIXEL_D_INSTANCE_IN3


@pytest.mark.parametrize("n_blocks", [6, 9])
@pytest.mark.parametrize("norm", ["batch", "instance", "none"])
@pytest.mark.parametrize("dropout", [False, True])
def test_resnet_variants_follow_the_reference_layout(n_blocks, norm, dropout):
    """Rule form of the reference layout: blocks at 10.., second block conv at 5 (6 after Dropout)."""
    ngf, in_nc, out_nc = 8, 1, 2
    bias = norm == "instance"

    def conv(i, out_c, in_c, k, has_bias):
        return [(f"{i}.weight", (out_c, in_c, k, k))] + ([(f"{i}.bias", (out_c,))] if has_bias else [])

    def norm_keys(i, c):
        return bn(i, c) if norm == "batch" else []

    want = [*conv("model.1", ngf, in_nc, 7, bias), *norm_keys("model.2", ngf),
            *conv("model.4", 2 * ngf, ngf, 3, bias), *norm_keys("model.5", 2 * ngf),
            *conv("model.7", 4 * ngf, 2 * ngf, 3, bias), *norm_keys("model.8", 4 * ngf)]
    second = 6 if dropout else 5
    for b in range(10, 10 + n_blocks):
        want += [*conv(f"model.{b}.conv_block.1", 4 * ngf, 4 * ngf, 3, bias),
                 *norm_keys(f"model.{b}.conv_block.2", 4 * ngf),
                 *conv(f"model.{b}.conv_block.{second}", 4 * ngf, 4 * ngf, 3, bias),
                 *norm_keys(f"model.{b}.conv_block.{second + 1}", 4 * ngf)]
    up = 10 + n_blocks
    want += [(f"model.{up}.weight", (4 * ngf, 2 * ngf, 3, 3)),
             *([(f"model.{up}.bias", (2 * ngf,))] if bias else []),
             *norm_keys(f"model.{up + 1}", 2 * ngf),
             (f"model.{up + 3}.weight", (2 * ngf, ngf, 3, 3)),
             *([(f"model.{up + 3}.bias", (ngf,))] if bias else []),
             *norm_keys(f"model.{up + 4}", ngf),
             (f"model.{up + 7}.weight", (out_nc, ngf, 7, 7)), (f"model.{up + 7}.bias", (out_nc,))]
    spec = GeneratorSpec(f"resnet_{n_blocks}blocks", in_nc, out_nc, ngf, norm, dropout)
    net = on_meta(spec.build)
    assert keys_and_shapes(net) == want
    assert infer_generator_spec(net.state_dict()) == spec


@pytest.mark.parametrize("arch,downs", [("unet_128", 7), ("unet_256", 8), ("unet_32", 5)])
@pytest.mark.parametrize("norm", ["batch", "instance", "none"])
def test_unet_variants_infer_back(arch, downs, norm):
    spec = GeneratorSpec(arch, 1, 2, 16, norm)
    state = on_meta(spec.build).state_dict()
    # the reference nests one level per downsampling: deepest prefix = 1 + (downs - 2) * '3.'
    deepest = "model.model.1.model." + "3.model." * (downs - 2)
    assert deepest + "1.weight" in state and deepest + "3.model.1.weight" not in state
    assert infer_generator_spec(state) == spec
    assert spec.multiple == 2**downs


def _ref_resnet_forward(sd, x, n_blocks):
    """The reference ResnetGenerator's op order, written with functional ops (instance norm)."""
    def inorm(t):
        return F.instance_norm(t, eps=1e-5)

    def pad(t, p):
        return F.pad(t, (p, p, p, p), mode="reflect")

    h = F.relu(inorm(F.conv2d(pad(x, 3), sd["model.1.weight"], sd["model.1.bias"])))
    h = F.relu(inorm(F.conv2d(h, sd["model.4.weight"], sd["model.4.bias"], stride=2, padding=1)))
    h = F.relu(inorm(F.conv2d(h, sd["model.7.weight"], sd["model.7.bias"], stride=2, padding=1)))
    for b in range(10, 10 + n_blocks):
        p = f"model.{b}.conv_block."
        r = F.relu(inorm(F.conv2d(pad(h, 1), sd[p + "1.weight"], sd[p + "1.bias"])))
        h = h + inorm(F.conv2d(pad(r, 1), sd[p + "5.weight"], sd[p + "5.bias"]))
    for i in (10 + n_blocks, 13 + n_blocks):
        h = F.relu(inorm(F.conv_transpose2d(h, sd[f"model.{i}.weight"], sd[f"model.{i}.bias"], stride=2,
                                            padding=1, output_padding=1)))
    j = 17 + n_blocks
    return torch.tanh(F.conv2d(pad(h, 3), sd[f"model.{j}.weight"], sd[f"model.{j}.bias"]))


def _ref_unet_forward(sd, x, depth, downs, prefix="model.model."):
    """The reference UnetSkipConnectionBlock recursion (batch norm, eval statistics)."""
    def bnorm(t, p):
        return F.batch_norm(t, sd[p + ".running_mean"], sd[p + ".running_var"], sd[p + ".weight"],
                            sd[p + ".bias"], False, 0.0, 1e-5)

    if depth == 0:
        h = F.conv2d(x, sd[prefix + "0.weight"], stride=2, padding=1)
        h = _ref_unet_forward(sd, h, 1, downs, prefix + "1.model.")
        return torch.tanh(F.conv_transpose2d(F.relu(h), sd[prefix + "3.weight"], sd[prefix + "3.bias"],
                                             stride=2, padding=1))
    h = F.conv2d(F.leaky_relu(x, 0.2), sd[prefix + "1.weight"], stride=2, padding=1)
    if depth == downs - 1:  # innermost
        h = bnorm(F.conv_transpose2d(F.relu(h), sd[prefix + "3.weight"], stride=2, padding=1), prefix + "4")
    else:
        h = _ref_unet_forward(sd, bnorm(h, prefix + "2"), depth + 1, downs, prefix + "3.model.")
        h = bnorm(F.conv_transpose2d(F.relu(h), sd[prefix + "5.weight"], stride=2, padding=1), prefix + "6")
    return torch.cat([x, h], 1)


def test_resnet_forward_follows_reference_op_order():
    torch.manual_seed(0)
    net = GeneratorSpec("resnet_6blocks", 3, 3, 8, "instance").build("normal", 0.2).eval()
    x = torch.rand(2, 3, 20, 28) * 2 - 1
    with torch.no_grad():
        assert torch.allclose(net(x), _ref_resnet_forward(net.state_dict(), x, 6), atol=1e-5)


def test_unet_forward_follows_reference_op_order():
    torch.manual_seed(0)
    net = UnetGenerator(1, 2, 5, 4, "batch").eval()
    init_weights(net, "normal", 0.3)
    for m in net.modules():  # non-trivial running statistics
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 2.0)
    x = torch.rand(2, 1, 32, 64) * 2 - 1
    with torch.no_grad():
        assert torch.allclose(net(x), _ref_unet_forward(net.state_dict(), x, 0, 5), atol=1e-5)


def test_init_weights_schemes():
    torch.manual_seed(0)
    net = define_D(3, 64, "basic", norm="batch", init_type="normal", init_gain=0.02)
    conv = net.model[5].weight
    assert abs(conv.std().item() - 0.02) < 0.002 and abs(conv.mean().item()) < 0.002
    assert torch.all(net.model[0].bias == 0)
    bnw = net.model[6].weight
    assert abs(bnw.mean().item() - 1.0) < 0.01 and abs(bnw.std().item() - 0.02) < 0.01
    for scheme in ("xavier", "kaiming", "orthogonal"):
        d = define_D(3, 8, "pixel", norm="instance", init_type=scheme)
        assert torch.isfinite(d.net[0].weight).all() and torch.all(d.net[0].bias == 0)
    with pytest.raises(ValueError):
        init_weights(nn.Conv2d(1, 1, 1), "bogus")


def test_gan_losses():
    pred = torch.tensor([[[[0.2, -1.0], [3.0, 0.5]]]])
    assert torch.isclose(GANLoss("lsgan")(pred, True), F.mse_loss(pred, torch.ones_like(pred)))
    assert torch.isclose(GANLoss("lsgan")(pred, False), F.mse_loss(pred, torch.zeros_like(pred)))
    assert torch.isclose(GANLoss("vanilla")(pred, True),
                         F.binary_cross_entropy_with_logits(pred, torch.ones_like(pred)))
    assert torch.isclose(GANLoss("wgangp")(pred, True), -pred.mean())
    assert torch.isclose(GANLoss("wgangp")(pred, False), pred.mean())
    d = define_D(3, 4, "basic", norm="none")
    real, fake = torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32)
    gp = gradient_penalty(d, real, fake, generator=torch.Generator().manual_seed(0))
    assert gp.item() > 0 and gp.requires_grad
    gp.backward()
    assert d.model[0].weight.grad is not None


def test_image_pool_policy_and_state():
    pool = ImagePool(3, torch.Generator().manual_seed(0))
    first = torch.arange(3.0).view(3, 1, 1, 1)
    assert torch.equal(pool.query(first), first)  # filling: returned as given
    state = pool.state_dict()
    later = [torch.full((2, 1, 1, 1), float(10 + i)) for i in range(6)]
    outs = [pool.query(x) for x in later]
    assert any(not torch.equal(o, x) for o, x in zip(outs, later, strict=True))  # some history returned
    values = {v.item() for o in outs for v in o.flatten()}
    assert values <= {0.0, 1.0, 2.0, *(10.0 + i for i in range(6))}
    again = ImagePool(3)
    again.load_state_dict(state)
    assert all(torch.equal(again.query(x), o) for x, o in zip(later, outs, strict=True))
    assert torch.equal(ImagePool(0).query(first), first)


def test_linear_decay_matches_reference_rule():
    assert [LinearDecay(2, 3)(s) for s in range(5)] == [1.0, 1.0, 0.75, 0.5, 0.25]
    opt = torch.optim.Adam([nn.Parameter(torch.zeros(1))], lr=2e-4)
    sched = linear_decay_scheduler(opt, 2, 3)
    lrs = []
    for _ in range(5):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs == pytest.approx([2e-4, 2e-4, 1.5e-4, 1e-4, 0.5e-4])


def test_lab_scaling_matches_reference_dataset():
    from skimage import color, data

    rgb = data.astronaut()[100:164, 150:214] / 255.0
    lab = color.rgb2lab(rgb)
    t = torch.from_numpy(rgb).permute(2, 0, 1)[None].float()
    l_norm, ab_norm = rgb_to_lab_norm(t)
    assert torch.allclose(l_norm[0, 0], torch.from_numpy(lab[..., 0] / 50.0 - 1.0).float(), atol=1e-4)
    want_ab = torch.from_numpy(lab[..., 1:] / 110.0).permute(2, 0, 1).float()
    assert torch.allclose(ab_norm[0], want_ab, atol=1e-4)
    assert torch.allclose(lab_norm_to_rgb(l_norm, ab_norm), t, atol=1e-4)
    dark_and_light = torch.cat([t, t * 0.02], -1)  # both branches of the L formula
    assert torch.allclose(lightness_norm(dark_and_light), rgb_to_lab_norm(dark_and_light)[0], atol=1e-5)


def test_unknown_keys_are_not_a_generator():
    from nodeflow.errors import NodeError

    d = NLayerDiscriminator(3, 8, 3, "instance")
    with pytest.raises(NodeError, match="cannot recognise"):
        infer_generator_spec(d.state_dict())
    assert isinstance(ResnetGenerator(3, 3, 4, "none", n_blocks=0), nn.Module)
