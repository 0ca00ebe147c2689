import pytest
import torch

from iebench.methods.care import chunk_sizes, gram_difference


def random_orthogonal(dim: int, generator: torch.Generator) -> torch.Tensor:
    q, r = torch.linalg.qr(torch.randn(dim, dim, generator=generator, dtype=torch.float64))
    return (q * torch.sign(torch.diagonal(r))).float()


def test_zero_for_an_orthogonal_map_per_chunk():
    generator = torch.Generator().manual_seed(0)
    z1 = torch.randn(24, 16, generator=generator)
    # A different orthogonal map (rotation or reflection) in each chunk of 8, and a rescaling
    # per row, which L2 normalisation removes.
    maps = [random_orthogonal(16, generator) for _ in range(3)]
    z2 = torch.cat([chunk @ q for chunk, q in zip(z1.split(8), maps, strict=True)])
    z2 = z2 * torch.rand(24, 1, generator=generator).add(0.5)
    assert gram_difference(z1, z2, chunk_size=8) < 1e-10


def test_positive_for_a_non_orthogonal_map_and_a_single_chunk_mismatch():
    generator = torch.Generator().manual_seed(1)
    z1 = torch.randn(16, 8, generator=generator)
    stretch = torch.diag(torch.tensor([3.0, 1, 1, 1, 1, 1, 1, 0.2]))
    assert gram_difference(z1, z1 @ stretch, chunk_size=8) > 1e-2
    # orthogonal maps only within chunks: one map across a chunk boundary does not hold
    q1, q2 = random_orthogonal(8, generator), random_orthogonal(8, generator)
    z2 = torch.cat([z1[:8] @ q1, z1[8:] @ q2])
    assert gram_difference(z1, z2, chunk_size=8) < 1e-10
    assert gram_difference(z1, z2, chunk_size=16) > 1e-3


def test_matches_a_hand_computation():
    z1 = torch.tensor([[1.0, 0.0], [0.0, 2.0], [3.0, 3.0]])
    z2 = torch.tensor([[1.0, 0.0], [1.0, 1.0], [0.0, 5.0]])
    # normalised: z1 -> e1, e2, (1,1)/sqrt2 ; z2 -> e1, (1,1)/sqrt2, e2
    # Gram off-diagonals: z1 (0, s, s), z2 (s, 0, s) with s = 1/sqrt2 -> diffs (-s, s, 0) twice
    expected = (2 * 0.5 + 2 * 0.5) / 6
    torch.testing.assert_close(gram_difference(z1, z2, chunk_size=3), torch.tensor(expected))


def test_chunking_keeps_a_short_last_chunk_of_two_rows():
    assert chunk_sizes(10, 4) == [4, 4, 2]
    assert chunk_sizes(9, 4) == [4, 4]
    with pytest.raises(ValueError, match="at least 2 rows"):
        gram_difference(torch.ones(4, 2), torch.ones(4, 2), chunk_size=1)


def test_gradients_flow_to_both_views():
    generator = torch.Generator().manual_seed(2)
    z1 = torch.randn(8, 4, generator=generator, requires_grad=True)
    z2 = torch.randn(8, 4, generator=generator, requires_grad=True)
    gram_difference(z1, z2, chunk_size=4).backward()
    assert z1.grad.abs().sum() > 0 and z2.grad.abs().sum() > 0
