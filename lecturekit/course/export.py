"""Export the student notebooks to HTML (and PDF) for reading without a kernel.

Course tooling, not a lecture section: a student (or an instructor preparing handouts) runs

    lecturekit export                 # every notebooks/<part>/<part>.ipynb -> exports/<part>.html
    lecturekit export --pdf           # ... and exports/<part>.pdf
    lecturekit export --execute       # run each notebook first: the export shows its figures
    lecturekit export my.ipynb --out somewhere --pdf

HTML comes from nbconvert's ``HTMLExporter`` (figures embedded as PNG, so every widget's static
figure at its default value is there; live widgets are not). PDF comes from nbconvert's
``webpdf`` route (the same HTML, printed by a headless Chromium). nbconvert's own
``WebPDFExporter`` always launches playwright's *downloaded* browser (``chromium.launch()``
with no ``executable_path``; no option or environment variable changes it, and
``--allow-chromium-download`` would download one), so :class:`ChromiumPDFExporter` subclasses
it and replaces only the launch: Debian's ``chromium`` from the PATH, no sandbox flags needed
beyond ``--no-sandbox``, and every request that is not a local ``file:`` URL refused, so the
export never touches the network. Consequence: the HTML template loads MathJax from a CDN, which
offline is refused, so equations appear in the PDF as their TeX source (``$\\sigma(a)$``);
opening the HTML export with a network connection renders them.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Iterable, Sequence

from nbconvert.exporters.webpdf import WebPDFExporter

__all__ = ["ChromiumPDFExporter", "chromium_executable", "student_notebooks", "export_notebook",
           "export_course", "main"]

FORMATS = ("html", "pdf")
CHROMIUM_ARGS = ("--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic", "--disable-dev-shm-usage")


def chromium_executable() -> str | None:
    """Path of the system's Chromium (Debian package ``chromium``), or None when absent."""
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


class ChromiumPDFExporter(WebPDFExporter):
    """nbconvert's ``WebPDFExporter`` printing with the system Chromium, offline.

    Same template ("webpdf"), same pagination options; only the browser launch differs (see the
    module docstring). Raises RuntimeError when Chromium or playwright is missing.
    """

    export_from_notebook = "PDF via system Chromium"

    def run_playwright(self, html: str) -> bytes:
        executable = chromium_executable()
        if executable is None:
            raise RuntimeError("PDF export needs Chromium on the PATH (Debian: apt-get install chromium)")
        try:
            from playwright.sync_api import sync_playwright
        except ImportError as error:
            raise RuntimeError("PDF export needs the Python package playwright (pip install playwright)") from error

        paginate, render_ms = self.paginate, self.page_render_timeout
        args = list(CHROMIUM_ARGS) + [a for a in self.browser_args if a not in CHROMIUM_ARGS]

        def print_pdf(html_path: str) -> bytes:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=executable, args=args)
                try:
                    page = browser.new_page()
                    # Offline by construction: only the exported file itself may load.
                    page.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file:")
                               else route.abort())
                    page.emulate_media(media="print")
                    page.goto(Path(html_path).as_uri(), wait_until="load")
                    page.wait_for_timeout(render_ms)
                    params = {"print_background": True}
                    if not paginate:
                        size = page.evaluate("() => { const r = document.body.getBoundingClientRect();"
                                             " return {w: Math.ceil(r.width) + 1, h: Math.ceil(r.height) + 1}; }")
                        params.update(width=f"{min(size['w'], 200 * 72)}px", height=f"{min(size['h'], 200 * 72)}px")
                    return page.pdf(**params)
                finally:
                    browser.close()

        with tempfile.TemporaryDirectory(prefix="lecturekit-export-") as tmp:
            html_path = os.path.join(tmp, "notebook.html")
            Path(html_path).write_text(html, encoding="utf-8")
            # playwright's sync API refuses to run inside an asyncio loop (e.g. in a notebook): a thread.
            with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
                return pool.submit(print_pdf, html_path).result()


