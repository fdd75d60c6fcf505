"""`<lora:...>` tags and embedding names in prompts."""

from hypothesis import given, settings
from hypothesis import strategies as st

from generation.requests.addons import (
    LoraTag,
    NetworkTag,
    extract_networks,
    find_names,
    lora_tags,
    name_spans,
)


def test_tags_are_taken_out_of_the_text():
    text, tags = extract_networks("masterpiece, <lora:detail:0.7>, red hair <lyco:soft>")
    assert text == "masterpiece, , red hair "
    assert tags == [
        NetworkTag("lora", "detail", 0.7, 0.7, "<lora:detail:0.7>"),
        NetworkTag("lora", "soft", 1.0, 1.0, "<lyco:soft>"),
    ]


def test_tag_weights():
    _, tags = extract_networks("<lora:a:0.5:0.2> <lora:b:te=0.3> <lora:c:1:unet=-1> <LORA:d:-0.5>")
    assert [(t.name, t.te_weight, t.unet_weight) for t in tags] == [
        ("a", 0.5, 0.2),
        ("b", 0.3, 0.3),
        ("c", 1.0, -1.0),
        ("d", -0.5, -0.5),
    ]


def test_malformed_and_other_tags():
    _, tags = extract_networks("<lora:x:strong> <lora::1> <hypernet:h:1>")
    assert [(t.kind, t.name, t.malformed) for t in tags] == [
        ("lora", "x", "weight"),
        ("lora", "", "name"),
        ("hypernet", "h", None),
    ]
    assert lora_tags("<lora:x:strong> <hypernet:h:1>") == ()


def test_lora_set_one_per_name_sorted():
    assert lora_tags("<lora:b:0.5> x <lora:a> <lora:b:0.25>") == (LoraTag("a"), LoraTag("b", 0.75, 0.75))
    assert lora_tags("no tags (here:1.2)") == ()


def test_embedding_names_as_whole_words():
    names = ["EasyNegative", "EasyNegativeV2", "bad-hands-5"]
    text = "EasyNegative, easynegativev2 (bad-hands-5:1.2) notEasyNegative EasyNegative_x"
    assert name_spans(text, names) == [
        (0, 12, "EasyNegative"),
        (14, 28, "EasyNegativeV2"),
        (30, 41, "bad-hands-5"),
    ]
    assert find_names("a EASYNEGATIVE and EasyNegative", names) == ["EasyNegative"]
    assert find_names("nothing here", names) == [] and name_spans("x", []) == []


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="<>:lorayco=.-0123456789 ab", max_size=60))
def test_fuzzed_tags_never_crash(text):
    rest, tags = extract_networks(text)
    assert all(t.text in text for t in tags) and len(rest) <= len(text)
    lora_tags(text)
