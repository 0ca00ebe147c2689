import numpy as np
import pytest
import scipy.ndimage
import torch
from PIL import Image

from iebench.core.errors import IebenchError
from iebench.methods.pretext import (
    BLUR_KERNEL_SIZES,
    JIGSAW_PERMUTATIONS,
    TRANSFORMS,
    gaussian_kernel,
    get_transform,
)

EXPECTED_CLASSES = {
    "hflip": 2,
    "grayscale": 2,
    "rot4": 4,
    "vflip": 2,
    "jigsaw": 24,
    "blur4": 4,
    "invert": 2,
}


def images(count: int = 6, size: int = 16, seed: int = 0) -> torch.Tensor:
    return torch.rand(count, 3, size, size, generator=torch.Generator().manual_seed(seed))


def apply_one(name: str, image: torch.Tensor, label: int) -> torch.Tensor:
    return get_transform(name)(image[None], torch.tensor([label]))[0]


def test_every_transformation_has_its_number_of_classes_and_identity_class_zero():
    assert {name: t.num_classes for name, t in TRANSFORMS.items()} == EXPECTED_CLASSES
    x = images()
    for transform in TRANSFORMS.values():
        torch.testing.assert_close(transform(x, torch.zeros(len(x), dtype=torch.long)), x)


def test_every_class_is_a_distinct_transformation():
    x = images(1, 16)[0]
    for name, transform in TRANSFORMS.items():
        outputs = [apply_one(name, x, label) for label in range(transform.num_classes)]
        for a in range(len(outputs)):
            for b in range(a + 1, len(outputs)):
                assert not torch.allclose(outputs[a], outputs[b]), (name, a, b)


def test_sampled_labels_cover_the_classes_and_follow_the_generator():
    x = images(count=400, size=16)
    for transform in TRANSFORMS.values():
        out, labels = transform.sample(x, torch.Generator().manual_seed(7))
        again, labels_again = transform.sample(x, torch.Generator().manual_seed(7))
        torch.testing.assert_close(out, again)
        assert torch.equal(labels, labels_again)
        assert labels.dtype == torch.long and labels.shape == (400,)
        assert set(labels.tolist()) == set(range(transform.num_classes))
        # each image got its own label's transformation
        for index in (0, 1, 2):
            expected = apply_one(transform.name, x[index], int(labels[index]))
            torch.testing.assert_close(out[index], expected)


def test_flips_rotations_and_inversion():
    x = images(1)[0]
    torch.testing.assert_close(apply_one("hflip", x, 1), x.flip(-1))
    torch.testing.assert_close(apply_one("vflip", x, 1), x.flip(-2))
    for label in range(4):
        torch.testing.assert_close(apply_one("rot4", x, label), torch.rot90(x, label, (-2, -1)))
    # label 1 turns a marker in the top-right corner to the top-left (counter-clockwise)
    marker = torch.zeros(3, 4, 4)
    marker[:, 0, 3] = 1
    assert apply_one("rot4", marker, 1)[0, 0, 0] == 1
    torch.testing.assert_close(apply_one("invert", x, 1), 1 - x)


def test_grayscale_matches_pil():
    rgb = (images(1, 8)[0] * 255).round()
    pil = Image.fromarray(rgb.permute(1, 2, 0).numpy().astype(np.uint8)).convert("L")
    gray = apply_one("grayscale", rgb / 255, 1)
    assert torch.equal(gray[0], gray[1]) and torch.equal(gray[1], gray[2])
    reference = torch.from_numpy(np.asarray(pil, dtype=np.float32)) / 255
    assert (gray[0] - reference).abs().max() <= 1 / 255 + 1e-6


def test_jigsaw_moves_tiles_by_the_labelled_permutation():
    assert len(set(JIGSAW_PERMUTATIONS)) == 24 and JIGSAW_PERMUTATIONS[0] == (0, 1, 2, 3)
    tiles = torch.zeros(3, 8, 8)
    corners = [(0, 0), (0, 4), (4, 0), (4, 4)]  # tile index = value
    for value, (row, col) in enumerate(corners):
        tiles[:, row : row + 4, col : col + 4] = value
    for label, permutation in enumerate(JIGSAW_PERMUTATIONS):
        out = apply_one("jigsaw", tiles, label)
        for position, (row, col) in enumerate(corners):
            assert torch.all(out[:, row : row + 4, col : col + 4] == permutation[position])
    # content inside a tile keeps its orientation
    x = images(1, 8)[0]
    swapped = apply_one("jigsaw", x, JIGSAW_PERMUTATIONS.index((1, 0, 2, 3)))
    torch.testing.assert_close(swapped[:, :4, :4], x[:, :4, 4:])


@pytest.mark.parametrize("label", [1, 2, 3])
def test_blur_matches_a_2d_gaussian_with_reflect_padding(label):
    size = BLUR_KERNEL_SIZES[label]
    x = images(1, 20)[0]
    kernel = gaussian_kernel(size).double().numpy()
    expected = np.stack(
        [
            scipy.ndimage.correlate(c, np.outer(kernel, kernel), mode="mirror")
            for c in x.double().numpy()
        ]
    )
    out = apply_one("blur4", x, label)
    np.testing.assert_allclose(out.numpy(), expected, atol=1e-5)
    assert out.std() < x.std()
    assert abs(float(gaussian_kernel(size).sum()) - 1) < 1e-6


def test_stronger_blur_levels_remove_more_detail():
    x = images(1, 32)[0]
    spreads = [float(apply_one("blur4", x, label).std()) for label in range(4)]
    assert spreads == sorted(spreads, reverse=True)


def test_bad_inputs_fail_with_one_clear_message():
    with pytest.raises(IebenchError, match="unknown transformation 'mirror'"):
        get_transform("mirror")
    with pytest.raises(IebenchError, match="rot4: images must be square"):
        get_transform("rot4")(torch.rand(1, 3, 8, 6), torch.tensor([1]))
    with pytest.raises(IebenchError, match="jigsaw: image sides must be even"):
        get_transform("jigsaw")(torch.rand(1, 3, 7, 7), torch.tensor([1]))
    with pytest.raises(IebenchError, match="blur4: images need sides >= 8"):
        get_transform("blur4")(torch.rand(1, 3, 6, 6), torch.tensor([1]))
    with pytest.raises(IebenchError, match="label 4 outside 0..3"):
        get_transform("rot4")(torch.rand(1, 3, 8, 8), torch.tensor([4]))


def test_normalised_images_are_transformed_in_pixel_space():
    mean, std = (0.5, 0.4, 0.3), (0.1, 0.2, 0.25)
    pixels = images(4)
    mean_t, std_t = torch.tensor(mean).view(1, 3, 1, 1), torch.tensor(std).view(1, 3, 1, 1)
    normalised = (pixels - mean_t) / std_t
    labels = torch.tensor([0, 1, 1, 0])
    for name in ("invert", "grayscale"):
        transform = get_transform(name)
        out = transform.apply_normalised(normalised, labels, mean, std)
        torch.testing.assert_close(out * std_t + mean_t, transform(pixels, labels))
