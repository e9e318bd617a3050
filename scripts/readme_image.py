"""Render the README's excerpt image from real output: `symbackprop derive xor --pdf`, page 2.

Needs pdflatex, pdftoppm (poppler-utils) and Pillow:  python scripts/readme_image.py
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from PIL import Image, ImageChops

from symbackprop.document import compile_pdf, document_for
from symbackprop.spec import load_spec

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        pdf = compile_pdf(document_for(load_spec("xor")).document(), Path(folder) / "xor.pdf")
        for page in (1, 2):
            stem = Path(folder) / f"page{page}"
            subprocess.run(
                ["pdftoppm", "-r", "110", "-png", "-singlefile", "-f", str(page), "-l", str(page),
                 str(pdf), str(stem)],
                check=True,
            )
            image = Image.open(f"{stem}.png").convert("RGB")
            background = Image.new("RGB", image.size, (255, 255, 255))
            box = ImageChops.difference(image, background).getbbox()
            out = ROOT / "docs" / f"derivation-xor-{page}.png"
            image.crop((box[0] - 10, box[1] - 10, box[2] + 10, box[3] + 10)).save(out)
            print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
