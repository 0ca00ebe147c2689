"""The one seed-to-generator derivation (iebench.core.seeding), pinned: a change of any
derivation changes every dataset, split and evaluation drawn from it. The torch generators
(iebench.data.torch_seeding) are seeded from it: their draws are pinned too."""

import pytest
import torch

from iebench.core import seeding
from iebench.core.errors import IebenchError
from iebench.data.torch_seeding import seeded_global_state, torch_generator, torch_stream_generator


def test_text_keys_give_pinned_numbers():
    assert seeding.key_digest("split", 0, "02691156", "abc").hex()[:16] == "9e8561c62a1b3426"
    assert seeding.numpy_generator(0, "02691156", "abc", 3).random(2).tolist() == pytest.approx(
        [0.9707197615236955, 0.3937362182951153], abs=0
    )
    assert seeding.cycles_seed("cycles", 0, "02691156", "abc", 3) == 1589116833
    assert seeding.torch_seed(0, "rotation", "train") == 5482391495001522081
    drawn = torch.rand(2, generator=torch_generator(0, "rotation", "train"))
    assert drawn.tolist() == pytest.approx([0.5374261736869812, 0.9337761998176575], abs=0)


def test_integer_streams_give_pinned_numbers():
    assert seeding.stream_generator(0, 1, 2).random(2).tolist() == pytest.approx(
        [0.8817035384837327, 0.28917661385918403], abs=0
    )
    assert seeding.stream_int(0, 7) == 9250883288030345305
    assert seeding.stream_int(0, 1, 2) == 3071860871404845570
    drawn = torch.rand(2, generator=torch_stream_generator(0, 1, 2))
    assert drawn.tolist() == pytest.approx([0.2997555136680603, 0.7287184596061707], abs=0)


def test_seed_zero_is_a_seed_and_negative_seeds_are_refused():
    assert seeding.numpy_generator(0, "k").random() != seeding.numpy_generator(1, "k").random()
    with pytest.raises(IebenchError, match="seed must be >= 0"):
        seeding.stream_generator(-1, 0)


def test_seeded_global_state_draws_pinned_numbers_and_restores_the_global_state():
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    with seeded_global_state(0):
        drawn = torch.rand(2).tolist()
    assert drawn == pytest.approx([0.49625658988952637, 0.7682217955589294], abs=0)
    assert torch.equal(torch.random.get_rng_state(), before)
