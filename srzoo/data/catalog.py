"""Declarative dataset descriptions (splits, layout, public archives, checksums) behind `srzoo.datasets`."""

from __future__ import annotations

from dataclasses import dataclass, field

from srzoo.errors import PluginError

# Checksums: DIV2K sha256 and sizes as recorded by TensorFlow Datasets (tensorflow_datasets/datasets/div2k/
# checksums.tsv); EDSR benchmark.tar md5 as recorded by torchSR (Coloquinte/torchSR, datasets/benchmarks.py);
# BSR_bsds500.tgz md5 from a public MIT SR project (bsds500.py by Marc Bermejo) and its size from tensorpack
# (dataflow/dataset/bsds500.py). Where nobody publishes one (GitHub source archives), the value is None and
# only the extraction layout is checked. See the README, Data.


@dataclass(frozen=True)
class Archive:
    """One public download and how its extracted content maps onto srzoo's layout under the data root."""

    url: str
    filename: str
    moves: tuple[
        tuple[str, str], ...
    ]  # (folder inside the archive, glob allowed; destination under the root)
    sha256: str | None = None
    md5: str | None = None
    size: int | None = None  # bytes
    to_png: bool = False  # re-encode JPEG/BMP members as PNG so every set has one file type

    def provides(self, relpath: str) -> bool:
        """Whether extracting this archive creates `relpath` (a folder under the data root)."""
        return any(relpath == dst or relpath.startswith(dst + "/") for _, dst in self.moves)


@dataclass(frozen=True)
class SplitInfo:
    """Where one split lives under the data root; `lr` is a template with `{scale}` (None: HR only)."""

    hr: str
    lr: str | None = None
    count: int | None = None  # images in the complete public release (informative)

    def lr_dir(self, scale: int) -> str | None:
        return self.lr.format(scale=scale) if self.lr is not None else None


@dataclass(frozen=True)
class DatasetInfo:
    """A dataset: a generic kind ('fixed' layout, 'image_folder' or 'paired_folder') plus its facts."""

    name: str
    title: str
    kind: str = "fixed"
    splits: dict[str, SplitInfo] = field(default_factory=dict)
    train_split: str | None = None
    eval_split: str | None = None
    archives: tuple[Archive, ...] = ()
    license: str = "unknown"
    homepage: str = ""
    notes: str = ""

    def split(self, split: str | None, purpose: str) -> str:
        """The requested split, or the default for `purpose` ('train' or 'eval')."""
        from srzoo.errors import ConfigError

        chosen = (
            split or (self.train_split if purpose == "train" else self.eval_split) or next(iter(self.splits))
        )
        if chosen not in self.splits:
            raise ConfigError(
                f"dataset {self.name!r} has no split {chosen!r} (splits: {', '.join(self.splits)})"
            )
        return chosen

    def archives_for(self, relpath: str) -> list[Archive]:
        return [a for a in self.archives if a.provides(relpath)]


# -- the public archives -------------------------------------------------------------------------------------
_DIV2K = "https://data.vision.ee.ethz.ch/cvl/DIV2K/"
_DIV2K_SUMS = {  # filename: (bytes, sha256) from TensorFlow Datasets' checksums.tsv
    "DIV2K_train_HR.zip": (3530603713, "9d0b9c463f6e35b6c62cc6a930ee2224f670b34c1df841a57670f9acf0f6c335"),
    "DIV2K_valid_HR.zip": (448993893, "20dd31fd84d777bc1cf5d6b7654a3f569c0aec74458ae094122ad1d0489900fc"),
    "DIV2K_train_LR_bicubic_X2.zip": (
        925390592,
        "a53a424317575838dadce4bcd97cf7b744d6855f43740ed5f0245af3cf4bd850",
    ),
    "DIV2K_train_LR_bicubic_X3.zip": (
        427847282,
        "ad5c8e5507e2765823d3c2c5bd0934842efcd487c5370604c224090898b3163a",
    ),
    "DIV2K_train_LR_bicubic_X4.zip": (
        246914039,
        "f006b837f4eb52b82909aa01478e6d6d199eefce932179491d0c9dbb706dde3a",
    ),
    "DIV2K_valid_LR_bicubic_X2.zip": (
        117763600,
        "60eed9875c697df51204aa579e2a699e1d5215095788a097ff54dd17e2664d57",
    ),
    "DIV2K_valid_LR_bicubic_X3.zip": (
        54513392,
        "04b9a2ed3b4a0715d3924d3ae8514830c3328fac8d30512ce716d6f419e052a3",
    ),
    "DIV2K_valid_LR_bicubic_X4.zip": (
        31505881,
        "a50a5d1c4b88de4e8d300d8fb2b904c52fe93b2b298a4899697760d7cbb6d553",
    ),
}


def _div2k_archive(filename: str, src: str, dst: str) -> Archive:
    size, sha = _DIV2K_SUMS[filename]
    return Archive(_DIV2K + filename, filename, ((src, dst),), sha256=sha, size=size)


def _div2k_archives() -> tuple[Archive, ...]:
    out = []
    for split in ("train", "valid"):
        out.append(_div2k_archive(f"DIV2K_{split}_HR.zip", f"DIV2K_{split}_HR", f"DIV2K/DIV2K_{split}_HR"))
        for s in (2, 3, 4):
            lr = f"DIV2K_{split}_LR_bicubic/X{s}"
            out.append(_div2k_archive(f"DIV2K_{split}_LR_bicubic_X{s}.zip", lr, f"DIV2K/{lr}"))
    return tuple(out)


