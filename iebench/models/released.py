"""The field's released 3DIEBench checkpoints, rebuilt in plain torch from each repository's
model code (nothing is imported from those repositories) and loaded from their key layouts.

- EquiCaps (AberdeenML/EquiCaps, ``src/models.py``): SIE's reference ResNet-18 under
  ``backbone.*`` (iebench.models.resnet, same names), a capsule projector under
  ``projector.*`` (32 capsules with 3x3 pose matrices, self-routing over the 8x8 map of a
  256 px image) and the online evaluator under ``evaluator.*``; saved by ``main.py`` under
  DistributedDataParallel (``module.``), bare or in ``{"epoch", "model", "optimizer"}``.
  It has no predictor: a relative rotation acts on the pose matrices, ``pose @ R``.
- seq-JEPA (hafezgh/seq-jepa, ``seq-jepa/src/models.py``): torchvision's ResNet-18 (no fc)
  under ``encoder.*`` (the online encoder, which its evaluation probes), with
  ``target_encoder.*``, ``action_proj.*``, ``agg_token``, ``transformer_encoder.*``,
  ``predictor.*``; saved as ``{"model", "optimizer", "min_loss", "epoch", "run_id"}``.
- ContextSSL (Sharut/In-Context-Symmetries, ``models.py``, ``gptmodel.py``): torchvision's
  ResNet-18 (no fc) under ``enc.*``, the context transformer under ``predictor.*``, probes
  under ``equiv_linear.*``, ``aug_predictor.*``, ``rel_aug_predictor.*``; saved as a bare
  ``model.state_dict()`` (``module.`` under its optional DataParallel).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from iebench.core.errors import IebenchError
from iebench.models.resnet import resnet18

# The wrapper dicts and the (Distributed)DataParallel prefix the releases save under.
WRAPPERS = ("model", "state_dict")
PARALLEL_PREFIX = "module."
# How many mismatched keys an error lists before "...".
SHOWN_KEYS = 4


def read_checkpoint(path: Path | None, method: str) -> dict[str, Tensor]:
    """A release's state dict: unwrapped from its training-checkpoint dict, ``module.`` removed."""
    if path is None:
        raise IebenchError(f"no checkpoint: pass --checkpoint with {method}'s released weights")
    path = Path(path)
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        message = " ".join(str(error).split())[:200]
        raise IebenchError(f"{path}: not a readable torch checkpoint ({message})") from None
    for wrapper in WRAPPERS:
        if isinstance(loaded, Mapping) and isinstance(loaded.get(wrapper), Mapping):
            loaded = loaded[wrapper]
            break
    if not isinstance(loaded, Mapping) or not all(isinstance(v, Tensor) for v in loaded.values()):
        raise IebenchError(f"{path}: expected a state dict of tensors, got {type(loaded).__name__}")
    return {str(k).removeprefix(PARALLEL_PREFIX): v for k, v in loaded.items()}


def require_layout(
    state: Mapping[str, Tensor], path: Path, method: str, keys: Sequence[str]
) -> None:
    """Refuse another method's checkpoint (an SIE one also has ``backbone.*``, say)."""
    missing = [key for key in keys if key not in state]
    if missing:
        raise IebenchError(
            f"{path}: not a {method} checkpoint (no {', '.join(missing[:SHOWN_KEYS])}; "
            f"keys start {', '.join(sorted(state)[:3]) or 'nowhere: it is empty'})"
        )


def _shown(keys: list[str]) -> str:
    return ", ".join(keys[:SHOWN_KEYS]) + (
        f", ... ({len(keys)} in all)" if len(keys) > SHOWN_KEYS else ""
    )


def load_part(
    module: nn.Module, state: Mapping[str, Tensor], prefix: str, path: Path, what: str
) -> nn.Module:
    """Load the checkpoint's ``prefix*`` entries into ``module`` strictly, or say which keys
    are missing, unexpected or of the wrong shape."""
    part = {k.removeprefix(prefix): v for k, v in state.items() if k.startswith(prefix)}
    expected = module.state_dict()
    missing = [k for k in expected if k not in part]
    unexpected = [k for k in part if k not in expected]
    reshaped = [
        f"{k} {tuple(part[k].shape)} vs {tuple(v.shape)}"
        for k, v in expected.items()
        if k in part and part[k].shape != v.shape
    ]
    problems = [
        f"{name} {_shown([prefix + k for k in keys])}"
        for name, keys in (("missing", missing), ("unexpected", unexpected))
        if keys
    ]
    if reshaped:
        problems.append(f"shape (checkpoint vs model) {_shown([prefix + k for k in reshaped])}")
    if problems:
        raise IebenchError(f"{path}: {what} does not fit: {'; '.join(problems)}")
    module.load_state_dict(part, strict=True)
    return module