def student_notebooks(course: Path | str) -> list[Path]:
    """Every ``notebooks/<part>/<part>.ipynb`` of the course folder ``course``, sorted by part."""
    folder = Path(course) / "notebooks"
    if not folder.is_dir():
        raise ValueError(f"course: no notebooks/ folder in {course}")
    return sorted(p / f"{p.name}.ipynb" for p in folder.iterdir() if (p / f"{p.name}.ipynb").is_file())


def export_notebook(notebook: Path | str, out_dir: Path | str, formats: Sequence[str] = ("html",),
                    execute: bool = False) -> list[Path]:
    """Write ``<out_dir>/<stem>.<fmt>`` for each format in ``formats`` ("html", "pdf").

    notebook: path of an ``.ipynb`` file. execute: run it first (in its own folder, errors kept
    as outputs, the file itself untouched) so that a released notebook, stored without outputs,
    exports with its figures. Returns the written paths, in the order of ``formats``.
    """
    import nbformat
    from nbconvert import HTMLExporter

    notebook = Path(notebook)
    if notebook.suffix != ".ipynb" or not notebook.is_file():
        raise ValueError(f"notebook: expected an existing .ipynb file, got {notebook}")
    if isinstance(formats, str) or not formats:
        raise TypeError(f"formats: expected a non-empty sequence drawn from {FORMATS}, got {formats!r}")
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise ValueError(f"formats: unknown {unknown}; expected some of {FORMATS}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    if execute:
        from .notebook_run import execute_notebook

        nb = execute_notebook(notebook, allow_errors=True)
    else:
        nb = nbformat.read(notebook, as_version=4)
    resources = {"metadata": {"name": notebook.stem, "path": str(notebook.parent)}}
    written = []
    for fmt in formats:
        exporter = HTMLExporter() if fmt == "html" else ChromiumPDFExporter()
        body, _ = exporter.from_notebook_node(nb, resources=dict(resources))
        target = out_dir / f"{notebook.stem}.{fmt}"
        if isinstance(body, str):
            target.write_text(body, encoding="utf-8")
        else:
            target.write_bytes(body)
        written.append(target)
    return written


def export_course(course: Path | str, out_dir: Path | str, formats: Sequence[str] = ("html",),
                  notebooks: Iterable[Path | str] | None = None, execute: bool = False) -> list[Path]:
    """Export ``notebooks`` (default: every student notebook of ``course``) into ``out_dir``."""
    chosen = [Path(n) for n in notebooks] if notebooks else student_notebooks(course)
    if not chosen:
        raise ValueError(f"course: no student notebooks under {Path(course) / 'notebooks'} (run the release first)")
    written = []
    for path in chosen:
        written += export_notebook(path, out_dir, formats, execute=execute)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """``lecturekit export [NOTEBOOK ...] [--out exports] [--pdf] [--course .]``."""
    parser = argparse.ArgumentParser(prog="lecturekit export", description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*",
                        help="notebooks to export (default: every notebooks/<part>/<part>.ipynb)")
    parser.add_argument("--course", default=".", help="course folder holding notebooks/ (default: .)")
    parser.add_argument("--out", default="exports", help="output folder (default: exports/, git-ignored)")
    parser.add_argument("--pdf", action="store_true", help="also write PDF (needs the system's chromium)")
    parser.add_argument("--execute", action="store_true",
                        help="run each notebook first, so figures are in the export (files are not modified)")
    args = parser.parse_args(argv)
    formats = ("html", "pdf") if args.pdf else ("html",)
    if args.pdf and chromium_executable() is None:
        print("PDF export needs Chromium on the PATH (Debian: apt-get install chromium); nothing written",
              file=sys.stderr)
        return 2
    try:
        written = export_course(args.course, args.out, formats, args.notebooks or None, execute=args.execute)
    except (ValueError, RuntimeError) as error:
        print(f"export failed: {error}", file=sys.stderr)
        return 1
    for path in written:
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
