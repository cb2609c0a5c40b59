"""A stand-in for an external codec's programs, run by test_codecs_external.py through a
codec description: ``python external_codec_script.py MODE [INPUT OUTPUT [QUALITY]]``.

encode     Pillow's JPEG at QUALITY, exactly as the built-in ``jpeg`` codec writes it
decode     any image Pillow reads -> PNG
copy       the input file as it is (a lossless codec of whatever rdpbench hands over)
fail       prints an error and exits with status 3
nothing    writes no output and exits with 0
half       decodes to a PNG of half the width and height
truncate   the first half of the input file's bytes
sleep      sleeps 30 s
version    prints a version line
"""

import shutil
import sys
import time

from PIL import Image


def main(mode: str, *files: str) -> None:
    if mode == "version":
        print("stand-in codec 1.0 (tests)")
    elif mode == "encode":
        source, target, quality = files
        with Image.open(source) as image:
            image.convert("RGB").save(target, format="JPEG", quality=int(quality))
    elif mode == "decode":
        with Image.open(files[0]) as image:
            image.convert("RGB").save(files[1], format="PNG")
    elif mode == "copy":
        shutil.copyfile(files[0], files[1])
    elif mode == "fail":
        print("starting up", file=sys.stderr)
        print("cannot open the frobnicator", file=sys.stderr)
        sys.exit(3)
    elif mode == "half":
        with Image.open(files[0]) as image:
            image.convert("RGB").resize((image.width // 2, image.height // 2)).save(files[1], format="PNG")
    elif mode == "truncate":
        with open(files[0], "rb") as source, open(files[1], "wb") as target:
            data = source.read()
            target.write(data[: len(data) // 2])
    elif mode == "sleep":
        time.sleep(30)
    elif mode != "nothing":
        sys.exit(f"unknown mode {mode}")


if __name__ == "__main__":
    main(*sys.argv[1:])