class TorchvisionBlock(nn.Module):
    """torchvision's BasicBlock: the stride on the first conv, a shortcut only when needed."""

    def __init__(self, in_channels: int, channels: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.downsample = None
        if stride != 1 or in_channels != channels:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_channels, channels, 1, stride=stride, bias=False),
                nn.BatchNorm2d(channels),
            )

    def forward(self, x: Tensor) -> Tensor:
        out = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


class TorchvisionResNet18(nn.Module):
    """``torchvision.models.resnet18()`` with ``fc`` replaced by the identity, as seq-JEPA and
    ContextSSL build it: padded 7x7 stem and max-pool, 512-d global average pool."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        channels, stages = 64, []
        for index in range(4):
            out_channels = 64 * 2**index
            stride = 1 if index == 0 else 2
            stages.append(
                nn.Sequential(
                    TorchvisionBlock(channels, out_channels, stride),
                    TorchvisionBlock(out_channels, out_channels, 1),
                )
            )
            channels = out_channels
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))

    def forward(self, x: Tensor) -> Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return torch.flatten(self.avgpool(x), 1)


def load_seq_jepa_encoder(checkpoint: Path | None) -> nn.Module:
    """seq-JEPA's online encoder (``encoder.*``), the one its evaluation probes."""
    state = read_checkpoint(checkpoint, "seq-JEPA")
    require_layout(state, checkpoint, "seq-JEPA", ("agg_token", "encoder.conv1.weight"))
    return load_part(TorchvisionResNet18(), state, "encoder.", checkpoint, "the encoder")


def load_contextssl_encoder(checkpoint: Path | None) -> nn.Module:
    """ContextSSL's ResNet-18 (``enc.*``): the features before its context transformer."""
    state = read_checkpoint(checkpoint, "ContextSSL")
    require_layout(
        state, checkpoint, "ContextSSL", ("predictor._read_in.weight", "enc.conv1.weight")
    )
    return load_part(TorchvisionResNet18(), state, "enc.", checkpoint, "the encoder")


# EquiCaps's released projector: 32 capsules of 3x3 poses over the 8x8 map of 256 px images.
EQUICAPS_CAPSULES = 32
EQUICAPS_POSE = 3
EQUICAPS_MAP = 8
EQUICAPS_LAYOUT = ("backbone.conv1.weight", "projector.conv_pose.weight", "projector.fc.W1")


class CapsuleProjector(nn.Module):
    """EquiCaps's projector: primary capsules (sigmoid activations, pose vectors) from a 3x3
    conv over the backbone's map, then one self-routing layer whose kernel covers the whole
    map, giving each output capsule an activation and a flattened pose matrix."""

    def __init__(
        self,
        in_channels: int = 512,
        capsules: int = EQUICAPS_CAPSULES,
        pose: int = EQUICAPS_POSE,
        kernel: int = EQUICAPS_MAP,
    ) -> None:
        super().__init__()
        self.capsules, self.pose_size, self.kernel = capsules, pose * pose, kernel
        self.conv_a = nn.Conv2d(in_channels, capsules, 3, padding=1, bias=False)
        self.conv_pose = nn.Conv2d(in_channels, capsules * self.pose_size, 3, padding=1, bias=False)
        self.bn_a = nn.BatchNorm2d(capsules)
        self.bn_pose = nn.BatchNorm2d(capsules * self.pose_size)
        self.fc = SelfRouting(capsules, capsules, self.pose_size, kernel)

    def forward(self, feature_map: Tensor) -> tuple[Tensor, Tensor]:
        activations = torch.sigmoid(self.bn_a(self.conv_a(feature_map)))
        poses = self.bn_pose(self.conv_pose(feature_map))
        return self.fc(activations, poses)


