import pytest

from iebench.core.errors import IebenchError
from iebench.protocol import taxonomy


def test_fifty_five_synsets_in_label_order():
    assert taxonomy.NUM_CLASSES == 55
    assert list(taxonomy.SYNSETS) == sorted(taxonomy.SYNSETS)
    assert len(set(taxonomy.SYNSETS)) == 55
    assert len({name for _, name in taxonomy.CATEGORIES}) == 55
    assert taxonomy.SYNSETS[0] == "02691156" and taxonomy.SYNSETS[-1] == "04554684"


@pytest.mark.parametrize(
    ("synset", "name"),
    [("02691156", "airplane"), ("03001627", "chair"), ("04379243", "table"), ("02958343", "car")],
)
def test_lookups_agree(synset, name):
    label = taxonomy.label_of(synset)
    assert taxonomy.synset_of(label) == synset
    assert taxonomy.synset_of(name) == synset
    assert taxonomy.name_of(synset) == name
    assert taxonomy.name_of(label) == name


def test_known_labels():
    assert taxonomy.label_of("02691156") == 0
    assert taxonomy.label_of("04379243") == 49
    assert taxonomy.label_of("04554684") == 54


def test_bad_lookups_raise_one_line_errors():
    with pytest.raises(IebenchError, match="not one of the 55"):
        taxonomy.label_of("99999999")
    with pytest.raises(IebenchError, match="unknown ShapeNetCore category"):
        taxonomy.synset_of("spaceship")
    with pytest.raises(IebenchError, match="outside"):
        taxonomy.synset_of(55)


def test_parse_synsets_accepts_ids_and_names():
    assert taxonomy.parse_synsets("chair, 02691156") == ("02691156", "03001627")
    assert taxonomy.parse_synsets(["table"]) == ("04379243",)
    assert taxonomy.parse_synsets(None) is None
