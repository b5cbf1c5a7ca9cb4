"""The image of an ID document as kept (core.data_requests.id_images): decoded in full, upright, encoded anew from
its pixels with none of the file's metadata; anything but a whole JPEG or PNG image refused with its reason."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from flask import Flask
from flask_babel import Babel
from PIL import Image, ImageCms
from PIL.PngImagePlugin import PngInfo

from core.data_requests.id_images import (
    MAX_SIDE,
    IdImageProblem,
    IdImageRefused,
    clean_id_image,
    refusal_message,
)

XMP = (
    b'<?xpacket begin="\xef\xbb\xbf" id="W5M0MpCehiHzreSzNTczkc9d"?>'
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    b'<rdf:Description xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:CreatorTool="SecretEditor 9.1"/>'
    b'</rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
)
XMP_APP1_HEADER = b"http://ns.adobe.com/xap/1.0/\x00"
ORIENTATION, MAKE, MODEL, USER_COMMENT, EXIF_IFD, GPS_IFD = 0x0112, 0x010F, 0x0110, 0x9286, 0x8769, 0x8825


def encoded(image: Image.Image, kind: str, **params: object) -> bytes:
    out = io.BytesIO()
    image.save(out, kind, **params)
    return out.getvalue()


def with_xmp(jpeg: bytes) -> bytes:
    """``jpeg`` with an XMP packet in its own APP1 segment right after the start marker, as editors write it."""
    payload = XMP_APP1_HEADER + XMP
    return jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload + jpeg[2:]


def revealing_exif(orientation: int = 1) -> Image.Exif:
    """EXIF as a phone writes it: the camera, a comment, and where the photo was taken (Utrecht)."""
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    exif[MAKE] = "PhoneMaker"
    exif[MODEL] = "Pocket 12 Pro"
    exif.get_ifd(EXIF_IFD)[USER_COMMENT] = b"ASCII\x00\x00\x00my passport, kitchen table"
    exif.get_ifd(GPS_IFD).update({1: "N", 2: (52.0, 5.0, 26.0), 3: "E", 4: (5.0, 7.0, 10.0)})
    return exif


def decoded(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def refusal(data: bytes, **limits: int) -> IdImageProblem:
    with pytest.raises(IdImageRefused) as refused:
        clean_id_image(data, **limits)
    return refused.value.reason


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_claiming(width: int, height: int) -> bytes:
    """A PNG of a few dozen bytes whose header claims ``width`` × ``height`` 8-bit grey pixels: never allocated."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + png_chunk(b"IEND", b"")
    )


# -- what is kept -------------------------------------------------------------------------------------------------
def test_a_jpeg_comes_back_without_exif_gps_camera_comment_xmp_or_icc_profile() -> None:
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    original = with_xmp(
        encoded(
            Image.new("RGB", (640, 400), (200, 30, 40)),
            "JPEG",
            exif=revealing_exif().tobytes(),
            comment=b"scanned at home",
            icc_profile=srgb,
        )
    )
    before = decoded(original)  # the test's own file has all of it, as Pillow reads it
    assert {"exif", "comment", "icc_profile", "xmp"} <= set(before.info)
    assert before.getexif().get_ifd(GPS_IFD)

    clean = clean_id_image(original)

    assert (clean.media_type, clean.width, clean.height) == ("image/jpeg", 640, 400)
    for revealing in (b"Exif", b"PhoneMaker", b"Pocket", b"kitchen", b"scanned at home", b"ns.adobe.com", b"xpacket",
                      b"SecretEditor", b"ICC_PROFILE"):  # fmt: skip
        assert revealing not in clean.data
    after = decoded(clean.data)
    assert after.format == "JPEG"
    assert not {"exif", "comment", "icc_profile", "xmp", "photoshop", "adobe"} & set(after.info)
    assert len(after.getexif()) == 0
    assert [marker for marker, _ in after.applist] == ["APP0"]  # the JFIF header alone: no APP1 (EXIF, XMP), APP2 (ICC)
    red, green, blue = after.convert("RGB").getpixel((320, 200))  # type: ignore[misc]
    assert abs(red - 200) <= 4 and abs(green - 30) <= 4 and abs(blue - 40) <= 4  # sRGB to sRGB: the same colour


def swapped_primaries_profile() -> bytes:
    """An RGB ICC profile whose red primary is sRGB's green and whose green is sRGB's red: sRGB's own profile with
    the offsets of its rXYZ and gXYZ tags swapped in the tag table. In it, "pure red" is what sRGB calls green."""
    profile = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    (count,) = struct.unpack(">I", profile[128:132])
    entries = {bytes(profile[at : at + 4]): at for at in range(132, 132 + 12 * count, 12)}
    red, green = entries[b"rXYZ"], entries[b"gXYZ"]
    profile[red + 4 : red + 12], profile[green + 4 : green + 12] = (
        profile[green + 4 : green + 12],
        profile[red + 4 : red + 12],
    )
    return bytes(profile)


