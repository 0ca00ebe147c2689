"""The 55 ShapeNetCore v2 categories: the single table of synset ids, names and labels.

A label is the index of the synset in the sorted list of synset ids, as in the
published split files (docs/protocol.md section 1).
"""

from __future__ import annotations

from iebench.core.errors import IebenchError

# (synset id, name), sorted by synset id: the position is the class label.
CATEGORIES: tuple[tuple[str, str], ...] = (
    ("02691156", "airplane"),
    ("02747177", "trash bin"),
    ("02773838", "bag"),
    ("02801938", "basket"),
    ("02808440", "bathtub"),
    ("02818832", "bed"),
    ("02828884", "bench"),
    ("02843684", "birdhouse"),
    ("02871439", "bookshelf"),
    ("02876657", "bottle"),
    ("02880940", "bowl"),
    ("02924116", "bus"),
    ("02933112", "cabinet"),
    ("02942699", "camera"),
    ("02946921", "can"),
    ("02954340", "cap"),
    ("02958343", "car"),
    ("02992529", "cellphone"),
    ("03001627", "chair"),
    ("03046257", "clock"),
    ("03085013", "keyboard"),
    ("03207941", "dishwasher"),
    ("03211117", "display"),
    ("03261776", "earphone"),
    ("03325088", "faucet"),
    ("03337140", "file cabinet"),
    ("03467517", "guitar"),
    ("03513137", "helmet"),
    ("03593526", "jar"),
    ("03624134", "knife"),
    ("03636649", "lamp"),
    ("03642806", "laptop"),
    ("03691459", "loudspeaker"),
    ("03710193", "mailbox"),
    ("03759954", "microphone"),
    ("03761084", "microwave"),
    ("03790512", "motorbike"),
    ("03797390", "mug"),
    ("03928116", "piano"),
    ("03938244", "pillow"),
    ("03948459", "pistol"),
    ("03991062", "flowerpot"),
    ("04004475", "printer"),
    ("04074963", "remote control"),
    ("04090263", "rifle"),
    ("04099429", "rocket"),
    ("04225987", "skateboard"),
    ("04256520", "sofa"),
    ("04330267", "stove"),
    ("04379243", "table"),
    ("04401088", "telephone"),
    ("04460130", "tower"),
    ("04468005", "train"),
    ("04530566", "watercraft"),
    ("04554684", "washer"),
)

SYNSETS: tuple[str, ...] = tuple(synset for synset, _ in CATEGORIES)
NUM_CLASSES = len(SYNSETS)

_LABEL_OF_SYNSET = {synset: label for label, synset in enumerate(SYNSETS)}
_SYNSET_OF_NAME = {name: synset for synset, name in CATEGORIES}


def is_synset(synset: str) -> bool:
    return synset in _LABEL_OF_SYNSET


def label_of(synset: str) -> int:
    """Class label (0..54) of a synset id."""
    try:
        return _LABEL_OF_SYNSET[synset]
    except KeyError:
        raise IebenchError(f"{synset!r} is not one of the 55 ShapeNetCore synsets") from None


def synset_of(label_or_name: int | str) -> str:
    """Synset id of a class label or a category name ("airplane")."""
    if isinstance(label_or_name, str):
        if label_or_name in _LABEL_OF_SYNSET:
            return label_or_name
        try:
            return _SYNSET_OF_NAME[label_or_name]
        except KeyError:
            raise IebenchError(f"unknown ShapeNetCore category {label_or_name!r}") from None
    if not 0 <= label_or_name < NUM_CLASSES:
        raise IebenchError(f"class label {label_or_name} is outside 0..{NUM_CLASSES - 1}")
    return SYNSETS[label_or_name]


def name_of(synset_or_label: str | int) -> str:
    """Category name of a synset id or a class label."""
    synset = synset_of(synset_or_label) if isinstance(synset_or_label, int) else synset_or_label
    return CATEGORIES[label_of(synset)][1]


def parse_synsets(items: str | list[str] | tuple[str, ...] | None) -> tuple[str, ...] | None:
    """Synset ids from a comma-separated string or a list of ids and/or names; None means all."""
    if items is None:
        return None
    if isinstance(items, str):
        items = [item for item in items.split(",")]
    synsets = [synset_of(item.strip()) for item in items if item.strip()]
    return tuple(sorted(set(synsets))) or None
