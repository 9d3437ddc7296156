"""Train a zoo model on Fashion-MNIST and write its shipped weights and model card.

    python -m edge_inception.models.zoo.train inception-mini --framework keras --epochs 15 --seed 0
    python -m edge_inception.models.zoo.train inception-mini --framework torch
    python -m edge_inception.models.zoo.train inception-resnet-mini --framework keras --epochs 7 --translate 0

The Keras model is trained on the 60,000-image training split (5,000 held out to monitor), then
scored on the full 10,000-image test split. The PyTorch twin takes the Keras weights one-to-one and
is checked against the Keras outputs on the test split, so both frameworks ship the same network.
The model's own module supplies the port (``keras_to_torch_state_dict``) and the card's architecture
lines (``CARD_ARCHITECTURE``); MODEL_CARD.md holds one section per trained zoo model.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

from edge_inception._core.atomic import atomic_write_bytes, atomic_write_text
from edge_inception.data.readers import read_fashion_mnist
from edge_inception.models.zoo import create_model, get_entry

CARD = Path(__file__).with_name("weights") / "MODEL_CARD.md"
CARD_JSON = Path(__file__).with_name("weights") / "model_card.json"


def train_keras(name: str, *, epochs: int, seed: int, batch_size: int, translate: float = 0.08) -> dict:
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    entry = get_entry(name, "keras")
    pre = entry.spec.preprocessing
    x_train, y_train = read_fashion_mnist("train")
    x_test, y_test = read_fashion_mnist("test")
    x_train, x_test = pre.apply(x_train[..., None]), pre.apply(x_test[..., None])
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(x_train))
    val, tr = order[:5000], order[5000:]

    model = create_model(name, framework="keras", pretrained=False)
    # Translations help a long run generalize; a short one converges faster on flips alone.
    layers = [keras.layers.RandomFlip("horizontal", seed=seed)]
    if translate:
        layers.append(keras.layers.RandomTranslation(translate, translate, fill_mode="constant", seed=seed))
    augment = keras.Sequential(layers)
    ds = (tf.data.Dataset.from_tensor_slices((x_train[tr], y_train[tr])).shuffle(10000, seed=seed)
          .batch(batch_size).map(lambda x, y: (augment(x, training=True), y)).prefetch(2))
    steps = epochs * int(np.ceil(len(tr) / batch_size))
    lr = keras.optimizers.schedules.CosineDecay(2e-3, steps, alpha=0.01)
    model.compile(optimizer=keras.optimizers.Adam(lr), metrics=["accuracy"],
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    t0 = time.time()
    model.fit(ds, epochs=epochs, validation_data=(x_train[val], y_train[val]), verbose=2)
    train_s = time.time() - t0
    logits = model.predict(x_test, batch_size=500, verbose=0)
    top1 = float((logits.argmax(1) == y_test).mean())
    # Save from an uncompiled copy: a compiled model's weights file also carries Adam's two moment
    # tensors per weight, tripling the shipped file for nothing a user needs.
    clean = create_model(name, framework="keras", pretrained=False)
    clean.set_weights(model.get_weights())
    buf = Path(str(entry.weights_path) + ".tmp.weights.h5")
    clean.save_weights(str(buf))
    os.replace(buf, entry.weights_path)
    return {"framework": "keras", "test_top1": top1, "epochs": epochs, "seed": seed, "batch_size": batch_size,
            "translate": translate, "train_seconds": round(train_s, 1), "params": int(model.count_params())}


def _module(name: str):
    """The module that defines the zoo model: it holds its weight port and its model-card text."""
    import sys

    return sys.modules[get_entry(name, "keras").builder.__module__]


def port_torch(name: str) -> dict:
    import io

    import torch

    keras_model = create_model(name, framework="keras")
    state = _module(name).keras_to_torch_state_dict(keras_model)
    buf = io.BytesIO()
    torch.save(state, buf)
    entry = get_entry(name, "torch")
    atomic_write_bytes(entry.weights_path, buf.getvalue())
    torch_model = create_model(name, framework="torch")
    x_test, y_test = read_fashion_mnist("test")
    x = entry.spec.preprocessing.apply(x_test[..., None])
    with torch.no_grad():
        t_logits = torch.cat([torch_model(torch.from_numpy(x[i:i + 1000].transpose(0, 3, 1, 2)))
                              for i in range(0, len(x), 1000)]).numpy()
    k_logits = keras_model.predict(x, batch_size=1000, verbose=0)
    return {"framework": "torch", "test_top1": float((t_logits.argmax(1) == y_test).mean()),
            "max_abs_diff_vs_keras": float(np.abs(t_logits - k_logits).max()),
            "agreement_with_keras": float((t_logits.argmax(1) == k_logits.argmax(1)).mean())}


def _card_section(name: str, k: dict, t: dict) -> list[str]:
    translate = k.get("translate", 0.08)
    augment = "random horizontal flips" + (f" and translations of up to {translate:.0%}" if translate else " only")
    extra = f" --translate {translate:g}" if translate != 0.08 else ""
    return [
        f"# Model card: {name}", "",
        "- **Data**: Fashion-MNIST (Zalando SE, MIT licence), from Debian's `dataset-fashion-mnist` package.",
        "  Trained on the 60,000-image training split less 5,000 held out to monitor; scored on the full",
        "  10,000-image test split.",
        "- **Input**: 28x28x1 uint8 pixels scaled to [0, 1] (`x / 255`), NHWC in Keras, NCHW in PyTorch.",
        *_module(name).CARD_ARCHITECTURE,
        "- **Training**: Adam, cosine-decayed learning rate from 2e-3, batch "
        f"{k.get('batch_size', '?')}, {k.get('epochs', '?')} epochs, seed {k.get('seed', '?')},",
        f"  {augment}" + (f"; {k['train_seconds']:.0f} s on 2 shared CPU cores." if "train_seconds" in k else "."),
        f"- **Parameters**: {k.get('params', '?'):,}" if k else "- **Parameters**: ?",
        f"- **Float top-1 on the 10,000-image test split**: Keras {k.get('test_top1', float('nan')):.2%}"
        + (f", PyTorch twin {t['test_top1']:.2%} (max abs logit diff vs Keras {t['max_abs_diff_vs_keras']:.1e})"
           if t else ""),
        "",
        "Reproduce:",
        "",
        "```",
        f"python -m edge_inception.models.zoo.train {name} --framework keras --epochs {k.get('epochs', 10)} "
        f"--seed {k.get('seed', 0)}{extra}",
        f"python -m edge_inception.models.zoo.train {name} --framework torch   # ports the Keras weights",
        "```",
        "",
    ]


def write_card(name: str, results: dict) -> None:
    card = json.loads(CARD_JSON.read_text()) if CARD_JSON.exists() else {}
    card.setdefault(name, {}).update(results)
    atomic_write_text(CARD_JSON, json.dumps(card, indent=2) + "\n")
    lines = []
    for model in sorted(card):
        lines += _card_section(model, card[model].get("keras", {}), card[model].get("torch", {}))
    atomic_write_text(CARD, "\n".join(lines))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("name")
    ap.add_argument("--framework", choices=["keras", "torch"], default="keras")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--translate", type=float, default=0.08, help="random translation fraction; 0 for flips only")
    a = ap.parse_args(argv)
    if a.framework == "keras":
        res = train_keras(a.name, epochs=a.epochs, seed=a.seed, batch_size=a.batch_size, translate=a.translate)
    else:
        res = port_torch(a.name)
    print(json.dumps(res, indent=2))
    write_card(a.name, {a.framework: res})


if __name__ == "__main__":
    main()
