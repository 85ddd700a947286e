"""Writers of tiny datasets in the REAL on-disk formats the loaders read (no network, milliseconds).

Each writer returns the images and labels it wrote (``(N, H, W, 3)`` uint8, int labels), computed here from a
seeded RNG, so tests can compare what a loader returns with what is on disk pixel for pixel. The formats follow
the datasets' own documentation, not the loader code:

- CIFAR-10/100 "python version": pickled dicts with ``data`` = uint8 ``(N, 3072)`` rows holding the 1024 red, then
  green, then blue values of a 32x32 image in row-major order, ``labels`` (CIFAR-10) or ``fine_labels`` /
  ``coarse_labels`` (CIFAR-100), and ``batches.meta`` (``label_names``) / ``meta`` (``fine_label_names``).
- MNIST idx-ubyte (http://yann.lecun.com/exdb/mnist/): a big-endian header of two zero bytes, the type code 0x08
  (unsigned byte) and the number of dimensions, then each dimension as a big-endian int32, then the row-major data;
  images are ``(N, 28, 28)``, labels ``(N,)``; the download serves them gzipped (``*.gz``).
- STL-10 binary: ``*_X.bin`` uint8 images 3x96x96 stored channel by channel in column-major order, ``*_y.bin`` one
  uint8 label per image in 1..10, ``class_names.txt``.
- ImageFolder: ``<split>/<class>/<file>.png``.
- Hugging Face: ``DatasetDict.save_to_disk`` with an ``Image`` feature and a ``ClassLabel``.
- Food-101 ``meta/{train,test}.json``, DTD ``labels/{split}{partition}.txt``, CLEVR ``scenes/CLEVR_{split}_scenes.json``,
  GTSRB ``Training/<class>/*.ppm`` + ``GT-final_test.csv``, iNat2018 ``{train,val}2018.json``.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
from PIL import Image


def images(n: int, size: int, seed: int) -> np.ndarray:
    """``n`` random ``size``x``size`` RGB uint8 images."""
    return np.random.default_rng(seed).integers(0, 256, size=(n, size, size, 3), dtype=np.uint8)


def balanced_labels(n: int, num_classes: int, seed: int) -> np.ndarray:
    """Every class at least once, then random; shuffled."""
    rng = np.random.default_rng(seed)
    base = np.concatenate([np.arange(num_classes), rng.integers(0, num_classes, size=max(0, n - num_classes))])
    return rng.permutation(base[:n]).astype(np.int64)


def _cifar_rows(x: np.ndarray) -> np.ndarray:
    """NHWC → the CIFAR row layout: R plane, G plane, B plane, each 32x32 row-major."""
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2).reshape(len(x), 3 * 32 * 32))


def _dump(path: Path, obj: dict) -> None:
    with open(path, "wb") as f:
        pickle.dump(obj, f, protocol=2)


def write_cifar10(root: Path, *, n_per_batch: int = 6, n_test: int = 5, seed: int = 0) -> dict:
    """``root/cifar-10-batches-py`` with data_batch_1..5, test_batch, batches.meta."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    train_x, train_y = [], []
    for b in range(1, 6):
        x = images(n_per_batch, 32, seed + b)
        y = balanced_labels(n_per_batch, 10, seed + b)
        _dump(
            folder / f"data_batch_{b}",
            {
                "batch_label": f"training batch {b} of 5",
                "labels": y.tolist(),
                "data": _cifar_rows(x),
                "filenames": [f"{i}.png" for i in range(len(y))],
            },
        )
        train_x.append(x)
        train_y.append(y)
    tx, ty = images(n_test, 32, seed + 99), balanced_labels(n_test, 10, seed + 99)
    _dump(
        folder / "test_batch",
        {
            "batch_label": "testing batch 1 of 1",
            "labels": ty.tolist(),
            "data": _cifar_rows(tx),
            "filenames": [f"{i}.png" for i in range(len(ty))],
        },
    )
    _dump(folder / "batches.meta", {"num_cases_per_batch": n_per_batch, "label_names": names, "num_vis": 3072})
    return {
        "x_train": np.concatenate(train_x),
        "y_train": np.concatenate(train_y),
        "x_test": tx,
        "y_test": ty,
        "classes": names,
    }


