"""Render the README's excerpt image from real output: `symbackprop derive xor --pdf`, page 2.

Needs pdflatex, Pillow and pdftoppm (poppler-utils) or pypdfium2:  python scripts/readme_image.py
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from PIL import Image, ImageChops

from symbackprop.render.document import compile_pdf
from symbackprop.run.documents import document_for
from symbackprop.spec.model import load_spec

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        pdf = compile_pdf(document_for(load_spec("xor")).document(), Path(folder) / "xor.pdf")
        for page in (1, 2):
            image = render_page(pdf, page, Path(folder) / f"page{page}")
            background = Image.new("RGB", image.size, (255, 255, 255))
            box = ImageChops.difference(image, background).getbbox()
            out = ROOT / "docs" / f"derivation-xor-{page}.png"
            image.crop((box[0] - 10, box[1] - 10, box[2] + 10, box[3] + 10)).save(out)
            print(f"wrote {out.relative_to(ROOT)}")


def render_page(pdf: Path, page: int, stem: Path, dpi: int = 110) -> Image.Image:
    """One page of a PDF as an RGB image (pdftoppm where installed, else pypdfium2)."""
    if shutil.which("pdftoppm"):
        subprocess.run(
            ["pdftoppm", "-r", str(dpi), "-png", "-singlefile", "-f", str(page), "-l", str(page),
             str(pdf), str(stem)],
            check=True,
        )
        return Image.open(f"{stem}.png").convert("RGB")
    import pypdfium2

    document = pypdfium2.PdfDocument(str(pdf))
    return document[page - 1].render(scale=dpi / 72).to_pil().convert("RGB")


if __name__ == "__main__":
    main()