def test_colours_are_converted_to_srgb_from_the_files_icc_profile() -> None:
    tagged = encoded(Image.new("RGB", (20, 20), (255, 0, 0)), "PNG", icc_profile=swapped_primaries_profile())
    clean = clean_id_image(tagged)
    assert b"iCCP" not in clean.data
    assert decoded(clean.data).getpixel((10, 10)) == pytest.approx((0, 255, 0), abs=2)  # what the file's red means


def test_orientation_6_comes_back_turned_upright() -> None:
    """Orientation 6: the stored pixels are shown turned 90° clockwise. A black corner stored top left is seen top
    right, and the stored 300 × 200 is seen 200 wide and 300 high."""
    stored = Image.new("RGB", (300, 200), "white")
    stored.paste((0, 0, 0), (0, 0, 60, 60))
    clean = clean_id_image(encoded(stored, "JPEG", exif=revealing_exif(orientation=6).tobytes()))

    assert (clean.width, clean.height) == (200, 300)
    seen = decoded(clean.data).convert("L")
    assert seen.size == (200, 300)
    assert seen.getpixel((200 - 30, 30)) < 30  # type: ignore[operator]
    assert seen.getpixel((30, 30)) > 225  # type: ignore[operator]
    assert seen.getpixel((30, 300 - 30)) > 225  # type: ignore[operator]
    assert len(decoded(clean.data).getexif()) == 0  # no orientation left to turn it a second time


def test_a_png_comes_back_without_text_chunks_exif_or_icc_profile() -> None:
    info = PngInfo()
    info.add_text("Author", "Jan Jansen")
    info.add_text("Comment", "BSN 123456782", zip=True)  # zTXt
    info.add_itxt("XML:com.adobe.xmp", XMP.decode())  # iTXt, the way XMP goes in a PNG
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    original = encoded(
        Image.new("RGB", (120, 80), (10, 120, 250)), "PNG", pnginfo=info, exif=revealing_exif().tobytes(),
        icc_profile=srgb,
    )  # fmt: skip
    assert {b"tEXt", b"zTXt", b"iTXt", b"eXIf", b"iCCP"} <= {original[i : i + 4] for i in range(len(original))}

    clean = clean_id_image(original)

    assert (clean.media_type, clean.width, clean.height) == ("image/png", 120, 80)
    for chunk_or_text in (b"tEXt", b"zTXt", b"iTXt", b"eXIf", b"iCCP", b"Jan Jansen", b"PhoneMaker", b"xmp"):
        assert chunk_or_text not in clean.data
    after = decoded(clean.data)
    assert after.format == "PNG"
    assert after.info == {} or set(after.info) <= {"dpi"}
    assert after.getpixel((60, 40)) == (10, 120, 250)  # PNG is lossless: the very pixels


def test_a_large_photo_is_brought_down_to_the_long_side_limit() -> None:
    clean = clean_id_image(encoded(Image.new("RGB", (4000, 2500), "white"), "JPEG"))
    assert (clean.width, clean.height) == (MAX_SIDE, 1875)
    assert decoded(clean.data).size == (MAX_SIDE, 1875)


def test_modes_the_encoders_refuse_become_ones_they_take() -> None:
    cmyk = clean_id_image(encoded(Image.new("CMYK", (50, 40), (0, 0, 0, 0)), "JPEG"))
    assert decoded(cmyk.data).mode == "RGB"
    assert decoded(cmyk.data).getpixel((25, 20)) == pytest.approx((255, 255, 255), abs=3)

    palette = Image.new("P", (30, 30), 0)
    palette.putpalette([255, 0, 0, 0, 0, 255])
    palette.paste(1, (0, 0, 10, 10))
    see_through = clean_id_image(encoded(palette, "PNG", transparency=0))
    assert decoded(see_through.data).mode == "RGBA"
    assert decoded(see_through.data).getpixel((5, 5)) == (0, 0, 255, 255)
    assert decoded(see_through.data).getpixel((20, 20))[3] == 0  # type: ignore[index]

    grey16 = Image.frombytes("I;16", (4, 1), struct.pack("<4H", 0, 0x4000, 0x8000, 0xFFFF))
    eight_bit = decoded(clean_id_image(encoded(grey16, "PNG")).data)
    assert eight_bit.mode == "L"
    assert [eight_bit.getpixel((x, 0)) for x in range(4)] == [0, 0x40, 0x80, 0xFF]  # scaled down, not clipped at 255


