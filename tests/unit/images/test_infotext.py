"""The add-on keys of the web UI's infotext: written, read back by us and by sd-parsers."""

import io

from PIL import Image
from sd_parsers import ParserManager

from generation.images.metadata import (
    format_parameters,
    parse_hash_list,
    parse_parameters,
    pnginfo,
    request_from_parameters,
)
from generation.problems import Problem
from generation.requests.applied import Applied, EmbeddingUse, LoraUse, Note, VaeUse
from generation.requests.request import GenerationRequest

REQUEST = GenerationRequest(
    "masterpiece, (red hair:1.2), <lora:detail:0.7> <lora:soft, style:-0.3>",
    negative_prompt="EasyNegative, blurry",
    width=512,
    height=768,
    steps=25,
    cfg_scale=6.5,
    sampler="DPM++ 2M Karras",
    seed=1234,
    count=1,
    clip_skip=2,
    vae="vae-ft-mse.safetensors",
)
APPLIED = Applied(
    loras=(
        LoraUse("detail", "detail.safetensors", 0.7, 0.7, "0123456789ab"),
        LoraUse("soft, style", "soft, style.safetensors", -0.3, -0.3, "ba9876543210"),
    ),
    embeddings=(EmbeddingUse("EasyNegative", "EasyNegative.safetensors", "c74b4e810b03", 8),),
    vae=VaeUse("vae-ft-mse.safetensors", "735e4c3a44", "request"),
    clip_skip=2,
    prompt_chunks=1,
    negative_chunks=1,
    notes=(Problem(Note.OTHER_NETWORK, kind="hypernet", name="x"),),
)


def test_the_add_on_keys_in_the_web_uis_format_and_order():
    text = format_parameters(REQUEST, 1234, "anything-v3", "43f0501ac4", applied=APPLIED)
    assert text.splitlines()[-1] == (
        "Steps: 25, Sampler: DPM++ 2M Karras, CFG scale: 6.5, Seed: 1234, Size: 512x768, "
        "Model hash: 43f0501ac4, Model: anything-v3, VAE hash: 735e4c3a44, VAE: vae-ft-mse.safetensors, "
        "Clip skip: 2, "
        'Lora hashes: "detail: 0123456789ab, soft style: ba9876543210", '
        'TI hashes: "EasyNegative: c74b4e810b03"'
    )
    params = parse_parameters(text)
    assert parse_hash_list(params["Lora hashes"]) == {"detail": "0123456789ab", "soft style": "ba9876543210"}
    assert parse_hash_list(params["TI hashes"]) == {"EasyNegative": "c74b4e810b03"}


def test_nothing_is_written_for_what_was_not_applied():
    plain = Applied()
    text = format_parameters(REQUEST.replace(clip_skip=None, vae=None), 1, "m", None, applied=plain)
    assert not any(key in text for key in ("VAE", "Clip skip", "Lora hashes", "TI hashes"))
    # without what was applied, the request's own clip skip and VAE name are written
    asked = format_parameters(REQUEST, 1, "m", None)
    assert "Clip skip: 2" in asked and "VAE: vae-ft-mse.safetensors" in asked and "VAE hash" not in asked
    assert "VAE" not in format_parameters(REQUEST.replace(vae="Automatic"), 1, "m", None)


def test_read_back_by_request_from_parameters():
    text = format_parameters(REQUEST, 1234, "anything-v3", "43f0501ac4", applied=APPLIED)
    again = request_from_parameters(text)
    assert again == REQUEST.replace(model="anything-v3")
    assert again.loras == REQUEST.loras and (again.clip_skip, again.vae) == (2, "vae-ft-mse.safetensors")


def test_read_back_by_sd_parsers_from_a_png():
    text = format_parameters(REQUEST, 1234, "anything-v3", "43f0501ac4", applied=APPLIED)
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, format="PNG", pnginfo=pnginfo(text))
    buffer.seek(0)
    info = ParserManager().parse(Image.open(buffer))
    assert info is not None and info.generator.name == "AUTOMATIC1111"
    [sampler] = info.samplers
    assert sampler.name == "DPM++ 2M Karras" and sampler.model.name == "anything-v3"
    assert sampler.prompts[0].value == REQUEST.prompt  # the <lora:...> tags stay in the prompt
    assert sampler.negative_prompts[0].value == REQUEST.negative_prompt
    assert (info.metadata["Clip skip"], info.metadata["VAE"], info.metadata["VAE hash"]) == (
        "2",
        "vae-ft-mse.safetensors",
        "735e4c3a44",
    )
    # sd-parsers splits items at every ":" and drops the quoted hash lists, as it does for the
    # web UI's own images: they are read back by our reader above
    assert "Lora hashes" not in info.metadata


def test_applied_travels_as_a_dict():
    assert Applied.from_dict(APPLIED.to_dict()) == APPLIED
    assert Applied.from_dict({}) == Applied()
