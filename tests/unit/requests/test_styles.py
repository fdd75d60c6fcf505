"""Styles: the web UI's styles.csv read as it is, {prompt} placeholders, several in order, lookups."""

from pathlib import Path

import pytest

from generation.requests.prompt import parse_prompt
from generation.requests.styles import (
    Style,
    StyleBook,
    StyleError,
    apply_styles,
    check_style,
    global_styles,
    read_styles_csv,
    split_style_names,
    styles_csv,
    with_styles,
)
from generation.settings import DefaultSettings, StyleSettings

# As the web UI writes it (csv.DictWriter, QUOTE_MINIMAL), with a BOM some editors add.
WEBUI_CSV = (
    "\ufeffname,prompt,negative_prompt\n"
    'Cinematic,"cinematic still of {prompt}, film grain, shallow depth of field",'
    '"cartoon, {prompt}, drawing"\n'
    "Sharp,highly detailed,blurry\n"
    '"Film, noir",black and white,\n'
    ",orphan row without a name,\n"
    "Negative only,,lowres\n"
)


def test_a_webui_styles_csv_is_read_as_it_is():
    styles = read_styles_csv(WEBUI_CSV)
    assert list(styles) == ["Cinematic", "Sharp", "Film, noir", "Negative only"]
    assert styles["Cinematic"] == Style(
        "Cinematic",
        "cinematic still of {prompt}, film grain, shallow depth of field",
        "cartoon, {prompt}, drawing",
    )
    assert styles["Negative only"] == Style("Negative only", "", "lowres")


def test_old_webui_files_call_the_prompt_column_text():
    assert read_styles_csv("name,text\nOld,oil painting\n")["Old"].prompt == "oil painting"


def test_a_file_without_a_name_column_is_refused():
    with pytest.raises(StyleError) as caught:
        read_styles_csv("title,prompt\nx,y\n")
    assert caught.value.code == "style.bad_csv" and caught.value.fields["columns"] == ["title", "prompt"]


def test_placeholder_or_comma_and_several_styles_in_order():
    styles = read_styles_csv(WEBUI_CSV)
    cinematic, sharp = styles["Cinematic"], styles["Sharp"]
    assert apply_styles("a cat", "", [cinematic]) == (
        "cinematic still of a cat, film grain, shallow depth of field",
        "cartoon, , drawing",
    )
    assert apply_styles("a cat", "ugly", [sharp]) == ("a cat, highly detailed", "ugly, blurry")
    # Each style applies to what the one before made: the order matters.
    assert apply_styles("a cat", "", [sharp, cinematic])[0] == (
        "cinematic still of a cat, highly detailed, film grain, shallow depth of field"
    )
    assert apply_styles("a cat", "", [cinematic, sharp])[0] == (
        "cinematic still of a cat, film grain, shallow depth of field, highly detailed"
    )
    assert apply_styles("", "", [sharp]) == ("highly detailed", "blurry")  # no stray comma


def test_with_styles_rewrites_the_request_it_runs():
    request = parse_prompt("a cat --no ugly --seed 3", DefaultSettings())
    styled = with_styles(request, [Style("S", "{prompt}, oil", "blurry")])
    assert (styled.prompt, styled.negative_prompt, styled.seed) == ("a cat, oil", "ugly, blurry", 3)
    assert with_styles(request, []) is request


def test_the_book_prefers_the_first_source_and_ignores_case():
    server = {"Sharp": Style("Sharp", "server sharp")}
    everywhere = read_styles_csv(WEBUI_CSV)
    book = StyleBook(server, everywhere)
    assert book.find("Sharp").prompt == "server sharp"
    assert book.find("cinematic").name == "Cinematic"
    assert "film, NOIR" in book and "nope" not in book
    assert book.names() == ["Cinematic", "Film, noir", "Negative only", "Sharp"]


def test_an_unknown_style_lists_the_closest_names():
    book = StyleBook(read_styles_csv(WEBUI_CSV))
    with pytest.raises(StyleError) as caught:
        book.find_all(["Sharp", "cinematik"])
    assert caught.value.code == "style.unknown"
    assert caught.value.fields == {"name": "cinematik", "suggested": ["Cinematic"], "count": 4}
    with pytest.raises(StyleError) as caught:
        StyleBook().find("x")
    assert caught.value.fields["count"] == 0 and caught.value.fields["suggested"] == []


def test_style_names_split_on_commas():
    assert split_style_names(" Cinematic, film noir ,, ") == ["Cinematic", "film noir"]
    assert split_style_names(None) == [] and split_style_names("") == []


def test_check_style_refuses_what_cannot_be_typed_or_used():
    assert check_style("  My   style ", " {prompt}, oil ", "", max_length=100) == Style(
        "My style", "{prompt}, oil", ""
    )
    for name in ("", "a, b", "x" * 61):
        with pytest.raises(StyleError) as caught:
            check_style(name, "p", "", max_length=100)
        assert caught.value.code == "style.bad_name"
    with pytest.raises(StyleError) as caught:
        check_style("ok", " ", "", max_length=100)
    assert caught.value.code == "style.empty"
    with pytest.raises(StyleError) as caught:
        check_style("ok", "p", "n" * 101, max_length=100)
    assert caught.value.fields == {"name": "ok", "which": "negative_prompt", "length": 101, "max": 100}


def test_exported_csv_reads_back():
    styles = list(read_styles_csv(WEBUI_CSV).values())
    assert list(read_styles_csv(styles_csv(styles)).values()) == styles


def test_global_styles_from_the_file_and_the_config_and_the_file_is_reread(tmp_path: Path):
    path = tmp_path / "styles.csv"
    settings = StyleSettings(file=path, named={"Sharp": {"prompt": "config sharp"}})
    assert set(global_styles(settings)) == {"Sharp"}  # no file yet: only the config's
    path.write_text(WEBUI_CSV, encoding="utf-8")
    styles = global_styles(settings)
    assert styles["Sharp"].prompt == "config sharp" and styles["Cinematic"].negative_prompt
    path.write_text("name,prompt\nCinematic,changed\nLonger name,x\n", encoding="utf-8")
    assert global_styles(settings)["Cinematic"].prompt == "changed"


def test_the_config_s_styles_and_variants_sections(tmp_path: Path):
    from generation.settings import ConfigError, load_settings

    config = tmp_path / "config.toml"
    config.write_text(
        '[styles]\nfile = "my/styles.csv"\nnamed = { Oil = { prompt = "{prompt}, oil painting" } }\n'
        '[variants]\nwildcards_dir = "cards"\nmax_jobs = 3\n',
        encoding="utf-8",
    )
    settings = load_settings(config)
    assert settings.styles.file == tmp_path / "my" / "styles.csv"
    assert global_styles(settings.styles)["Oil"] == Style("Oil", "{prompt}, oil painting", "")
    assert (settings.variants.wildcards_dir, settings.variants.max_jobs) == (tmp_path / "cards", 3)
    for bad, message in (
        ('[styles]\nnamed = { Oil = { text = "x" } }\n', "styles.named.Oil has unknown keys text"),
        ("[variants]\nmax_jobs = 0\n", "variants.max_jobs must be at least 1"),
    ):
        config.write_text(bad, encoding="utf-8")
        with pytest.raises(ConfigError, match=message):
            load_settings(config)