# -- what is refused ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("empty file", b"", IdImageProblem.NOT_AN_IMAGE),
        ("text renamed .jpg", b"Mijn paspoortnummer staat hieronder.\n", IdImageProblem.NOT_AN_IMAGE),
        ("random bytes", bytes(range(256)) * 4, IdImageProblem.NOT_AN_IMAGE),
        ("PDF", b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n%%EOF\n", IdImageProblem.UNSUPPORTED_TYPE),
        ("SVG", b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"/>', IdImageProblem.UNSUPPORTED_TYPE),
        ("bare SVG", b'  <svg xmlns="http://www.w3.org/2000/svg"><rect/></svg>', IdImageProblem.UNSUPPORTED_TYPE),
        ("HEIC", b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 64, IdImageProblem.UNSUPPORTED_TYPE),
    ],
)
def test_what_is_not_a_jpeg_or_png_is_refused_by_its_content(name: str, data: bytes, reason: IdImageProblem) -> None:
    assert refusal(data) is reason, name


@pytest.mark.parametrize("kind", ["GIF", "WEBP", "TIFF", "BMP"])
def test_other_image_types_pillow_could_read_are_refused_as_unsupported(kind: str) -> None:
    assert refusal(encoded(Image.new("RGB", (40, 30), "white"), kind)) is IdImageProblem.UNSUPPORTED_TYPE


@pytest.fixture(params=["strict", "weasyprint"])
def truncated_images_setting(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Pillow's own setting, and the one WeasyPrint sets for the whole process when it is imported (as every app
    process does, for the mandate): damaged files must be refused either way."""
    from PIL import ImageFile

    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", request.param == "weasyprint")


@pytest.mark.usefixtures("truncated_images_setting")
def test_a_truncated_jpeg_is_damaged() -> None:
    whole = encoded(Image.effect_noise((400, 300), 64).convert("RGB"), "JPEG", quality=90)
    assert refusal(whole[: len(whole) * 2 // 3]) is IdImageProblem.DAMAGED
    assert refusal(whole[:100]) is IdImageProblem.DAMAGED  # the header is cut off too
    assert refusal(b"\xff\xd8\xff" + b"\x00" * 200) is IdImageProblem.DAMAGED  # JPEG's first bytes and nothing else


@pytest.mark.usefixtures("truncated_images_setting")
def test_a_png_with_corrupt_pixel_data_is_damaged() -> None:
    good = encoded(Image.effect_noise((200, 200), 64), "PNG")
    idat = good.index(b"IDAT")
    corrupt = good[: idat + 40] + bytes(b ^ 0xFF for b in good[idat + 40 : idat + 400]) + good[idat + 400 :]
    assert refusal(corrupt) is IdImageProblem.DAMAGED


def test_too_many_bytes_are_refused_before_anything_is_read() -> None:
    jpeg = encoded(Image.new("RGB", (100, 100), "white"), "JPEG")
    assert refusal(jpeg, max_bytes=len(jpeg) - 1) is IdImageProblem.TOO_LARGE
    assert clean_id_image(jpeg, max_bytes=len(jpeg)).media_type == "image/jpeg"
    assert refusal(b"\xff\xd8\xff" + b"\x00" * (10 * 1024 * 1024)) is IdImageProblem.TOO_LARGE  # the default limit


def test_a_decompression_bomb_is_refused_from_its_header() -> None:
    """50,000 × 50,000 pixels (2.5 gigapixels, 2.5 GB as grey) in a file of about 80 bytes: Pillow's own guard
    refuses it on opening; nothing is allocated (the test would run out of memory otherwise)."""
    bomb = png_claiming(50_000, 50_000)
    assert len(bomb) < 100
    assert refusal(bomb) is IdImageProblem.TOO_MANY_PIXELS


def test_more_pixels_than_allowed_are_refused_before_decoding() -> None:
    """Below Pillow's guard (about 89 million pixels) the module's own limit applies: 8,000 × 6,000 is 48 million."""
    assert refusal(png_claiming(8_000, 6_000)) is IdImageProblem.TOO_MANY_PIXELS
    small = encoded(Image.new("L", (100, 100), 255), "PNG")
    assert refusal(small, max_pixels=9_999) is IdImageProblem.TOO_MANY_PIXELS
    assert clean_id_image(small, max_pixels=10_000).width == 100


def test_every_reason_has_a_message_for_the_visitor() -> None:
    app = Flask(__name__)
    Babel(app)
    with app.test_request_context():
        messages = {reason: str(refusal_message(reason)) for reason in IdImageProblem}
    assert len(set(messages.values())) == len(IdImageProblem)  # one each, none shared
    assert all("JPEG" in text or "photo" in text for text in messages.values())  # each says what to choose instead