EDSR_BENCHMARK = Archive(
    url="https://cv.snu.ac.kr/research/EDSR/benchmark.tar",
    filename="benchmark.tar",
    moves=(
        ("benchmark/Set5", "Set5"),
        ("benchmark/Set14", "Set14"),
        ("benchmark/B100", "BSD100"),
        ("benchmark/Urban100", "Urban100"),
    ),
    md5="4ace41d33c2384b97e6b320cd0afd6ba",
)
BSR = Archive(
    url="http://www.eecs.berkeley.edu/Research/Projects/CS/vision/grouping/BSR/BSR_bsds500.tgz",
    filename="BSR_bsds500.tgz",
    moves=tuple((f"BSR/BSDS500/data/images/{s}", f"BSDS500/{s}/HR") for s in ("train", "val", "test")),
    md5="0b17383ff0b21fe43d2f28e624203169",
    size=70763455,
    to_png=True,
)
# T91 (Yang et al.) and the 200 BSDS training images as shipped by DCSCN, pinned to one commit. GitHub builds
# source archives on the fly and does not promise stable bytes, so no checksum is recorded.
DCSCN = Archive(
    url="https://github.com/jiny2001/dcscn-super-resolution/archive/d382bc30d41c94ac72f8cb148d61cc4864b3b380.zip",
    filename="dcscn-super-resolution-d382bc3.zip",
    moves=(("*/data/yang91", "T91/HR"), ("*/data/bsd200", "BSDS200/HR")),
    to_png=True,
)

_BENCH_LICENSE = "research use; images keep their original owners' terms (see the set's paper)"


def _benchmark(name: str, title: str, folder: str, count: int) -> DatasetInfo:
    return DatasetInfo(
        name=name,
        title=title,
        splits={"test": SplitInfo(f"{folder}/HR", f"{folder}/LR_bicubic/X{{scale}}", count)},
        train_split="test",
        eval_split="test",
        archives=(EDSR_BENCHMARK,),
        license=_BENCH_LICENSE,
        homepage="https://github.com/sanghyun-son/EDSR-PyTorch",
    )


# -- entry-point factories (pyproject: [project.entry-points."srzoo.datasets"]) ------------------------------
def div2k() -> DatasetInfo:
    return DatasetInfo(
        name="div2k",
        title="DIV2K",
        splits={
            s: SplitInfo(f"DIV2K/DIV2K_{s}_HR", f"DIV2K/DIV2K_{s}_LR_bicubic/X{{scale}}", n)
            for s, n in (("train", 800), ("valid", 100))
        },
        train_split="train",
        eval_split="valid",
        archives=_div2k_archives(),
        license="academic research use (NTIRE 2017 challenge data; see the homepage)",
        homepage="https://data.vision.ee.ethz.ch/cvl/DIV2K/",
    )


def bsds500() -> DatasetInfo:
    return DatasetInfo(
        name="bsds500",
        title="BSDS500",
        splits={
            s: SplitInfo(f"BSDS500/{s}/HR", f"BSDS500/{s}/LR_bicubic/X{{scale}}", n)
            for s, n in (("train", 200), ("val", 100), ("test", 200))
        },
        train_split="train",
        eval_split="val",
        archives=(BSR,),
        license="research use (Berkeley Segmentation Dataset terms; see the homepage)",
        homepage="https://www2.eecs.berkeley.edu/Research/Projects/CS/vision/grouping/resources.html",
        notes="JPEG originals stored as PNG; LR made on the fly with srzoo's MATLAB bicubic",
    )


def set5() -> DatasetInfo:
    return _benchmark("set5", "Set5", "Set5", 5)


def set14() -> DatasetInfo:
    return _benchmark("set14", "Set14", "Set14", 14)


def bsd100() -> DatasetInfo:
    return _benchmark("bsd100", "BSD100", "BSD100", 100)


def urban100() -> DatasetInfo:
    return _benchmark("urban100", "Urban100", "Urban100", 100)


def _dcscn(name: str, title: str, folder: str, count: int) -> DatasetInfo:
    return DatasetInfo(
        name=name,
        title=title,
        splits={"train": SplitInfo(f"{folder}/HR", None, count)},
        train_split="train",
        eval_split="train",
        archives=(DCSCN,),
        license="research use; see https://github.com/jiny2001/dcscn-super-resolution",
        homepage="https://github.com/jiny2001/dcscn-super-resolution",
    )


def t91() -> DatasetInfo:
    return _dcscn("t91", "T91", "T91", 91)


def bsds200() -> DatasetInfo:
    return _dcscn("bsds200", "BSDS200", "BSDS200", 200)


def image_folder() -> DatasetInfo:
    """Any folder of HR images (kwargs: path); LR is made on the fly with MATLAB bicubic."""
    return DatasetInfo(name="image_folder", title="image_folder", kind="image_folder", license="yours")


def paired_folder() -> DatasetInfo:
    """An HR folder and an LR folder (kwargs: hr, lr); LR files are `<name>.png` or `<name>x<scale>.png`."""
    return DatasetInfo(name="paired_folder", title="paired_folder", kind="paired_folder", license="yours")


def dataset_info(name: str) -> DatasetInfo:
    """The DatasetInfo registered under `name` (the entry point may be a DatasetInfo or a factory of one)."""
    from srzoo.framework.registries import DATASETS

    obj = DATASETS.get(name)
    info = obj if isinstance(obj, DatasetInfo) else obj() if callable(obj) else obj
    if not isinstance(info, DatasetInfo):
        raise PluginError(
            f"dataset {name!r} is registered as {type(info).__name__}, not a srzoo.data.catalog.DatasetInfo "
            "(or a function returning one); fix the plugin's srzoo.datasets entry point"
        )
    return info