class SelfRouting(nn.Module):
    """Self-routing (SR-CapsNet) over a kernel the size of the map: every input capsule at
    every position votes a pose for each output capsule (W1) and routes to it by a softmax
    of its own pose (W2, b2), weighted by its activation."""

    def __init__(self, inputs: int, outputs: int, pose_size: int, kernel: int) -> None:
        super().__init__()
        self.inputs, self.outputs, self.pose_size, self.kernel = inputs, outputs, pose_size, kernel
        votes = kernel * kernel * inputs
        self.W1 = nn.Parameter(torch.empty(votes, outputs * pose_size, pose_size))
        self.W2 = nn.Parameter(torch.zeros(votes, outputs, pose_size))
        self.b2 = nn.Parameter(torch.zeros(1, 1, votes, outputs))
        nn.init.kaiming_normal_(self.W1)

    def forward(self, activations: Tensor, poses: Tensor) -> tuple[Tensor, Tensor]:
        batch, _, height, width = activations.shape
        if (height, width) != (self.kernel, self.kernel):
            raise IebenchError(
                f"EquiCaps's capsule layer needs a {self.kernel}x{self.kernel} backbone map "
                f"({32 * self.kernel} px images), got {height}x{width}"
            )
        area = self.kernel * self.kernel
        # (B, A*C, h, w) -> (B, h*w*A, C, 1): position-major, then capsule, as F.unfold orders it
        poses = poses.reshape(batch, self.inputs, self.pose_size, area).permute(0, 3, 1, 2)
        poses = poses.reshape(batch, area * self.inputs, self.pose_size, 1)
        votes = (self.W1 @ poses).squeeze(-1).reshape(batch, -1, self.outputs, self.pose_size)
        routing = torch.softmax((self.W2 @ poses).squeeze(-1) + self.b2[0], dim=-1)
        weights = activations.reshape(batch, self.inputs, area).transpose(1, 2)
        weights = weights.reshape(batch, area * self.inputs, 1) * routing  # (B, votes, outputs)
        total = weights.sum(dim=1, keepdim=True)
        out_poses = ((weights / total).unsqueeze(-1) * votes).sum(dim=1)
        out_activations = total.squeeze(1) / activations.reshape(batch, -1).sum(1, keepdim=True)
        return out_activations, out_poses.reshape(batch, -1)


def _equicaps_state(checkpoint: Path | None) -> dict[str, Tensor]:
    state = read_checkpoint(checkpoint, "EquiCaps")
    require_layout(state, checkpoint, "EquiCaps", EQUICAPS_LAYOUT)
    return state


def load_equicaps_backbone(checkpoint: Path | None) -> nn.Module:
    """EquiCaps's ResNet-18 (``backbone.*``), average-pooled as its evaluation scripts do."""
    state = _equicaps_state(checkpoint)
    return load_part(resnet18(), state, "backbone.", checkpoint, "the backbone")


class EquiCapsEmbedding(nn.Module):
    """Backbone + capsule projector: images -> [activations (32) | raw pose matrices (288)],
    the embedding EquiCaps's losses and online probes see."""

    def __init__(self) -> None:
        super().__init__()
        self.backbone = resnet18()
        self.backbone.avgpool = nn.Identity()  # keep the map, as EquiCaps's keep_conv does
        self.projector = CapsuleProjector(in_channels=self.backbone.out_dim)

    def forward(self, images: Tensor) -> Tensor:
        flat = self.backbone(images)
        side = round((flat.shape[1] / self.backbone.out_dim) ** 0.5)
        feature_map = flat.reshape(flat.shape[0], self.backbone.out_dim, side, side)
        activations, poses = self.projector(feature_map)
        return torch.cat([activations, poses], dim=1)


def load_equicaps_embedding(checkpoint: Path | None) -> EquiCapsEmbedding:
    state = _equicaps_state(checkpoint)
    model = EquiCapsEmbedding()
    load_part(model.backbone, state, "backbone.", checkpoint, "the backbone")
    load_part(model.projector, state, "projector.", checkpoint, "the capsule projector")
    return model


def quaternion_matrix(quaternions: Tensor) -> Tensor:
    """(B, 4) scalar-last quaternions -> (B, 3, 3) rotation matrices (q and -q give the same)."""
    x, y, z, w = F.normalize(quaternions, dim=1).unbind(1)
    rows = [
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ]
    return torch.stack([torch.stack(row, dim=1) for row in rows], dim=1)


class PoseRotation(nn.Module):
    """EquiCaps's equivariance without a predictor: each capsule's pose matrix P becomes
    P @ R for the relative rotation R = R_src^-1 R_target (its ``x_rot @ transform_matrix``),
    every 3x3 pose normalised to unit Frobenius norm as in its loss.

    ``project`` takes the EquiCapsEmbedding features and keeps their pose part."""

    def __init__(self, capsules: int = EQUICAPS_CAPSULES, pose: int = EQUICAPS_POSE) -> None:
        super().__init__()
        self.capsules, self.pose = capsules, pose

    def _normalised(self, poses: Tensor) -> Tensor:
        poses = poses.reshape(poses.shape[0], self.capsules, self.pose, self.pose)
        return poses / poses.norm(dim=(-2, -1), keepdim=True)

    def project(self, features: Tensor) -> Tensor:
        poses = features[:, self.capsules :]
        return self._normalised(poses).reshape(features.shape[0], -1)

    def predict(self, embeddings: Tensor, quaternions: Tensor) -> Tensor:
        rotation = quaternion_matrix(quaternions.to(embeddings.dtype)).unsqueeze(1)
        rotated = self._normalised(embeddings) @ rotation
        return self._normalised(rotated).reshape(embeddings.shape[0], -1)