def write_cifar100(root: Path, *, n_train: int = 120, n_test: int = 100, seed: int = 0) -> dict:
    """``root/cifar-100-python`` with train, test, meta (fine and coarse labels)."""
    folder = root / "cifar-100-python"
    folder.mkdir(parents=True, exist_ok=True)
    fine = [f"fine_{i:02d}" for i in range(100)]
    coarse = [f"coarse_{i:02d}" for i in range(20)]
    out = {"classes": fine}
    for split, n, s in (("train", n_train, seed), ("test", n_test, seed + 1)):
        x, y = images(n, 32, s), balanced_labels(n, 100, s)
        _dump(
            folder / split,
            {
                "filenames": [f"{i}.png" for i in range(n)],
                "batch_label": f"{split} batch",
                "fine_labels": y.tolist(),
                "coarse_labels": (y // 5).tolist(),
                "data": _cifar_rows(x),
            },
        )
        out[f"x_{split}"], out[f"y_{split}"] = x, y
    _dump(folder / "meta", {"fine_label_names": fine, "coarse_label_names": coarse})
    return out


def idx_ubyte(arr: np.ndarray) -> bytes:
    """``arr`` (uint8) in the idx format of the MNIST files."""
    arr = np.ascontiguousarray(arr, dtype=np.uint8)
    header = bytes([0, 0, 0x08, arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    return header + arr.tobytes()


MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def write_mnist(folder: Path, *, n_train: int = 40, n_test: int = 20, gzipped: bool = False, seed: int = 0) -> dict:
    """The four MNIST idx files in ``folder`` (torchvision reads ``<root>/MNIST/raw``); ``gzipped`` writes ``*.gz``
    as served by the download mirrors. Images are random grayscale 28x28, labels cover all 10 digits."""
    import gzip

    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for split, n, s in (("train", n_train, seed), ("test", n_test, seed + 1)):
        x = images(n, 28, s)[..., 0]
        y = balanced_labels(n, 10, s)
        for name, arr in zip(MNIST_FILES[split], (x, y), strict=True):
            data = idx_ubyte(arr)
            if gzipped:
                (folder / f"{name}.gz").write_bytes(gzip.compress(data))
            else:
                (folder / name).write_bytes(data)
        out[f"x_{split}"], out[f"y_{split}"] = x, y
    return out


def write_stl10(root: Path, *, n_train: int = 12, n_test: int = 10, n_unlabeled: int = 3, seed: int = 0) -> dict:
    """``root/stl10_binary`` with train/test/unlabeled ``_X.bin``, ``_y.bin`` and class_names.txt."""
    folder = root / "stl10_binary"
    folder.mkdir(parents=True, exist_ok=True)
    names = ["airplane", "bird", "car", "cat", "deer", "dog", "horse", "monkey", "ship", "truck"]
    out = {"classes": names}

    def column_major(x: np.ndarray) -> bytes:
        # (N, H, W, C) → per image, per channel, column-major: index order (N, C, W, H).
        return np.ascontiguousarray(x.transpose(0, 3, 2, 1)).tobytes()

    for split, n, s in (("train", n_train, seed), ("test", n_test, seed + 1)):
        x, y = images(n, 96, s), balanced_labels(n, 10, s)
        (folder / f"{split}_X.bin").write_bytes(column_major(x))
        (folder / f"{split}_y.bin").write_bytes((y + 1).astype(np.uint8).tobytes())  # 1-based on disk
        out[f"x_{split}"], out[f"y_{split}"] = x, y
    (folder / "unlabeled_X.bin").write_bytes(column_major(images(n_unlabeled, 96, seed + 2)))
    (folder / "class_names.txt").write_text("\n".join(names) + "\n")
    return out


def write_image(path: Path, x: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(x).save(path)


def write_image_folder(folder: Path, classes: list[str], per_class: int, *, size: int = 8, seed: int = 0) -> dict:
    """``folder/<class>/img_<i>.png``; returns the images in ImageFolder order (sorted classes, sorted files)."""
    xs, ys, paths = [], [], []
    for ci, c in enumerate(sorted(classes)):
        x = images(per_class, size, seed + ci)
        for i in range(per_class):
            p = folder / c / f"img_{i:03d}.png"
            write_image(p, x[i])
            paths.append(p)
        xs.append(x)
        ys.extend([ci] * per_class)
    return {"x": np.concatenate(xs), "y": np.asarray(ys), "paths": paths, "classes": sorted(classes)}


def write_hf_disk(
    folder: Path, *, n_train: int = 9, n_test: int = 6, size: int = 8, image_key: str = "img", seed: int = 0
) -> dict:
    """A ``DatasetDict`` with an ``Image`` column and a ``ClassLabel`` saved with ``save_to_disk``."""
    import datasets

    names = ["cat", "dog", "frog"]
    features = datasets.Features({image_key: datasets.Image(), "label": datasets.ClassLabel(names=names)})
    out = {"classes": names}
    parts = {}
    for split, n, s in (("train", n_train, seed), ("test", n_test, seed + 1)):
        x, y = images(n, size, s), balanced_labels(n, 3, s)
        parts[split] = datasets.Dataset.from_dict(
            {image_key: [Image.fromarray(im) for im in x], "label": y.tolist()}, features=features
        )
        out[f"x_{split}"], out[f"y_{split}"] = x, y
    datasets.DatasetDict(parts).save_to_disk(str(folder))
    return out


def write_npz(
    path: Path,
    *,
    n_train: int = 20,
    n_test: int = 10,
    size: int = 8,
    num_classes: int = 4,
    layout: str = "NHWC",
    seed: int = 0,
    **overrides: np.ndarray,
) -> dict:
    """An npz with x_train/y_train/x_test/y_test (``layout`` NHWC, NCHW or NHW), overridable per key."""
    arrays = {
        "x_train": images(n_train, size, seed),
        "y_train": balanced_labels(n_train, num_classes, seed),
        "x_test": images(n_test, size, seed + 1),
        "y_test": balanced_labels(n_test, num_classes, seed + 1),
    }
    expected = dict(arrays)
    for k in ("x_train", "x_test"):
        if layout == "NCHW":
            arrays[k] = arrays[k].transpose(0, 3, 1, 2)
        elif layout == "NHW":
            arrays[k] = arrays[k][..., 0]
            expected[k] = np.repeat(arrays[k][..., None], 3, axis=-1)
    arrays.update(overrides)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **arrays)
    return expected


def write_food101(root: Path, *, per_class: int = 2, seed: int = 0) -> dict:
    """``root/food-101/{images/<class>/<id>.jpg, meta/train.json, meta/test.json}`` (JPEG is lossy: labels only)."""
    base = root / "food-101"
    classes = ["apple_pie", "baby_back_ribs", "baklava"]
    meta = {"train": {}, "test": {}}
    for split in meta:
        for c in classes:
            ids = [f"{c}_{split}_{i}" for i in range(per_class)]
            meta[split][c] = [f"{c}/{i}" for i in ids]
            for i in ids:
                (base / "images" / c).mkdir(parents=True, exist_ok=True)
                Image.fromarray(images(1, 8, seed)[0]).save(base / "images" / c / f"{i}.jpg")
    (base / "meta").mkdir(parents=True, exist_ok=True)
    for split, m in meta.items():
        (base / "meta" / f"{split}.json").write_text(json.dumps(m))
    return {"classes": classes, "n_train": per_class * 3, "n_test": per_class * 3}


def write_dtd(root: Path, *, partition: int = 1, seed: int = 0) -> dict:
    """``root/dtd/dtd/{images/<class>/*.jpg, labels/{train,val,test}<partition>.txt}``."""
    base = root / "dtd" / "dtd"
    classes = ["banded", "blotchy", "braided"]
    counts = {"train": 2, "val": 1, "test": 2}
    for split, n in counts.items():
        lines = []
        for c in classes:
            for i in range(n):
                name = f"{c}_{split}_{i}.jpg"
                (base / "images" / c).mkdir(parents=True, exist_ok=True)
                Image.fromarray(images(1, 8, seed)[0]).save(base / "images" / c / name)
                lines.append(f"{c}/{name}")
        (base / "labels").mkdir(parents=True, exist_ok=True)
        (base / "labels" / f"{split}{partition}.txt").write_text("\n".join(lines) + "\n")
    return {"classes": classes, "counts": counts}


def write_clevr(root: Path, *, counts: dict[str, list[int]] | None = None, seed: int = 0) -> dict:
    """``root/clevr/CLEVR_v1.0/{images/<split>/*.png, scenes/CLEVR_<split>_scenes.json}`` (+ unlabelled test)."""
    base = root / "clevr" / "CLEVR_v1.0"
    counts = counts or {"train": [3, 4, 10, 7, 3], "val": [5, 10, 3]}
    for split, per_image in counts.items():
        scenes = []
        for i, n_obj in enumerate(per_image):
            fname = f"CLEVR_{split}_{i:06d}.png"
            write_image(base / "images" / split / fname, images(1, 8, seed + i)[0])
            scenes.append({"image_filename": fname, "objects": [{"shape": "cube"}] * n_obj})
        (base / "scenes").mkdir(parents=True, exist_ok=True)
        (base / "scenes" / f"CLEVR_{split}_scenes.json").write_text(json.dumps({"scenes": scenes}))
    write_image(base / "images" / "test" / "CLEVR_test_000000.png", images(1, 8, seed)[0])
    return {"counts": counts}


def write_gtsrb(root: Path, *, seed: int = 0) -> dict:
    """``root/gtsrb/{GTSRB/Training/<00000..>/*.ppm, GTSRB/Final_Test/Images/*.ppm, GT-final_test.csv}``."""
    base = root / "gtsrb"
    train_classes = [0, 2, 42]
    train_y = []
    for c in train_classes:
        for i in range(2):
            p = base / "GTSRB" / "Training" / f"{c:05d}" / f"{i:05d}_{i:05d}.ppm"
            write_image(p, images(1, 8, seed + c)[0])
            train_y.append(c)
    test_y = [1, 42, 0]
    rows = ["Filename;Width;Height;Roi.X1;Roi.Y1;Roi.X2;Roi.Y2;ClassId"]
    for i, c in enumerate(test_y):
        write_image(base / "GTSRB" / "Final_Test" / "Images" / f"{i:05d}.ppm", images(1, 8, seed + i)[0])
        rows.append(f"{i:05d}.ppm;8;8;0;0;7;7;{c}")
    (base / "GT-final_test.csv").write_text("\n".join(rows) + "\n")
    return {"train_y": train_y, "test_y": test_y}


def write_inat2018(root: Path, *, seed: int = 0, image_dir: str = "2018") -> dict:
    """``root/<image_dir>/<super>/<cat>/*.jpg`` + official-style ``train2018.json`` / ``val2018.json``."""
    cats = [
        {"id": 0, "name": "Aves sp0", "supercategory": "Aves"},
        {"id": 1, "name": "Plantae sp1", "supercategory": "Plantae"},
        {"id": 2, "name": "Plantae sp2", "supercategory": "Plantae"},
    ]
    split_cats = {"train2018.json": [0, 0, 1, 2, 2, 2], "val2018.json": [2, 0, 1]}
    img_id = 0
    for fname, labels in split_cats.items():
        imgs, anns = [], []
        for cat in labels:
            sup = cats[cat]["supercategory"]
            rel = f"train_val2018/{sup}/{cat}/{img_id:04d}.jpg"
            write_image(root / image_dir / sup / str(cat) / f"{img_id:04d}.jpg", images(1, 8, seed + img_id)[0])
            imgs.append({"id": img_id, "file_name": rel, "width": 8, "height": 8})
            anns.append({"id": img_id, "image_id": img_id, "category_id": cat})
            img_id += 1
        (root / fname).write_text(json.dumps({"images": imgs, "annotations": anns, "categories": cats}))
    return {
        "train_y": split_cats["train2018.json"],
        "test_y": split_cats["val2018.json"],
        "classes": [c["name"] for c in cats],
    }


def write_places365(root: Path, *, seed: int = 0) -> dict:
    """Places365 devkit file lists + ``data_256_standard/`` and ``val_256/`` images (small variant)."""
    cats = ["/a/airfield", "/a/alley", "/b/bakery/shop"]
    (root).mkdir(parents=True, exist_ok=True)
    (root / "categories_places365.txt").write_text("".join(f"{c} {i}\n" for i, c in enumerate(cats)))
    train_y, lines = [2, 0, 1, 2], []
    for i, y in enumerate(train_y):
        rel = f"{cats[y]}/{i:08d}.jpg"
        write_image(root / "data_256_standard" / rel.lstrip("/"), images(1, 8, seed + i)[0])
        lines.append(f"{rel} {y}")
    (root / "places365_train_standard.txt").write_text("\n".join(lines) + "\n")
    val_y, lines = [1, 2], []
    for i, y in enumerate(val_y):
        name = f"Places365_val_{i + 1:08d}.jpg"
        write_image(root / "val_256" / name, images(1, 8, seed + 10 + i)[0])
        lines.append(f"{name} {y}")
    (root / "places365_val.txt").write_text("\n".join(lines) + "\n")
    return {"train_y": train_y, "test_y": val_y, "classes": cats}


def write_flowers102(root: Path, *, seed: int = 0) -> dict:
    """``root/flowers-102/{jpg/image_XXXXX.jpg, imagelabels.mat, setid.mat}`` (1-based labels and image ids)."""
    from scipy.io import savemat

    base = root / "flowers-102"
    labels_1based = np.asarray([1, 5, 102, 5, 1, 7], dtype=np.uint8)
    for i in range(1, len(labels_1based) + 1):
        write_image(base / "jpg" / f"image_{i:05d}.jpg", images(1, 8, seed + i)[0])
    savemat(base / "imagelabels.mat", {"labels": labels_1based[None, :]})
    savemat(
        base / "setid.mat",
        {"trnid": np.asarray([[1, 3]]), "valid": np.asarray([[2, 6]]), "tstid": np.asarray([[4, 5]])},
    )
    lab = labels_1based.astype(int) - 1
    return {"train_y": [lab[0], lab[2]], "val_y": [lab[1], lab[5]], "test_y": [lab[3], lab[4]]}
